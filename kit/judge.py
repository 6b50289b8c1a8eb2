"""Trainee code and its judge, each in its own box: who runs what, and what crosses.

For one submission with code answers the supervisor (``kit.supervisor``) starts
two boxes (``kit.sandbox``), each forked from a template that already ran the
notebook's common first cells:

* **The trainee's box** runs the trainee's view of the notebook — no key,
  hidden-test, tests or teaching-note cells, solution blocks stripped — with
  each answer cell replaced by the trainee's code.  After each answer cell it
  sends, for every name that the *instructor's* solution binds or changes
  (``answer_names``), what the trainee's code left there: data (through
  ``kit.safepickle``), a function (kept in the box and called on request), a
  module (by name) or "absent".  Then it serves calls of those functions.
  It never receives keys, hidden tests or solutions.

* **The judge's box** runs the instructor edition's cells itself — its own
  parameters, helpers, ``numpy``, ``pandas``, ``test`` — and at each answer
  cell injects the trainee's values instead of running the solution; then it
  runs the tests and hidden tests with the real ``@test`` recorder and sends
  the records to the supervisor.  Trainee code never runs in the judge:
  patching ``numpy.allclose``, the display machinery, ``test`` or builtins in
  the trainee's box changes nothing here, and rebinding a helper or a
  parameter the solution does not bind does not cross at all.  A function
  answer is a proxy (``AnswerFunction``): its arguments go to the trainee's
  box, its result comes back as data through ``kit.safepickle``.

The judge waits for *all* answers before it runs any test, so nothing it
learns from tests can flow into an answer.  The one channel left is a
function answer called by hidden tests: it sees their arguments and could
encode them in what it returns to a later visible test; the message of such a
visible test is withheld (``withheld``).

Failures of the trainee's code are typed (``kit.answers.RunFailure``), never words to grep.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import sys
import time
import types
from typing import Any

from kit import safepickle, shell
from kit.answers import DETAIL_CAP as _DETAIL_CAP
from kit.answers import FailureKind, RunFailure, cell_line, failure_of

__all__ = ["AnswerFunction", "judge_main", "template_main", "trainee_main"]

TEST_MIME = "application/vnd.casekit.test+json"
_SAFE_MODULES = {
    "numpy", "pandas", "matplotlib", "math", "statistics", "datetime", "collections",
    "itertools", "functools", "re", "json", "random", "decimal", "fractions", "string",
    "operator", "scipy", "seaborn", "html",
}  # fmt: skip


# ----------------------------------------------------------------------------- inside the boxes

_TEMPLATE: dict[str, Any] = {}  # in a template and the boxes it forks: its job


def _shell() -> Any:
    return shell.shell()


def _quiet() -> None:
    """No rich rendering in a box: nobody reads its outputs (test records are raw bundles)."""
    _shell().display_formatter.format = lambda obj, include=None, exclude=None: ({}, {})


def _run_cells(runner: Any, cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run plain cells; return the failures of those that raised (for the instructor)."""
    out = []
    for step in cells:
        _, exc = runner.run(step["index"], step["source"])
        if exc is not None:
            out.append(
                RunFailure(
                    FailureKind.GRADER, None, step["index"] + 1, cell_line(exc),
                    f"the notebook's own cell raised {type(exc).__name__}: {exc}",
                ).as_dict()
            )  # fmt: skip
    return out


def template_main(conn: socket.socket, job: dict[str, Any]) -> None:
    """(zygote handler ``template``) Run the common first cells, then fork boxes; never returns."""
    from kit import sandbox, zygote

    [listen_fd] = sandbox.receive_fds(conn)
    _TEMPLATE.update(job)
    sandbox.enter_box(None, job["files"], confine=job["confine"])
    os.environ["CASEKIT_MODE"] = "grade"
    _quiet()
    runner = shell.CellRunner(job["cell_timeout"], keep_outputs=False)
    failures = _run_cells(runner, job["cells"])
    runner.close()
    import gc

    gc.collect()
    gc.freeze()  # as in the zygote: boxes must not copy the template page by page
    zygote.send_frame(conn, ("ready", failures))
    listener = socket.socket(fileno=listen_fd)
    zygote.serve(listener, namespaces=job["confine"], close_in_child=(conn.fileno(),))


def _enter(conn: socket.socket, job: dict[str, Any]) -> socket.socket:
    """Common start of both boxes: take the channel to the other box, set the box up."""
    from kit import sandbox

    [fd] = sandbox.receive_fds(conn)
    sandbox.enter_box(job["limits"], _TEMPLATE.get("files", {}), confine=_TEMPLATE["confine"])
    link = socket.socket(fileno=fd)
    link.setblocking(True)
    return link


