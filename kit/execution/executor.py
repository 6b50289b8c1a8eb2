"""The executor: run notebooks with parameters, fast and isolated.

Kernel start-up dominates the cost of a small notebook (papermill: ~1.6 s per
notebook, the cells themselves: ~0.02 s).  casekit therefore keeps one warm
*zygote* process per parent: it has already imported IPython, pandas, numpy,
matplotlib (inline backend), ipywidgets and nbformat, rendered one DataFrame
and one figure, and built an in-process IPython ``InteractiveShell``.  Every
notebook runs in a fresh child ``fork()``-ed from the zygote, so

* start-up is a fork (milliseconds), not a kernel launch;
* nothing leaks between notebooks: each child starts from the same pristine
  image and exits after one notebook;
* limits are per child: ``setitimer`` for the cell timeout, ``RLIMIT_AS`` for
  memory, and the parent kills the child's process group on the notebook
  timeout.  A child that dies is reported with its cause.

Why our own zygote rather than ``multiprocessing``'s forkserver: the
forkserver can only pre-*import* modules; it cannot pre-build the shell or
pre-render a figure, it re-imports the caller's ``__main__`` in every child,
and it is a process-wide singleton shared with any other library using it.
The zygote protocol is small (below) and measured in ``bench/bench_execute.py``.

The zygote itself (warm-up, the fork loop, the in-process shell, what a
child does with a job, the frame format) lives in ``kit.execution.zygote``; this module
is the parent side: it starts the zygote, sends jobs and turns frames into an
executed notebook.

The module also offers ``engine="kernel"`` (plain papermill + nbclient with a
real ipykernel, run inside a forked child so the same limits apply) and a
papermill engine, ``CasekitEngine``, registered as ``casekit``.
"""

from __future__ import annotations

import atexit
import copy
import functools
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from kit.execution.zygote import ZYGOTE_MAIN, CellTimeoutError, ZygoteFailed, describe_status, spawn
from kit.execution.zygote import recv_frame as _recv
from kit.execution.zygote import send_frame as _send

__all__ = [
    "CasekitEngine",  # noqa: F822 - built on first access (see _make_engine)
    "CellError",
    "CellTimeoutError",
    "Executed",
    "Job",
    "run_many",
    "run_notebook",
    "shutdown",
]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_LANGUAGE_INFO = {
    "name": "python",
    "version": "{}.{}.{}".format(*sys.version_info[:3]),
    "mimetype": "text/x-python",
    "codemirror_mode": {"name": "ipython", "version": 3},
    "pygments_lexer": "ipython3",
    "nbconvert_exporter": "python",
    "file_extension": ".py",
}


# --------------------------------------------------------------------------- results


@dataclass
class CellError:
    """The first (or one) cell that raised: where and what, traceback in plain text."""

    cell_index: int
    ename: str
    evalue: str
    traceback: str
    execution_count: int | None = None


@dataclass
class Executed:
    """Result of one notebook run.

    ``nb`` is the (possibly partially) executed notebook.  ``error`` is the first
    cell error; ``errors`` all of them (several only with ``stop_on_error=False``).
    ``failure`` says why the run itself failed (child died, notebook timeout,
    memory, executor trouble); when the child dies mid-cell, ``error`` also
    points at that cell.
    """

    nb: NotebookNode
    error: CellError | None
    seconds: float
    failure: str | None = None
    errors: list[CellError] = field(default_factory=list)
    name: str = ""

    @property
    def ok(self) -> bool:
        """True when no cell raised and the run did not fail."""
        return self.error is None and self.failure is None


@dataclass
class Job:
    """One notebook to run in a batch: the ``run_notebook`` arguments plus a name."""

    name: str
    nb: NotebookNode | str | Path
    parameters: dict | None = None
    cwd: Path | str | None = None
    cell_timeout: float = 60
    notebook_timeout: float = 600
    memory_mb: int | None = 2048
    env: dict | None = None
    mode: str = "build"
    stop_on_error: bool = True
    engine: str = "fork"

    def kwargs(self) -> dict:
        """The keyword arguments for ``run_notebook`` (everything but name and nb)."""
        return {
            "cwd": self.cwd,
            "cell_timeout": self.cell_timeout,
            "notebook_timeout": self.notebook_timeout,
            "memory_mb": self.memory_mb,
            "env": self.env,
            "mode": self.mode,
            "stop_on_error": self.stop_on_error,
            "engine": self.engine,
        }


