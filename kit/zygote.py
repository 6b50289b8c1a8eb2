"""The warm zygote: one process that has paid for the imports, and the children it forks.

``kit.execute`` (build, instructor code) and ``kit.judge`` (grading, trainee
code inside ``kit.sandbox``) both run notebooks in children forked from a
zygote that has already imported IPython, pandas, numpy, matplotlib (inline
backend), ipywidgets and nbformat, rendered one DataFrame and one figure, and
built an in-process IPython ``InteractiveShell``.  This module is what runs
*inside* that process and its children; the parent-side handles live in
``kit.execute`` (unsandboxed) and ``kit.sandbox`` (inside bubblewrap).

Protocol.  The zygote listens on a Unix socket (a path, or an inherited
listening fd when it runs inside the sandbox and cannot see the parent's
files).  For each job the parent connects; the zygote accepts and forks at
once, without reading anything, so a child never inherits another job's data;
the child reads its job from the connection and writes frames back (``hello``
pid, then what its handler sends).  When the child exits, the zygote (its
parent) reaps it and writes a final ``exit`` frame with the wait status on the
same connection, so the parent learns how a child died even though it is not
the child's parent.  Frames are a 4-byte length + pickle (the zygote and the
parent trust each other; frames from a box that ran trainee code are read
with ``kit.safepickle`` instead).

A job is a dict whose ``engine`` names its handler: ``fork`` (cells in the
in-process shell), ``kernel`` (papermill + nbclient), or one registered in
``HANDLERS`` as ``"module:function"`` (imported in the zygote when preloaded).
"""

from __future__ import annotations

import importlib
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback as tb_mod
from typing import Any

import nbformat

_STREAM_CAP = 10_000_000  # characters kept per stream per cell; protects the parent's memory
MAX_FRAME = 1 << 31  # a length prefix above this is a corrupt stream


class CellTimeoutError(Exception):
    """Raised inside a cell that ran longer than ``cell_timeout``."""


# --------------------------------------------------------------------------- framing


def send_frame(sock: socket.socket, obj: Any) -> None:
    """Write one frame: 4-byte big-endian length, then the pickle of ``obj``."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(struct.pack("!I", len(data)) + data)


def recv_exact(sock: socket.socket, n: int) -> bytes | None:
    """Exactly ``n`` bytes, or None on EOF."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket, loads: Any = pickle.loads, limit: int = MAX_FRAME) -> Any:
    """One frame, or None on EOF.  Raises ``socket.timeout`` per the socket's timeout.

    ``loads`` decodes the body: ``kit.safepickle.loads`` for frames written by
    a process that ran trainee code.  A body longer than ``limit`` raises
    ``FrameTooLarge`` before it is read.
    """
    head = recv_exact(sock, 4)
    if head is None:
        return None
    size = struct.unpack("!I", head)[0]
    if size > limit:
        raise FrameTooLarge(size, limit)
    body = recv_exact(sock, size)
    if body is None:
        return None
    return loads(body)


class FrameTooLarge(Exception):
    """A peer announced a frame above the reader's limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a frame of {size} bytes exceeds the limit of {limit} bytes")
        self.size, self.limit = size, limit


_SIGNAL_HINTS = {
    "SIGKILL": " (out of memory?)",
    "SIGXCPU": " (CPU time limit)",
    "SIGXFSZ": " (file size limit)",
    "SIGSEGV": " (crashed)",
}


def describe_status(status: Any) -> str:
    """A child's wait status in words: "killed by SIGKILL (out of memory?)", "exited with code 3"."""
    if type(status) is not int:
        return "unknown status"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by {name}{_SIGNAL_HINTS.get(name, '')}"
    return f"exited with code {os.WEXITSTATUS(status)}"


# --------------------------------------------------------------------------- zygote (its own process)

ZYGOTE_MAIN = "from kit.zygote import main; main()"  # what ``python -c`` runs to start one


class ZygoteFailed(RuntimeError):
    """The zygote process did not report ready (its first line, or nothing, in the message)."""