# --------------------------------------------------------------------- the trainee's box


def trainee_main(conn: socket.socket, job: dict[str, Any]) -> None:
    """(handler ``trainee``) Run the trainee's cells and send what each answer bound.

    When the instructor's solutions define functions, the box's PID 1 stays a
    plain init (``_init``) and the cells run in its child; after an answer
    cell whose names hold functions, a call server is forked from that moment
    (``_fork_server``): the judge's calls then see the state the answer left,
    as if the tests ran right after it, and a later cell that ends its process
    does not take earlier answers with it.  When they define none (data
    answers), the cells run in PID 1 itself (one fork less), and a function a
    trainee offers anyway is served by it after the last cell.
    """
    from kit import zygote

    link = _enter(conn, job)
    servers = job.get("functions", True)  # earlier answers may be functions: they get servers
    if servers:
        runner = os.fork()
        if runner:
            link.close()
            _init(conn, runner)
    conn.close()
    cells = shell.CellRunner(job["cell_timeout"], keep_outputs=False)
    answers = [s for s in job["cells"] if s.get("question")]
    handles: dict[int, Any] = {}  # every function offered so far, numbered across answers
    fallback = False  # some functions have no server of their own: this process serves them
    for step in job["cells"]:
        zygote.send_frame(link, ("start", step["index"]))
        # plain Python runs plain (see CellRunner.run); magics and the like go through IPython
        _, exc = cells.run(step["index"], step["source"], plain=True)
        qid = step.get("question")
        if qid is None:
            continue
        failure = None
        if exc is not None:
            failure = failure_of(exc, question=qid, cell=step["index"] + 1).as_dict()
        before = len(handles)
        snap = {n: _offer(_shell().user_ns, n, handles, job["cell_timeout"]) for n in step["names"]}
        server = None
        if len(handles) > before:
            last = step is answers[-1]  # no cell runs after it: this process can serve it
            server = (
                _fork_server(link, handles, job["cell_timeout"]) if servers and not last else None
            )
            fallback = fallback or server is None
        zygote.send_frame(link, ("answer", qid, snap, failure, server is not None))
        if server is not None:
            socket.send_fds(link, [b"F"], [server])
            os.close(server)
    zygote.send_frame(link, ("ran",))
    if fallback:  # out of processes or descriptors earlier: serve those calls here, now
        _serve_calls(link, handles, job["cell_timeout"])
    os._exit(0)


def _init(conn: socket.socket, runner: int) -> None:
    """PID 1 of the trainee's box: reap, tell the supervisor how the runner ended, end with the last child."""
    from kit import zygote

    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == runner:
            try:
                zygote.send_frame(conn, ("runner", status))
            except OSError:
                pass


def _fork_server(link: socket.socket, handles: dict[int, Any], timeout: float) -> int | None:
    """Fork a process that serves calls of ``handles`` as they are now; return the judge's end.

    None when the box is out of processes or descriptors (its own doing): the
    cells' process then serves those calls itself once every cell has run.
    """
    try:
        ours, theirs = socket.socketpair()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        ours.close()
        theirs.close()
        return None
    if pid == 0:
        theirs.close()
        link.close()  # the cells' channel must reach EOF when the cells' process ends
        _serve_calls(ours, handles, timeout)
        os._exit(0)
    ours.close()
    return theirs.detach()


def _offer(ns: dict[str, Any], name: str, handles: dict[int, Any], timeout: float) -> tuple:
    """What crosses for one name: ("data", bytes) | ("callable", h) | ("module", m) | ("absent",) | ("uncrossable", why)."""
    if name not in ns:
        return ("absent",)
    return _describe(ns[name], handles, timeout)


def _describe(value: Any, handles: dict[int, Any], timeout: float) -> tuple:
    offer = _describe_value(value, handles, timeout)
    cap = int(_TEMPLATE.get("answer_bytes") or 0)
    if offer[0] == "data" and cap and len(offer[1]) > cap:
        return ("uncrossable", f"larger than {cap // (1024 * 1024)} MB")
    return offer


def _describe_value(value: Any, handles: dict[int, Any], timeout: float) -> tuple:
    from kit.shell import CellTimeoutError

    if isinstance(value, types.ModuleType):
        return ("module", str(getattr(value, "__name__", "")))
    try:
        signal.setitimer(signal.ITIMER_REAL, max(float(timeout), 1.0))
        try:
            return ("data", safepickle.dumps(value))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except safepickle.Uncrossable as e:
        if callable(value):
            h = len(handles) + 1
            handles[h] = value
            return ("callable", h)
        return ("uncrossable", str(e)[:_DETAIL_CAP])
    except CellTimeoutError:
        return ("uncrossable", "it took too long to copy")
    except MemoryError:
        return ("uncrossable", "it is too large")
    except Exception as e:  # noqa: BLE001 - whatever the trainee's objects do, it is their answer's fault
        return ("uncrossable", f"{type(e).__name__}: {e}"[:_DETAIL_CAP])