# --------------------------------------------------------------------------- zygote (parent side)


class _Zygote:
    """Handle on the warm zygote process (one per parent process, started lazily)."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.dir = tempfile.mkdtemp(prefix="casekit-zygote-")
        self.path = os.path.join(self.dir, "z.sock")
        env = dict(os.environ)
        # The zygote must import kit exactly as the parent does.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        # One BLAS/OpenMP thread: threads do not survive fork(), and parallelism
        # comes from running several children at once.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
        env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        try:
            self.proc = spawn([sys.executable, "-c", ZYGOTE_MAIN, self.path], env=env)
        except ZygoteFailed as e:
            raise RuntimeError(f"casekit executor zygote failed to start: {e}") from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path)
        return s

    def close(self) -> None:
        if os.getpid() != self.owner:
            return  # a forked copy of the parent: the zygote belongs to the original
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass


_zygote: _Zygote | None = None
_zygote_lock = threading.Lock()


def _get_zygote(restart: bool = False) -> _Zygote:
    global _zygote
    with _zygote_lock:
        if _zygote is not None and _zygote.owner != os.getpid():
            _zygote = None  # inherited through fork(); start our own
        if _zygote is not None and (restart or not _zygote.alive()):
            _zygote.close()
            _zygote = None
        if _zygote is None:
            _zygote = _Zygote()
        return _zygote


def shutdown() -> None:
    """Stop the warm zygote (it is restarted on the next run; also called at exit)."""
    global _zygote
    with _zygote_lock:
        if _zygote is not None:
            _zygote.close()
            _zygote = None


def warm_up() -> None:
    """Start the zygote now, so the first notebook does not pay for it."""
    _get_zygote()


atexit.register(shutdown)


# --------------------------------------------------------------------------- parent side


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _load(nb: NotebookNode | str | Path) -> NotebookNode:
    if isinstance(nb, str | Path):
        return nbformat.read(str(nb), as_version=4)
    return copy.deepcopy(nb)


@functools.cache
def _readable_python_parameters() -> None:
    """Make papermill write Chinese parameter strings as they are, not as \\u escapes.

    papermill's Python translator escapes every non-ASCII character, so the
    injected cell of a Chinese course reads "\\u5e74…" in every edition and
    handout. ``repr`` gives an equally valid literal that a person can read.
    """
    from papermill.translators import PythonTranslator, papermill_translators

    class ReadablePythonTranslator(PythonTranslator):
        @classmethod
        def translate_escaped_str(cls, str_val):
            return (
                repr(str_val)
                if isinstance(str_val, str)
                else super().translate_escaped_str(str_val)
            )

    papermill_translators.register("python", ReadablePythonTranslator)


def _prepare(nb: NotebookNode, parameters: dict | None) -> NotebookNode:
    """Inject parameters the papermill way and lay out papermill's metadata."""
    nb = nbformat.v4.upgrade(nb) or nb
    if "papermill" not in nb.metadata:
        try:
            from papermill import __version__ as pm_version
        except Exception:  # pragma: no cover
            pm_version = None
        nb.metadata["papermill"] = {
            "default_parameters": {},
            "parameters": {},
            "environment_variables": {},
            "version": pm_version,
        }
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])  # papermill's tag lookup expects the key
    if parameters:
        from papermill.parameterize import parameterize_notebook

        _readable_python_parameters()
        kernel_name = nb.metadata.get("kernelspec", {}).get("name") or "python3"
        language = nb.metadata.get("kernelspec", {}).get("language") or "python"
        nb = parameterize_notebook(nb, parameters, kernel_name=kernel_name, language=language)
    for cell in nb.cells:
        cell.metadata["papermill"] = {
            "exception": None,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "status": "pending",
        }
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def _plain_traceback(tb: list[str] | str) -> str:
    text = "\n".join(tb) if isinstance(tb, list) else tb
    return _ANSI.sub("", text)


