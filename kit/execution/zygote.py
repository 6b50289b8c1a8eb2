"""The warm zygote: one process that has paid for the imports, and the children it forks.

``kit.execution.executor`` (build, instructor code) and ``kit.sandbox.judge`` (grading, trainee
code inside ``kit.sandbox.boxes``) both run notebooks in children forked from a
zygote that has already imported IPython, pandas, numpy, matplotlib (inline
backend), ipywidgets and nbformat, rendered one DataFrame and one figure, and
built an in-process IPython ``InteractiveShell``.  This module is what runs
*inside* that process and its children; the parent-side handles live in
``kit.execution.executor`` (unsandboxed) and ``kit.sandbox.boxes`` (inside bubblewrap).

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
with ``kit.sandbox.safepickle`` instead).

A job is a dict whose ``engine`` names its handler: ``fork`` (cells in the
in-process shell), ``kernel`` (papermill + nbclient), or one registered in
``HANDLERS`` as ``"module:function"`` (imported in the zygote when preloaded).
"""

from __future__ import annotations

import gc
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
from collections.abc import Callable
from typing import Any

import nbformat

from kit.execution import shell as _sh
from kit.execution.shell import CellRunner, CellTimeoutError, _RecordingComm, limit_memory

__all__ = ["CellRunner", "CellTimeoutError", "limit_memory", "main", "serve", "spawn"]

MAX_FRAME = 1 << 31  # a length prefix above this is a corrupt stream


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

    ``loads`` decodes the body: ``kit.sandbox.safepickle.loads`` for frames written by
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

ZYGOTE_MAIN = (
    "from kit.execution.zygote import main; main()"  # what ``python -c`` runs to start one
)


class ZygoteFailed(RuntimeError):
    """The zygote process did not report ready (its first line, or nothing, in the message)."""


def spawn(
    cmd: list[str],
    *,
    env: dict[str, str],
    cwd: str | None = None,
    pass_fds: tuple[int, ...] = (),
    stderr: Any = None,
    cgroup_procs: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a zygote (``cmd`` ends up in ``main``) and wait until it says ``ready``.

    Its stdin is a pipe the parent keeps: EOF on it tells the zygote its parent
    is gone.  With ``cgroup_procs`` (a cgroup's ``cgroup.procs``) the process
    joins that cgroup before it runs ``cmd``, so all it starts is inside.
    Raises ``ZygoteFailed`` when it dies or says anything else.
    """

    def join() -> None:
        assert cgroup_procs is not None
        with open(cgroup_procs, "w") as fh:
            fh.write("0")

    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        cwd=cwd,
        pass_fds=pass_fds,
        close_fds=True,
        preexec_fn=join if cgroup_procs else None,
    )
    assert proc.stdout is not None
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


def main(argv: list[str] | None = None, box: Callable[[], int] | None = None) -> None:
    """Entry point of the zygote process: warm up, then fork one child per connection.

    ``argv`` is ``[PATH]`` (bind a Unix socket there) or ``["--fd", N]`` (listen
    on an inherited, already bound socket: the sandboxed zygote cannot see the
    parent's files), optionally followed by ``--control M`` (an inherited
    socket on which the parent asks about the children, see ``serve``) and
    ``--box`` (each child is made by ``box``, which the sandbox passes: it
    starts in its own namespaces, see ``kit.sandbox.boxes.zygote_main``).
    """
    argv = sys.argv[1:] if argv is None else argv
    for name in _PRELOAD:
        importlib.import_module(name)
    # The grader's zygote runs no papermill and no live workbook: not loading them
    # takes about a tenth off every grading run's start (kit.sandbox.boxes sets the mode).
    optional = ["kit.questions"] if os.environ.get("CASEKIT_MODE") == "grade" else _OPTIONAL_PRELOAD
    for name in optional + [
        m for m in os.environ.get("CASEKIT_PRELOAD", "").split(",") if m.strip()
    ]:
        try:
            importlib.import_module(name.strip())
        except Exception:
            pass
    _sh.build_shell()
    try:
        _sh.warm_renderers()
        _sh.warm_shell()
    except Exception:  # noqa: BLE001 - warming up is an optimisation, never a reason to stop
        pass

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
    control = None
    if "--control" in argv:
        control = socket.socket(fileno=int(argv[argv.index("--control") + 1]))
    serve(
        listener,
        spawn=box if box and "--box" in argv else os.fork,
        parent_fd=sys.stdin.fileno(),
        control=control,
    )


def serve(
    listener: socket.socket,
    *,
    spawn: Callable[[], int] = os.fork,
    parent_fd: int | None = None,
    close_in_child: tuple[int, ...] = (),
    control: socket.socket | None = None,
) -> None:
    """Fork one child per connection with ``spawn`` (the sandbox's clones a box); never returns.

    This process is also each child's keeper: when the peer of a child's
    connection goes away (POLLRDHUP), the child's process group (a box: its
    PID 1, and with it its whole PID namespace) is killed; when ``parent_fd``
    reaches EOF, every child is killed and this process exits.

    On ``control`` the parent asks which children it still holds (``KEPT``):
    the answer carries a pidfd per child whose connection is open, counted
    after this round's hang-ups and exits, so a child on its way out is never
    among them (pids in a PID namespace mean nothing outside it; a pidfd
    names the process itself).
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
    if control is not None:
        poller.register(control.fileno(), select.POLLIN)
    asked = False
    conns: dict[int, socket.socket] = {}  # child pid -> its connection
    watched: dict[int, int] = {}  # connection fd -> child pid, while the peer is there
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
            elif control is not None and fd == control.fileno():
                asked = True
        _reap(conns, watched, poller)
        if asked and control is not None:
            asked = False
            if not _answer_control(control, list(watched.values())):
                poller.unregister(control.fileno())
                control = None
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
                if control is not None:
                    control.close()
                signal.set_wakeup_fd(-1)
                os.dup2(devnull, 0)
                _child_main(conn)  # never returns
            conns[pid] = conn
            watched[conn.fileno()] = pid
            poller.register(conn.fileno(), rdhup)


KEPT = b"kept"  # the parent's question on the control socket


def _answer_control(control: socket.socket, pids: list[int]) -> bool:
    """Answer one ``KEPT`` request with a pidfd per child in ``pids``; False once the parent is gone."""
    try:
        request = control.recv(64)
    except OSError:
        return False
    if not request:
        return False
    fds = []
    for pid in pids:
        try:
            fds.append(os.pidfd_open(pid))
        except OSError:
            pass  # already gone: not kept
    try:
        socket.send_fds(control, [struct.pack("!I", len(fds))], fds)
    except OSError:
        return False
    finally:
        for fd in fds:
            os.close(fd)
    return True


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


# --------------------------------------------------------------------------- the child


# Job engines and where their handler lives; a handler gets (conn, job) and
# must not return normally without having sent its final frame.
HANDLERS: dict[str, str] = {
    "fork": "kit.execution.zygote:_child_run_fork",
    "kernel": "kit.execution.zygote:_child_run_kernel",
    "trainee": "kit.sandbox.judge:trainee_main",
    "judge": "kit.sandbox.judge:judge_main",
    "template": "kit.sandbox.judge:template_main",
    "probe": "kit.sandbox.boxes:probe_main",
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


def _apply_job_env(job: dict[str, Any]) -> None:
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


def _child_run_fork(conn: socket.socket, job: dict[str, Any]) -> None:
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


def _child_run_kernel(conn: socket.socket, job: dict[str, Any]) -> None:
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