class _ArgsUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, handles: dict[int, Any]) -> None:
        import io

        super().__init__(io.BytesIO(data))
        self.handles = handles

    def persistent_load(self, pid: Any) -> Any:
        return self.handles[pid[1]]


def _serve_calls(link: socket.socket, handles: dict[int, Any], timeout: float) -> None:
    """Call the answer's functions for the judge, one request at a time, each under the cell timeout."""
    from kit import zygote

    while True:
        frame = zygote.recv_frame(link)
        if frame is None:
            return
        _, cid, handle, data = frame
        shell._Sink.outputs = []
        try:
            fn = handles[handle]
            args, kwargs = _ArgsUnpickler(data, handles).load()
            signal.setitimer(signal.ITIMER_REAL, float(timeout))
            try:
                result = fn(*args, **kwargs)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            reply: tuple = ("ok", _describe(result, handles, timeout))
        except BaseException as e:  # noqa: BLE001 - the answer's exception is the answer's result
            if isinstance(e, SystemExit | KeyboardInterrupt):
                os._exit(0)
            reply = ("raised", type(e).__name__, str(e)[:_DETAIL_CAP])
        zygote.send_frame(link, ("result", cid, reply))


# --------------------------------------------------------------------- the judge's box


class AnswerNotCheckable(Exception):
    """Raised by any use of an answer value that could not be brought into the judge."""


class AnswerCallFailed(Exception):
    """A call of the trainee's function did not return a checkable result."""


class Uncheckable:
    """Stands for an answer value that could not cross; every use raises ``AnswerNotCheckable``."""

    def __init__(self, name: str, reason: str) -> None:
        object.__setattr__(self, "_why", f"answer `{name}` cannot be checked: {reason}")

    def _fail(self, *a: Any, **k: Any) -> Any:
        raise AnswerNotCheckable(object.__getattribute__(self, "_why"))

    def __getattr__(self, name: str) -> Any:
        raise AnswerNotCheckable(object.__getattribute__(self, "_why"))

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_why')}>"

    __str__ = __repr__
    __call__ = __getitem__ = __setitem__ = __iter__ = __len__ = __bool__ = _fail
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __contains__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _fail
    __float__ = __int__ = __index__ = __array__ = __hash__ = _fail


class _Channel:
    """A socket to a process in the trainee's box; every frame from it is read with safepickle."""

    def __init__(self, sock: socket.socket, limit: int, cell_timeout: float) -> None:
        self.sock = sock
        self.limit = limit
        self.cell_timeout = float(cell_timeout)

    def recv(self, timeout: float) -> Any:
        from kit.zygote import recv_frame

        self.sock.settimeout(max(timeout, 0.001))
        return recv_frame(self.sock, loads=safepickle.loads, limit=self.limit)


class _Link(_Channel):
    """The judge's end of the channel to the trainee's cells: answers arrive here."""

    def __init__(self, sock: socket.socket, limit: int, cell_timeout: float) -> None:
        super().__init__(sock, limit, cell_timeout)
        self.answers: dict[str, tuple[dict[str, Any], Any, _Server | None]] = {}
        self.cell: int | None = None  # the cell the trainee's box said it started last
        self.ended: str | None = None  # why the box stopped answering, when it did
        self.calls = 0  # calls of trainee functions so far, over all servers
        self.questions: set[str] = set()  # the answers the judge waits for
        self._fallback: _Server | None = None

    def fallback(self) -> _Server:
        """Calls for functions that came without a server go over this channel, after ``ran``."""
        if self._fallback is None:
            self._fallback = _Server(self.sock, self)
            if self.ended is not None:
                self._fallback.broken = "the trainee's code did not finish"
        return self._fallback

    def collect(self, budget: float) -> None:
        """Read answers until the box says it ran every cell, ends, stays silent or runs out of time."""
        deadline = time.monotonic() + budget
        silence = self.cell_timeout + 2.0
        while self.ended is None:
            left = deadline - time.monotonic()
            if left <= 0:
                self.ended = "run-timeout"
                break
            try:
                frame = self.recv(min(silence, left))
            except TimeoutError:
                self.ended = "timeout" if time.monotonic() < deadline else "run-timeout"
                break
            except Exception as e:  # noqa: BLE001 - a garbled channel is an ended box
                self.ended = f"garbled: {type(e).__name__}: {e}"[:_DETAIL_CAP]
                break
            if frame is None:
                self.ended = "exit"
            elif not isinstance(frame, tuple) or not frame:
                continue
            elif frame[0] == "ran":
                return
            elif frame[0] == "start" and len(frame) == 2 and type(frame[1]) is int:
                self.cell = frame[1]
            elif frame[0] == "answer" and len(frame) == 5 and frame[1] in self.questions:
                server = self._server() if frame[4] is True else None
                if isinstance(frame[2], dict):
                    self.answers.setdefault(frame[1], (frame[2], frame[3], server))

    def _server(self) -> _Server | None:
        """The call server passed right after an answer frame (None if what came is not one)."""
        try:
            self.sock.settimeout(self.cell_timeout)
            _, fds, _, _ = socket.recv_fds(self.sock, 1, 1)
        except OSError:
            return None
        if len(fds) != 1:
            return None
        try:
            sock = socket.socket(fileno=fds[0])
        except OSError:
            os.close(fds[0])
            return None
        if sock.family != socket.AF_UNIX:
            sock.close()
            return None
        return _Server(sock, self)