def _errors_of(nb: NotebookNode) -> list[CellError]:
    errors = []
    for index, cell in enumerate(nb.cells):
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue  # the author expects this cell to raise
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if out.ename == "SystemExit" and out.evalue in ("", "0", "None"):
                continue
            errors.append(
                CellError(
                    cell_index=index,
                    ename=out.ename,
                    evalue=out.evalue,
                    traceback=_plain_traceback(out.traceback),
                    execution_count=cell.get("execution_count"),
                )
            )
            break
    return errors


def run_notebook(
    nb: NotebookNode | str | Path,
    parameters: dict | None = None,
    *,
    cwd: Path | str | None = None,
    cell_timeout: float = 60,
    notebook_timeout: float = 600,
    memory_mb: int | None = 2048,
    env: dict | None = None,
    mode: str = "build",
    stop_on_error: bool = True,
    engine: str = "fork",
    on_cell: Callable[[str, int, NotebookNode], None] | None = None,
    _prepared: bool = False,
) -> Executed:
    """Run a notebook with papermill-style parameters in an isolated, limited child.

    ``nb`` is a notebook (not modified) or a path.  ``parameters`` are injected
    after the cell tagged ``parameters`` (papermill's ``injected-parameters``
    cell).  The child runs in ``cwd`` (default: the current directory) with
    ``CASEKIT_MODE=mode`` and ``env`` added to the environment.  A cell that runs
    longer than ``cell_timeout`` seconds gets a ``CellTimeoutError``; the whole
    run is killed after ``notebook_timeout``; ``memory_mb`` bounds the address
    space the notebook may add (``None``: unbounded).  Execution stops at the
    first cell that raises unless that cell is tagged ``raises-exception`` or
    ``stop_on_error`` is False.  ``engine="kernel"`` runs through papermill +
    nbclient with a real ipykernel instead of the in-process shell.

    ``on_cell(event, index, cell)`` is called in the parent with
    ``"start"`` / ``"complete"`` / ``"error"`` as cells run (used by the
    papermill engine).  Never raises for notebook problems: see ``Executed``.
    """
    if engine not in ("fork", "kernel"):
        raise ValueError(f"unknown engine {engine!r}; use 'fork' or 'kernel'")
    if mode not in ("build", "grade"):
        raise ValueError(f"mode must be 'build' or 'grade', not {mode!r}")
    t0 = time.monotonic()
    if not isinstance(nb, NotebookNode) or not _prepared:
        nb = _prepare(_load(nb), parameters)
    nb.metadata.papermill["start_time"] = _now_iso()
    nb.metadata.papermill["exception"] = None
    job = {
        "nb": nb if engine == "kernel" else _code_only(nb),
        "cwd": str(Path(cwd).resolve()) if cwd is not None else os.getcwd(),
        "cell_timeout": cell_timeout,
        "memory_mb": memory_mb,
        "env": {str(k): str(v) for k, v in (env or {}).items()},
        "environ": dict(os.environ),
        "mode": mode,
        "stop_on_error": stop_on_error,
        "engine": engine,
    }
    failure = None
    running = None  # index of the cell the child was in
    try:
        failure, running = _drive(job, nb, notebook_timeout, on_cell)
    except Exception as exc:  # executor trouble is a failure of this item, not a crash of the batch
        failure = f"executor error: {type(exc).__name__}: {exc}"
    if failure and running is not None:
        _failed_in(nb, running, failure, on_cell)
    nb.metadata["language_info"] = nb.metadata.get("language_info") or dict(_LANGUAGE_INFO)
    errors = _errors_of(nb)
    nb.metadata.papermill["end_time"] = _now_iso()
    nb.metadata.papermill["duration"] = time.monotonic() - t0
    nb.metadata.papermill["exception"] = True if (errors or failure) else None
    return Executed(
        nb=nb,
        error=errors[0] if errors else None,
        seconds=time.monotonic() - t0,
        failure=failure,
        errors=errors,
    )