def spawn(
    cmd: list[str],
    *,
    env: dict[str, str],
    cwd: str | None = None,
    pass_fds: tuple[int, ...] = (),
    stderr: Any = None,
) -> subprocess.Popen:
    """Start a zygote (``cmd`` ends up in ``main``) and wait until it says ``ready``.

    Its stdin is a pipe the parent keeps: EOF on it tells the zygote its parent
    is gone.  Raises ``ZygoteFailed`` when it dies or says anything else.
    """
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        cwd=cwd,
        pass_fds=pass_fds,
        close_fds=True,
    )
    ready = proc.stdout.readline()
    if not ready.startswith(b"ready"):
        proc.kill()
        proc.wait()
        raise ZygoteFailed(repr(ready))
    return proc


_PRELOAD = [
    "IPython",
    "IPython.core.interactiveshell",
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "matplotlib_inline.backend_inline",
    "ipywidgets",
    "nbformat",
    "comm",
]
# Imported when present; a module under development that fails to import must not
# stop the executor (the notebook that needs it will show the error itself).
_OPTIONAL_PRELOAD = ["kit.questions", "kit.workbook", "papermill", "papermill.engines", "nbclient"]

_shell = None  # the pre-built shell, in the zygote and its children


def main(argv: list[str] | None = None) -> None:
    """Entry point of the zygote process: warm up, then fork one child per connection.

    ``argv`` is ``[PATH]`` (bind a Unix socket there) or ``["--fd", N]`` (listen
    on an inherited, already bound socket: the sandboxed zygote cannot see the
    parent's files), optionally followed by ``--box`` (each child starts in
    its own namespaces, see ``kit.sandbox``).
    """
    argv = sys.argv[1:] if argv is None else argv
    for name in _PRELOAD:
        importlib.import_module(name)
    for name in _OPTIONAL_PRELOAD + [
        m for m in os.environ.get("CASEKIT_PRELOAD", "").split(",") if m.strip()
    ]:
        try:
            importlib.import_module(name.strip())
        except Exception:
            pass
    _build_shell()
    try:
        _warm_renderers()
        _warm_shell()
    except Exception:  # noqa: BLE001 - warming up is an optimisation, never a reason to stop
        pass
    import gc

    # Move everything imported so far out of the collector's reach: a child's
    # first collection would otherwise touch every object header and copy most
    # of the warm image page by page (copy-on-write).
    gc.collect()
    gc.freeze()

    if argv[0] == "--fd":
        listener = socket.socket(fileno=int(argv[1]))
    else:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(argv[0])
        os.chmod(argv[0], 0o600)
    listener.listen(128)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the parent's terminal is the parent's
    # Tell the parent we are ready, then stop writing to its pipe.
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    serve(listener, namespaces="--box" in argv, parent_fd=sys.stdin.fileno())