class _Server(_Channel):
    """The judge's end of a call server: the process holding one answer's functions."""

    def __init__(self, sock: socket.socket, link: _Link) -> None:
        super().__init__(sock, link.limit, link.cell_timeout)
        self.link = link
        self.broken: str | None = None  # why calls can no longer be made
        self.next_id = 0

    def call(self, fn: AnswerFunction, args: tuple, kwargs: dict) -> Any:
        """Call the trainee's function in its box; the result comes back as data (or a proxy)."""
        from kit.zygote import send_frame

        if self.broken:
            raise AnswerCallFailed(f"`{fn._name}` cannot be called: {self.broken}")
        self.link.calls += 1
        self.next_id += 1
        cid = self.next_id
        try:
            data = _pickle_args(args, kwargs)
        except Exception as e:  # noqa: BLE001
            raise AnswerCallFailed(f"the arguments for `{fn._name}` cannot be sent: {e}") from None
        try:
            send_frame(self.sock, ("call", cid, fn._handle, data))
            deadline = time.monotonic() + self.cell_timeout + 1.0
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                frame = self.recv(left)
                if frame is None:
                    raise EOFError
                if isinstance(frame, tuple) and len(frame) == 3 and frame[:2] == ("result", cid):
                    reply = frame[2]
                    break
        except TimeoutError:
            self.broken = f"a call of `{fn._name}` ran past {self.cell_timeout:g} s"
            raise AnswerCallFailed(self.broken) from None
        except BaseException as e:
            # the judge's own cell timeout may land here: the channel is out of step now
            self.broken = f"a call of `{fn._name}` did not return ({type(e).__name__})"
            if isinstance(e, EOFError | OSError | safepickle.Refused):
                raise AnswerCallFailed(self.broken) from None
            raise
        if isinstance(reply, tuple) and reply and reply[0] == "raised" and len(reply) == 3:
            raise _raised(str(reply[1]), str(reply[2]), fn._name)
        if isinstance(reply, tuple) and len(reply) == 2 and reply[0] == "ok":
            value = _materialise(fn._name + "(...)", reply[1], self)
            if isinstance(value, Uncheckable):
                raise AnswerCallFailed(repr(value)[1:-1])
            return value
        raise AnswerCallFailed(f"`{fn._name}` returned nothing checkable")


class AnswerFunction:
    """The judge's stand-in for a function (or class) the trainee defined: calls go to the trainee's box."""

    def __init__(self, server: _Server, name: str, handle: int) -> None:
        self._server, self._name, self._handle = server, name, handle

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._server.call(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<the trainee's function {self._name}>"


def _pickle_args(args: tuple, kwargs: dict) -> bytes:
    import io

    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=5)
    p.persistent_id = (  # type: ignore[method-assign]
        lambda obj: ("h", obj._handle) if isinstance(obj, AnswerFunction) else None
    )
    p.dump((args, kwargs))
    return buf.getvalue()


_RAISABLE = {
    e.__name__: e
    for e in (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, AttributeError,
              NameError, AssertionError, ArithmeticError, LookupError, RuntimeError,
              NotImplementedError, OverflowError, RecursionError, StopIteration)
}  # fmt: skip