#: called in the parent as cells run: ``(event, index, cell)``, event ``start``/``complete``/``error``
OnCell = Callable[[str, int, NotebookNode], None]


def _failed_in(nb: NotebookNode, index: int, failure: str, on_cell: OnCell | None) -> None:
    """The run failed (timeout, crash, lost child) in cell `index`: say so in that cell."""
    cell = nb.cells[index]
    cell.outputs.append(
        nbformat.v4.new_output(
            "error",
            ename="ExecutionFailure",
            evalue=failure,
            traceback=[f"ExecutionFailure: {failure}"],
        )
    )
    cell.metadata.papermill["status"] = "failed"
    cell.metadata.papermill["exception"] = True
    if on_cell:
        on_cell("error", index, cell)


def _code_only(nb: NotebookNode) -> dict:
    """What the child needs: sources and tags, not markdown or attachments."""
    return {
        "cells": [
            {
                "cell_type": c.cell_type,
                "source": c.source if c.cell_type == "code" else "",
                "metadata": {"tags": list(c.metadata.get("tags", []))},
            }
            for c in nb.cells
        ]
    }


def _cell_started(nb: NotebookNode, index: int, on_cell: OnCell | None) -> None:
    """The child started cell `index`: papermill's running state on it."""
    cell = nb.cells[index]
    cell.metadata.papermill["start_time"] = _now_iso()
    cell.metadata.papermill["status"] = "running"
    cell.metadata.papermill["exception"] = False
    if on_cell:
        on_cell("start", index, cell)


def _cell_done(nb: NotebookNode, frame: tuple, on_cell: OnCell | None) -> None:
    """The child's ``cell`` frame: the cell's outputs, count, duration and status."""
    _, index, out, errored, _t = frame
    cell = nb.cells[index]
    cell.outputs = [nbformat.from_dict(o) for o in out["outputs"]]
    cell.execution_count = out["execution_count"]
    meta = cell.metadata.papermill
    meta["end_time"] = _now_iso()
    if meta.get("start_time"):
        meta["duration"] = (
            datetime.fromisoformat(meta["end_time"]) - datetime.fromisoformat(meta["start_time"])
        ).total_seconds()
    meta["status"] = "failed" if errored else "completed"
    meta["exception"] = bool(errored)
    if on_cell:
        on_cell("error" if errored else "complete", index, cell)


def _drive(job, nb, notebook_timeout, on_cell):
    """Send the job to a forked child and apply its frames to ``nb``."""
    try:
        sock = _get_zygote().connect()
    except OSError:
        sock = _get_zygote(restart=True).connect()
    # The clock starts once the zygote is up: its one-off start-up is not the notebook's.
    deadline = time.monotonic() + notebook_timeout
    pid = None
    running = None
    killed_for_timeout = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and not killed_for_timeout:
                killed_for_timeout = True
                if pid:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
            # After the kill, wait a little for the zygote's exit frame, then give up.
            sock.settimeout(max(remaining, 0.05) if not killed_for_timeout else 10)
            try:
                frame = _recv(sock)
            except TimeoutError:
                if killed_for_timeout:
                    return f"notebook timeout after {notebook_timeout:g} s", running
                continue
            if frame is None:
                if killed_for_timeout:
                    return f"notebook timeout after {notebook_timeout:g} s", running
                return "child ended without a result (executor lost)", running
            kind = frame[0]
            if kind == "hello":
                pid = frame[1]
                _send(sock, job)
            elif kind == "start":
                running = frame[1]
                _cell_started(nb, running, on_cell)
            elif kind == "cell":
                _cell_done(nb, frame, on_cell)
                running = None
            elif kind == "done":
                if frame[1].get("widgets"):
                    nb.metadata["widgets"] = frame[1]["widgets"]
                return None, None
            elif kind == "whole":
                _, whole, failure = frame
                done = nbformat.from_dict(whole)
                nb.cells = done.cells
                nb.metadata.update({k: v for k, v in done.metadata.items() if k != "papermill"})
                return failure, None
            elif kind == "crash":
                return (
                    f"executor crashed in the child: {frame[1].strip().splitlines()[-1]}",
                    running,
                )
            elif kind == "exit":
                if killed_for_timeout:
                    return f"notebook timeout after {notebook_timeout:g} s", running
                where = f" while running cell {running}" if running is not None else ""
                return f"child {describe_status(frame[1])}{where}", running
    finally:
        sock.close()


