"""The in-process IPython shell the zygote's children run cells in, and the cell runner.

Built once in the zygote (``build_shell``, then ``warm``): its display hook
and publisher record nbformat outputs into ``_Sink`` instead of talking to a
frontend; ``CellRunner`` runs one cell at a time under the cell timeout, with
the streams and the alarm handler put back before every cell.  Used by
``kit.execution.zygote`` (the executor's children) and ``kit.sandbox.judge`` (the sandbox's
boxes).
"""

from __future__ import annotations

import base64
import io
import resource
import signal
import sys
import traceback as tb_mod
from collections.abc import Iterable
from typing import Any

_STREAM_CAP = 10_000_000  # characters kept per stream per cell; protects the parent's memory

_shell: Any = None  # the pre-built shell, in the zygote and its children


def shell() -> Any:
    """The shell built by ``build_shell`` (in the zygote and the children it forks)."""
    return _shell


class CellTimeoutError(Exception):
    """Raised inside a cell that ran longer than ``cell_timeout``."""


def warm_shell() -> None:
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


def warm_renderers() -> None:
    """Render one DataFrame and one figure so their lazy imports happen once, here."""

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

    outputs: list[dict[str, Any]] = []
    clear_pending = False
    last_error: dict[str, Any] | None = None
    displays: dict[str, list[dict[str, Any]]] = {}  # display_id -> outputs showing it


def _add_output(out: dict[str, Any]) -> None:
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

    def writelines(self, lines: Iterable[str]) -> None:
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


def _finish_outputs(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = []
    for out in outputs:
        if out.get("output_type") == "stream":
            text = "".join(out["_chunks"])
            if text:
                done.append({"output_type": "stream", "name": out["name"], "text": text})
        else:
            done.append(out)
    return done


def _jsonable_bundle(data: dict[str, Any]) -> dict[str, Any]:
    """Mime bundles must be JSON: text as str, JSON types as objects, binary as base64 str."""
    out = {}
    for mime, value in data.items():
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        out[mime] = value
    return out


def build_shell() -> Any:
    """Create the in-process shell with display hooks that record nbformat outputs."""
    global _shell
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class CaseDisplayPublisher(DisplayPublisher):
        def publish(
            self,
            data: dict[str, Any],
            metadata: dict[str, Any] | None = None,
            source: Any = None,
            *,
            transient: dict[str, Any] | None = None,
            update: bool = False,
            **kw: Any,
        ) -> None:
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

        def clear_output(self, wait: bool = False) -> None:
            if wait:
                _Sink.clear_pending = True
            else:
                _Sink.outputs.clear()
                _Sink.clear_pending = False

    class CaseDisplayHook(DisplayHook):
        def write_output_prompt(self) -> None:
            pass

        def write_format_data(
            self, format_dict: dict[str, Any], md_dict: dict[str, Any] | None = None
        ) -> None:
            _add_output(
                {
                    "output_type": "execute_result",
                    "execution_count": self.prompt_count,
                    "data": _jsonable_bundle(format_dict),
                    "metadata": md_dict or {},
                }
            )

        def finish_displayhook(self) -> None:
            pass

    class CaseShell(InteractiveShell):
        def enable_gui(self, gui: Any = None) -> None:
            pass  # no event loop to integrate: the inline backend needs none

        def _showtraceback(self, etype: Any, evalue: Any, stb: list[str]) -> None:
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
    CaseShell.display_pub_class = CaseDisplayPublisher  # type: ignore[assignment]
    CaseShell.displayhook_class = CaseDisplayHook  # type: ignore[assignment]
    _shell = CaseShell.instance(config=cfg)
    _shell.enable_matplotlib("inline")
    return _shell


class _RecordingComm:
    """Factory for comms that keep widget state (there is no frontend to send it to).

    Widgets created without a kernel get comm's DummyComm, which drops every
    message; this one records ``comm_open`` / ``update`` so the executed
    notebook can carry ``metadata.widgets`` like nbclient writes it.
    """

    state: dict[str, dict[str, Any]] = {}

    @classmethod
    def install(cls) -> None:
        import comm
        from comm import DummyComm

        class RecordingComm(DummyComm):
            def publish_msg(
                self,
                msg_type: str,
                data: dict[str, Any] | None = None,
                metadata: Any = None,
                buffers: Any = None,
                **keys: Any,
            ) -> None:
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


def limit_memory(memory_mb: float) -> None:
    """Bound the address space this process may add to the warm image (``RLIMIT_AS``).

    The bound is on what the notebook adds, so that it does not depend on how
    big numpy/pandas/matplotlib happen to map themselves.
    """

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
    ) -> tuple[dict[str, Any], BaseException | None]:
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


def _record_exception(exc: BaseException) -> None:
    _Sink.last_error = {
        "output_type": "error",
        "ename": type(exc).__name__,
        "evalue": str(exc),
        "traceback": tb_mod.format_exception(exc),
    }
    _Sink.outputs.append(_Sink.last_error)