def _raised(ename: str, message: str, name: str) -> BaseException:
    """The trainee's exception, re-raised in the judge as the same builtin type when it is one."""
    cls = _RAISABLE.get(ename)
    if cls is not None:
        return cls(message)
    return AnswerCallFailed(f"`{name}` raised {ename[:100]}: {message}")


def _materialise(name: str, offer: Any, server: _Server | None) -> Any:
    """Turn what the trainee's box offered for a name into the judge's value."""
    if not isinstance(offer, tuple) or not offer or not isinstance(offer[0], str):
        return Uncheckable(name, "nothing readable was sent")
    kind = offer[0]
    if kind == "data" and len(offer) == 2:
        try:
            return safepickle.loads(offer[1])
        except safepickle.Refused as e:
            return Uncheckable(name, f"it is of a type that cannot be checked ({e})")
    if kind == "callable" and len(offer) == 2 and type(offer[1]) is int:
        if server is None:
            return Uncheckable(name, "the function cannot be called (its process did not start)")
        return AnswerFunction(server, name, offer[1])
    if kind == "module" and len(offer) == 2 and isinstance(offer[1], str):
        mod = sys.modules.get(offer[1])
        if mod is not None and offer[1].split(".")[0] in _SAFE_MODULES:
            return mod
        return Uncheckable(name, f"the module {offer[1][:100]!r} is not available to the checks")
    if kind == "uncrossable" and len(offer) == 2:
        return Uncheckable(name, f"it is {str(offer[1])[:_DETAIL_CAP]}")
    return Uncheckable(name, "nothing readable was sent")


_ENDED = {
    "exit": (FailureKind.EXIT, "the trainee's code ended its process"),
    "timeout": (FailureKind.TIMEOUT, "the trainee's code stopped answering"),
    "run-timeout": (FailureKind.RUN_TIMEOUT, "the submission ran out of time"),
}


def _inject(ns: dict[str, Any], step: dict[str, Any], link: _Link) -> list[RunFailure]:
    """Put the trainee's values for one answer cell into the judge's namespace."""
    qid, cell = step["question"], step["index"] + 1
    failures: list[RunFailure] = []
    got = link.answers.get(qid)
    if got is None:
        kind, why = _ENDED.get(
            link.ended or "", (FailureKind.CRASHED, link.ended or "no answer arrived")
        )
        at = (link.cell + 1) if link.cell is not None else cell
        failures.append(RunFailure(kind, qid, at, None, why))
        for name, _weak in step["names"]:
            ns[name] = Uncheckable(name, why)
        return failures
    snap, reported, server = got
    server = server or link.fallback()
    f = RunFailure.from_dict(reported)
    if f is not None:
        failures.append(RunFailure(f.kind, qid, cell, f.line, f.detail))
    for name, weak in step["names"]:
        offer = snap.get(name)
        if offer == ("absent",):
            ns.pop(name, None)
            continue
        value = _materialise(name, offer, server)
        if isinstance(value, Uncheckable):
            if weak:
                continue  # only a method call suggested it changes: keep the judge's own
            failures.append(
                RunFailure(
                    FailureKind.UNCHECKABLE, qid, cell, None, repr(value)[1:-1][:_DETAIL_CAP]
                )
            )
        ns[name] = value
    return failures


def judge_main(conn: socket.socket, job: dict[str, Any]) -> None:
    """(handler ``judge``) Run the instructor's cells with the trainee's answers injected; report tests."""
    from kit import zygote

    link = _Link(_enter(conn, job), job["limit"], job["cell_timeout"])
    link.questions = {s["question"] for s in job["cells"] if s["role"] == "answer"}
    runner = shell.CellRunner(job["cell_timeout"], keep_outputs=True)
    ns = _shell().user_ns
    collected = False
    tainted = False  # a hidden test has called the trainee's function
    for step in job["cells"]:
        role = step["role"]
        if role == "answer":
            if not collected:
                link.collect(job["trainee_budget"])
                collected = True
            for f in _inject(ns, step, link):
                zygote.send_frame(conn, ("failure", f.as_dict()))
            continue
        before = link.calls
        out, exc = runner.run(step["index"], step["source"], plain=True)
        if role not in ("tests", "hidden-tests"):
            continue
        called = link.calls > before
        records = [o["data"][TEST_MIME] for o in out["outputs"] if TEST_MIME in o.get("data", {})]
        raised = f"{type(exc).__name__}: {exc}"[:_DETAIL_CAP] if exc is not None else None
        withheld = tainted and called and role == "tests"
        if role == "hidden-tests" and called:
            tainted = True
        zygote.send_frame(conn, ("tests", step["index"], records, raised, withheld))
    zygote.send_frame(conn, ("done",))
    runner.close()
    os._exit(0)