# --------------------------------------------------------------------------- batches


def _run_job(job: Job) -> Executed:
    """Run one Job; never raises (also the task shipped to dask workers)."""
    t0 = time.monotonic()
    try:
        res = run_notebook(job.nb, job.parameters, **job.kwargs())
    except Exception as exc:
        res = Executed(
            nb=nbformat.v4.new_notebook(),
            error=None,
            seconds=time.monotonic() - t0,
            failure=f"{type(exc).__name__}: {exc}",
        )
    res.name = job.name
    return res


def run_many(
    jobs: list[Job],
    *,
    workers: int | None = None,
    progress: bool | Callable[[int, int, str], None] = True,
    cluster: str | None = None,
) -> list[Executed]:
    """Run many notebooks, up to ``workers`` at once; results in job order.

    Each job runs in its own forked child (see ``run_notebook``); one failing
    job never sinks the batch: its ``Executed`` carries ``error``/``failure``.
    ``progress=True`` shows a rich progress bar; a callable gets
    ``(done, total, name)`` after each job.  ``cluster="tcp://host:port"``
    submits the jobs to that dask.distributed scheduler instead (each worker
    runs ``run_notebook`` locally, so the notebooks and ``cwd`` must be valid
    there).
    """

    total = len(jobs)
    results: list[Executed | None] = [None] * total
    if not jobs:
        return []
    bar, callback = _progress_of(progress, total)
    done = 0

    def finished(i: int, res: Executed) -> None:
        nonlocal done
        results[i] = res
        done += 1
        if callback:
            callback(done, total, jobs[i].name)

    if bar:
        bar.start()
    try:
        if cluster:
            _run_on_cluster(cluster, jobs, finished)
        else:
            _run_here(jobs, workers, finished)
    finally:
        if bar:
            bar.stop()
    return results  # type: ignore[return-value]


def _progress_of(
    progress: bool | Callable[[int, int, str], None], total: int
) -> tuple[Any, Callable[[int, int, str], None] | None]:
    """A rich progress bar (not started) for ``progress=True``, and what to call after each job."""
    if callable(progress):
        return None, progress
    if not progress:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )
    task = bar.add_task("notebooks", total=total)

    def callback(done, total, name):
        bar.update(task, completed=done, description=name)

    return bar, callback


def _run_on_cluster(
    cluster: str, jobs: list[Job], finished: Callable[[int, Executed], None]
) -> None:
    """Run `jobs` on the dask.distributed scheduler at `cluster`, each result to `finished`."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(cluster) as client:
        futures = {
            client.submit(
                # Unique per call: the scheduler treats equal keys as the same task,
                # so two callers' "quiz" jobs would share one result.
                _run_job,
                job,
                pure=False,
                key=f"casekit-{job.name}-{uuid.uuid4().hex}",
            ): i
            for i, job in enumerate(jobs)
        }
        for fut in dask_completed(futures):
            i = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:
                res = Executed(
                    nb=nbformat.v4.new_notebook(),
                    error=None,
                    seconds=0.0,
                    failure=f"dask: {type(exc).__name__}: {exc}",
                    name=jobs[i].name,
                )
            finished(i, res)


def _run_here(
    jobs: list[Job], workers: int | None, finished: Callable[[int, Executed], None]
) -> None:
    """Run `jobs` in forked children of this machine's zygote, up to `workers` at once."""
    _get_zygote()  # start once, before the threads race for it
    n = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = {pool.submit(_run_job, job): i for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            finished(futures[fut], fut.result())