def serve(
    listener: socket.socket,
    *,
    namespaces: bool,
    parent_fd: int | None = None,
    close_in_child: tuple[int, ...] = (),
) -> None:
    """Fork (or, with ``namespaces``, clone into new namespaces) one child per connection; never returns.

    This process is also each child's keeper: when the peer of a child's
    connection goes away (POLLRDHUP), the child's process group (a box: its
    PID 1, and with it its whole PID namespace) is killed; when ``parent_fd``
    reaches EOF, every child is killed and this process exits.
    """
    rdhup = 0x2000  # POLLRDHUP
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *a: None)  # only to wake poll()
    devnull = os.open(os.devnull, os.O_RDWR)
    poller = select.poll()
    poller.register(listener.fileno(), select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    if parent_fd is not None:
        poller.register(parent_fd, select.POLLIN)
    conns: dict[int, socket.socket] = {}  # child pid -> its connection
    watched: dict[int, int] = {}  # connection fd -> child pid, while the peer is there
    spawn = os.fork
    if namespaces:
        from kit.sandbox import clone_box

        spawn = clone_box
    while True:
        try:
            events = poller.poll()
        except InterruptedError:
            continue
        for fd, ev in events:
            if fd == parent_fd and not os.read(fd, 1024):
                for pid in conns:  # parent gone: take our children with us
                    _kill(pid)
                os._exit(0)
            elif fd == wake_r:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            elif fd in watched and ev & (rdhup | select.POLLHUP | select.POLLERR):
                poller.unregister(fd)
                _kill(watched.pop(fd))
        _reap(conns, watched, poller)
        if any(fd == listener.fileno() for fd, _ in events):
            conn, _ = listener.accept()
            pid = spawn()
            if pid == 0:
                listener.close()
                for c in conns.values():
                    c.close()
                for extra in (wake_r, wake_w, parent_fd, *close_in_child):
                    if extra is not None:
                        os.close(extra)
                signal.set_wakeup_fd(-1)
                os.dup2(devnull, 0)
                _child_main(conn)  # never returns
            conns[pid] = conn
            watched[conn.fileno()] = pid
            poller.register(conn.fileno(), rdhup)


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _reap(conns: dict[int, socket.socket], watched: dict[int, int], poller: Any) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = conns.pop(pid, None)
        if conn is not None:
            if watched.pop(conn.fileno(), None) is not None:
                poller.unregister(conn.fileno())
            try:
                conn.setblocking(True)
                conn.settimeout(2)
                send_frame(conn, ("exit", status))
            except OSError:
                pass  # parent stopped listening; nothing to tell
            conn.close()


def _warm_shell() -> None:
    """Run one empty cell, so that children do not each pay for the shell's first-cell set-up.

    Measured: the first cell a child runs cost ~7 ms, the second 0.5 ms.  The
    counters and history are put back, so a notebook's first cell is still [1].
    """
    shell = _shell
    names = ("_", "__", "___", "_i", "_ii", "_iii")
    keep = {k: shell.user_ns[k] for k in names if k in shell.user_ns}
    count = shell.execution_count
    runner = CellRunner(0)
    runner.run(-1, "pass")
    # the path of a raw display (what @test records take) and of a cell's error
    runner.run(
        -1, "from IPython.display import display as _d\n_d({'text/plain': ''}, raw=True)\ndel _d"
    )
    runner.run(-1, "raise ValueError('warm')")
    runner.close()
    shell.execution_count = count
    hm = shell.history_manager
    del hm.input_hist_parsed[1:]
    del hm.input_hist_raw[1:]
    hm.output_hist.clear()
    hm.output_hist_reprs.clear()
    for k in [k for k in shell.user_ns if k.startswith("_i") and k[2:].isdigit()]:
        del shell.user_ns[k]
    shell.user_ns.update(keep)
    _Sink.outputs, _Sink.displays, _Sink.last_error = [], {}, None


def _warm_renderers() -> None:
    """Render one DataFrame and one figure so their lazy imports happen once, here."""
    import io

    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    df._repr_html_()
    repr(df)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    ax.set_title("warm")
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
    # What exercises and their tests do most: pandas' first groupby, sort, filter
    # and column assignment each pay for lazy set-up (~10 ms for a first groupby
    # in a fresh child, measured); pay it here, once.
    import numpy as np

    df = pd.DataFrame({"g": ["a", "b", "a"], "v": [1.0, 2.0, 3.0], "n": [1, 2, 3]})
    s = df.groupby("g")["v"].sum().sort_values(ascending=False)
    df.groupby("g")[["v", "n"]].agg(["sum", "mean"])
    df["w"] = df["v"] * 2
    df[(df["g"] == "a") & (df["v"] > 1)].sort_values("v")
    s.reindex(["a", "b"]).to_numpy()
    df.iloc[:, 1].sum()
    pd.concat([df, df]).merge(df, on="g")
    df.pivot_table(index="g", values="v")
    np.allclose(s.values, s.values)
    df.describe()


# --------------------------------------------------------------------------- the in-process shell


class _Sink:
    """Where the current cell's outputs go (set per cell in the child)."""

    outputs: list[dict] = []
    clear_pending = False
    last_error: dict | None = None
    displays: dict[str, list[dict]] = {}  # display_id -> outputs showing it


def _add_output(out: dict) -> None:
    if _Sink.clear_pending:
        _Sink.outputs.clear()
        _Sink.clear_pending = False
    _Sink.outputs.append(out)


class _Stream:
    """sys.stdout / sys.stderr replacement that records ``stream`` outputs in order."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0
        outs = _Sink.outputs
        if (
            outs
            and not _Sink.clear_pending
            and outs[-1].get("output_type") == "stream"
            and outs[-1]["name"] == self.name
        ):
            last = outs[-1]
        else:
            last = {"output_type": "stream", "name": self.name, "_chunks": [], "_size": 0}
            _add_output(last)
        if last["_size"] < _STREAM_CAP:
            last["_chunks"].append(text)
            last["_size"] += len(text)
            if last["_size"] >= _STREAM_CAP:
                last["_chunks"].append("\n[casekit: output truncated]\n")
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        # Libraries asking for a real fd (faulthandler, subprocess) get /dev/null-backed fds.
        return 1 if self.name == "stdout" else 2

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


def _finish_outputs(outputs: list[dict]) -> list[dict]:
    done = []
    for out in outputs:
        if out.get("output_type") == "stream":
            text = "".join(out["_chunks"])
            if text:
                done.append({"output_type": "stream", "name": out["name"], "text": text})
        else:
            done.append(out)
    return done


def _jsonable_bundle(data: dict) -> dict:
    """Mime bundles must be JSON: text as str, JSON types as objects, binary as base64 str."""
    import base64

    out = {}
    for mime, value in data.items():
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        out[mime] = value
    return out


def _build_shell():
    """Create the in-process shell with display hooks that record nbformat outputs."""
    global _shell
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class CaseDisplayPublisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
            display_id = (transient or {}).get("display_id")
            out = {
                "output_type": "display_data",
                "data": _jsonable_bundle(data),
                "metadata": metadata or {},
            }
            if update and display_id:
                # update_display: rewrite every earlier output showing this id.
                for old in _Sink.displays.get(display_id, []):
                    old["data"] = out["data"]
                    old["metadata"] = out["metadata"]
                return
            _add_output(out)
            if display_id:
                _Sink.displays.setdefault(display_id, []).append(out)

        def clear_output(self, wait=False):
            if wait:
                _Sink.clear_pending = True
            else:
                _Sink.outputs.clear()
                _Sink.clear_pending = False

    class CaseDisplayHook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            _add_output(
                {
                    "output_type": "execute_result",
                    "execution_count": self.prompt_count,
                    "data": _jsonable_bundle(format_dict),
                    "metadata": md_dict or {},
                }
            )

        def finish_displayhook(self):
            pass

    class CaseShell(InteractiveShell):
        def enable_gui(self, gui=None):
            pass  # no event loop to integrate: the inline backend needs none

        def _showtraceback(self, etype, evalue, stb):
            _Sink.last_error = {
                "output_type": "error",
                "ename": getattr(etype, "__name__", str(etype)),
                "evalue": str(evalue),
                "traceback": list(stb),
            }
            _add_output(_Sink.last_error)

    cfg = Config()
    cfg.HistoryManager.enabled = False  # no sqlite history thread in a process we fork
    cfg.InteractiveShell.colors = (
        "linux"  # what ipykernel tracebacks look like; stripped in CellError
    )
    cfg.InteractiveShell.xmode = "Context"
    CaseShell.display_pub_class = CaseDisplayPublisher
    CaseShell.displayhook_class = CaseDisplayHook
    _shell = CaseShell.instance(config=cfg)
    _shell.enable_matplotlib("inline")
    return _shell


class _RecordingComm:
    """Factory for comms that keep widget state (there is no frontend to send it to).

    Widgets created without a kernel get comm's DummyComm, which drops every
    message; this one records ``comm_open`` / ``update`` so the executed
    notebook can carry ``metadata.widgets`` like nbclient writes it.
    """

    state: dict[str, dict] = {}

    @classmethod
    def install(cls) -> None:
        import comm
        from comm import DummyComm

        class RecordingComm(DummyComm):
            def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
                data = data or {}
                if msg_type == "comm_open" and "state" in data:
                    st = dict(data["state"])
                    cls.state[self.comm_id] = {
                        "model_name": st.get("_model_name", ""),
                        "model_module": st.get("_model_module", ""),
                        "model_module_version": st.get("_model_module_version", ""),
                        "state": st,
                    }
                elif msg_type == "comm_msg" and data.get("method") == "update":
                    if self.comm_id in cls.state:
                        cls.state[self.comm_id]["state"].update(data.get("state", {}))
                elif msg_type == "comm_close":
                    cls.state.pop(self.comm_id, None)

        comm.create_comm = lambda *a, **kw: RecordingComm(*a, **kw)


# --------------------------------------------------------------------------- the child


# Job engines and where their handler lives; a handler gets (conn, job) and
# must not return normally without having sent its final frame.
HANDLERS: dict[str, str] = {
    "fork": "kit.zygote:_child_run_fork",
    "kernel": "kit.zygote:_child_run_kernel",
    "trainee": "kit.judge:trainee_main",
    "judge": "kit.judge:judge_main",
    "template": "kit.judge:template_main",
    "probe": "kit.sandbox:probe_main",
}


def _child_main(conn: socket.socket) -> None:
    """Run one job in this freshly forked child; exits the process."""
    code = 0
    try:
        os.setpgid(0, 0)  # own process group: the parent kills it (and any grandchildren) at once
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        conn.setblocking(True)
        send_frame(conn, ("hello", os.getpid()))
        job = recv_frame(conn)
        if job is None:
            os._exit(0)
        module, _, func = HANDLERS[job["engine"]].partition(":")
        getattr(importlib.import_module(module), func)(conn, job)
    except BaseException:
        code = 70
        try:
            send_frame(conn, ("crash", tb_mod.format_exc()))
        except BaseException:
            pass
    finally:
        try:
            conn.close()
        finally:
            os._exit(code)


def _apply_job_env(job: dict) -> None:
    os.environ.clear()
    os.environ.update(job["environ"])
    os.environ.update(job["env"] or {})
    os.environ["CASEKIT_MODE"] = job["mode"]
    os.chdir(job["cwd"])
    if job["cwd"] not in sys.path:
        # Like a kernel started in cwd: local modules next to the notebook import.
        sys.path.insert(0, job["cwd"])
    if job["memory_mb"]:
        limit_memory(job["memory_mb"])


def limit_memory(memory_mb: float) -> None:
    """Bound the address space this process may add to the warm image (``RLIMIT_AS``).

    The bound is on what the notebook adds, so that it does not depend on how
    big numpy/pandas/matplotlib happen to map themselves.
    """
    import resource

    base = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                base = int(line.split()[1]) * 1024
    limit = base + int(memory_mb * 1024 * 1024)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class CellRunner:
    """Runs cell sources one by one in the warm shell, each under the cell timeout.

    Outputs of each cell land in ``_Sink`` (kept with ``keep_outputs``, else
    dropped cell by cell).  The shell's ``run_cell`` is called through its
    class, the streams and the alarm handler are put back before every cell,
    so a cell that patches them cannot change how later cells are run.
    """

    def __init__(self, cell_timeout: float, *, keep_outputs: bool = True) -> None:
        self.shell = _shell
        self.cell_timeout = cell_timeout
        self.keep_outputs = keep_outputs
        self.out_stream = _Stream("stdout")
        self.err_stream = _Stream("stderr")
        self.index = -1
        self.fired = False
        sys.stdout, sys.stderr = self.out_stream, self.err_stream

    def _on_alarm(self, signum: int, frame: Any) -> None:
        __tracebackhide__ = True  # IPython leaves this frame out of the cell's traceback
        # Fire again every second: a cell that swallows the first exception
        # (bare except in a loop) still gets stopped.
        self.fired = True
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        raise CellTimeoutError(
            f"cell {self.index} exceeded the cell timeout of {self.cell_timeout:g} s"
        )

    def run(
        self, index: int, source: str, *, plain: bool = False
    ) -> tuple[dict, BaseException | None]:
        """Run one cell; return its ``{"outputs", "execution_count", "error"}`` and the exception.

        ``plain``: a cell that is plain Python (it compiles) is executed directly in
        the shell's namespace, with its builtins, but without the rest of
        ``run_cell`` (transformers, history, display hook, events): for trusted
        cells whose last value nobody shows; measured ~4 ms less for the first
        cell of a freshly forked child, mostly copy-on-write faults.
        """
        shell = self.shell
        signal.signal(signal.SIGALRM, self._on_alarm)
        sys.stdout, sys.stderr = self.out_stream, self.err_stream
        _Sink.outputs = []
        _Sink.displays = {} if not self.keep_outputs else _Sink.displays
        _Sink.clear_pending = False
        _Sink.last_error = None
        self.index = index
        self.fired = False
        count = shell.execution_count
        result = None
        exc: BaseException | None = None
        try:
            if self.cell_timeout:
                signal.setitimer(signal.ITIMER_REAL, float(self.cell_timeout))
            code = _plain_code(source, index) if plain else None
            if code is not None:
                exc = _exec_plain(shell, code)
            else:
                result = type(shell).run_cell(shell, source, store_history=True)
        except CellTimeoutError as e:  # fired outside user code, in IPython's machinery
            exc = e
            _record_exception(e)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = self.out_stream, self.err_stream
        if result is not None:
            exc = result.error_in_exec or result.error_before_exec
        if exc is not None and _Sink.last_error is None:
            # The cell hid the traceback (patched showtraceback): record it anyway.
            _record_exception(exc)
        if self.fired and (
            _Sink.last_error is None or _Sink.last_error["ename"] != "CellTimeoutError"
        ):
            # The timeout fired but the cell swallowed it: still a timeout.
            exc = CellTimeoutError(
                f"cell {index} exceeded the cell timeout of {self.cell_timeout:g} s"
            )
            _record_exception(exc)
        out = {
            "outputs": _finish_outputs(_Sink.outputs) if self.keep_outputs else [],
            "execution_count": count,
            "error": _Sink.last_error,
        }
        if not self.keep_outputs:
            _Sink.outputs = []
        return out, exc

    def close(self) -> None:
        """Give the process its real streams back."""
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__


def _plain_code(source: str, index: int) -> Any:
    try:
        return compile(source, f"<cell {index}>", "exec")
    except (SyntaxError, ValueError):
        return None  # magics, shell escapes, top-level await: IPython's business


def _exec_plain(shell: Any, code: Any) -> BaseException | None:
    with shell.builtin_trap:
        try:
            exec(code, shell.user_ns)
        except BaseException as e:  # noqa: BLE001 - the cell's exception is its result
            return e
    return None


def _child_run_fork(conn: socket.socket, job: dict) -> None:
    _apply_job_env(job)
    _RecordingComm.install()
    runner = CellRunner(job["cell_timeout"])
    for index, cell in enumerate(job["nb"]["cells"]):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        tags = cell.get("metadata", {}).get("tags", [])
        if not source.strip() or "skip-execution" in tags:
            continue
        send_frame(conn, ("start", index, time.time()))
        out, _ = runner.run(index, source)
        err = out.pop("error")
        errored = err is not None
        send_frame(conn, ("cell", index, out, errored, time.time()))
        if errored:
            clean_exit = err["ename"] == "SystemExit" and err["evalue"] in ("", "0", "None")
            if clean_exit:
                break
            if "raises-exception" in tags:
                continue
            if job["stop_on_error"]:
                break
    runner.close()
    widgets = None
    if _RecordingComm.state:
        widgets = {
            "application/vnd.jupyter.widget-state+json": {
                "version_major": 2,
                "version_minor": 0,
                "state": _RecordingComm.state,
            }
        }
    send_frame(conn, ("done", {"widgets": widgets}))


def _record_exception(exc: BaseException) -> None:
    _Sink.last_error = {
        "output_type": "error",
        "ename": type(exc).__name__,
        "evalue": str(exc),
        "traceback": tb_mod.format_exception(exc),
    }
    _Sink.outputs.append(_Sink.last_error)


def _child_run_kernel(conn: socket.socket, job: dict) -> None:
    """engine="kernel": plain papermill + nbclient + ipykernel, inside this child."""
    _apply_job_env(job)
    from nbclient.exceptions import CellTimeoutError as NbTimeout
    from papermill.engines import NBClientEngine

    nb = nbformat.from_dict(job["nb"])
    kernel_name = nb.metadata.get("kernelspec", {}).get("name") or "python3"
    failure = None
    try:
        nb = NBClientEngine.execute_notebook(
            nb,
            kernel_name,
            output_path=None,
            progress_bar=False,
            execution_timeout=job["cell_timeout"] or None,
            allow_errors=not job["stop_on_error"],
        )
    except NbTimeout as exc:
        failure = f"cell timeout: {exc}"
    except Exception as exc:
        failure = f"kernel engine: {type(exc).__name__}: {exc}"
    send_frame(conn, ("whole", nb, failure))
