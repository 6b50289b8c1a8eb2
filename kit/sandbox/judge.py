"""Trainee code and its judge, each in its own box: who runs what, and what crosses.

For one submission with code answers the supervisor (``kit.sandbox.supervisor``) starts
two boxes (``kit.sandbox.boxes``), each forked from a template that already ran the
notebook's common first cells:

* **The trainee's box** runs the trainee's view of the notebook — no key,
  hidden-test, tests or teaching-note cells, solution blocks stripped — with
  each answer cell replaced by the trainee's code.  After each answer cell it
  sends, for every name that the *instructor's* solution binds or changes
  (``answer_names``), what the trainee's code left there: data (through
  ``kit.sandbox.safepickle``), a handle for anything else (a function, class,
  instance, generator, figure: ``kit.sandbox.callserver``), a module (by name) or
  "absent"; and the files the cell wrote.  Then it serves the judge's
  requests on those handles.  It never receives keys, hidden tests or
  solutions.

* **The judge's box** runs the instructor edition's cells itself — its own
  parameters, helpers, ``numpy``, ``pandas``, ``test`` — and at each answer
  cell injects the trainee's values instead of running the solution; then it
  runs the tests and hidden tests with the real ``@test`` recorder and sends
  the records to the supervisor.  Trainee code never runs in the judge:
  patching ``numpy.allclose``, the display machinery, ``test`` or builtins in
  the trainee's box changes nothing here, and rebinding a helper or a
  parameter the solution does not bind does not cross at all.  A value that
  is not data is a stand-in (``kit.sandbox.proxies``): what the test does with it is
  done in the trainee's box, with the test's view of the notebook (names it
  deleted or rebound, random state), and only results cross back.  Objects
  stand only where the solution's own values were objects (``shapes``,
  learned by the build's proof: ``learned_shapes``).

The judge waits for *all* answers before it runs any test, so nothing it
learns from tests can flow into an answer.  The one channel left is a
function answer called by hidden tests: it sees their arguments and could
encode them in what it returns to a later visible test; the message of such a
visible test is withheld (``withheld``).

Failures of the trainee's code are typed (``kit.sandbox.answers.RunFailure``), never words to grep.
"""

from __future__ import annotations

import gc
import os
import socket
import time
from typing import Any

from kit.execution import shell
from kit.sandbox import boxes as sandbox
from kit.sandbox import callserver
from kit.sandbox.answers import DETAIL_CAP as _DETAIL_CAP
from kit.sandbox.answers import FailureKind, RunFailure, cell_line, failure_of
from kit.sandbox.proxies import (
    AnswerFunction,
    Channel,
    NotebookView,
    Server,
    Uncheckable,
    materialise,
)

__all__ = ["AnswerFunction", "judge_main", "template_main", "trainee_main"]

TEST_MIME = "application/vnd.casekit.test+json"


# ----------------------------------------------------------------------------- inside the boxes

_TEMPLATE = callserver.STATE  # in a template and the boxes it forks: its job


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
    from kit.execution import zygote

    [listen_fd] = sandbox.receive_fds(conn)
    _TEMPLATE.update(job)
    scratch = sandbox.enter_box(None, job["files"], confine=job["confine"])
    os.environ["CASEKIT_MODE"] = "grade"
    _quiet()
    runner = shell.CellRunner(job["cell_timeout"], keep_outputs=False)
    failures = _run_cells(runner, job["cells"])
    runner.close()
    # a box gets a fresh scratch folder: the files these first cells wrote go with the data
    _TEMPLATE["files"] = {**job["files"], **_written(scratch, set(job["files"]))}

    gc.collect()
    gc.freeze()  # as in the zygote: boxes must not copy the template page by page
    zygote.send_frame(conn, ("ready", failures))
    listener = socket.socket(fileno=listen_fd)
    spawn = sandbox.clone_box if job["confine"] else os.fork
    zygote.serve(listener, spawn=spawn, close_in_child=(conn.fileno(),))


def _written(scratch: str, known: set[str]) -> dict[str, bytes]:
    """Files in ``scratch`` besides ``known`` ones (what the notebook's first cells wrote)."""
    out: dict[str, bytes] = {}
    for folder, _dirs, files in os.walk(scratch):
        for name in files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, scratch)
            if rel not in known and os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    out[rel] = fh.read()
    return out


def _enter(conn: socket.socket, job: dict[str, Any]) -> socket.socket:
    """Common start of both boxes: take the channel to the other box, set the box up."""
    [fd] = sandbox.receive_fds(conn)
    _TEMPLATE["scratch"] = sandbox.enter_box(
        job["limits"], _TEMPLATE.get("files", {}), confine=_TEMPLATE["confine"]
    )
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
    from kit.execution import zygote

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
    handles: dict[int, Any] = {}  # every value kept here so far, numbered across answers
    seen: dict[str, tuple[int, int]] = {}  # files already sent
    callserver.changed_files(seen)  # the data files' copies are the judge's own
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
        ns = _shell().user_ns
        snap = {n: callserver.offer(ns, n, handles, job["cell_timeout"]) for n in step["names"]}
        written = callserver.changed_files(seen)
        if written:
            zygote.send_frame(link, ("files", qid, written))
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
        callserver.serve_calls(link, handles, job["cell_timeout"])
    os._exit(0)


def _init(conn: socket.socket, runner: int) -> None:
    """PID 1 of the trainee's box: reap, tell the supervisor how the runner ended, end with the last child."""
    from kit.execution import zygote

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
        callserver.serve_calls(ours, handles, timeout)
        os._exit(0)
    ours.close()
    return theirs.detach()


# --------------------------------------------------------------------- the judge's box


class _Link(Channel):
    """The judge's end of the channel to the trainee's cells: answers (and files) arrive here."""

    def __init__(self, sock: socket.socket, limit: int, cell_timeout: float) -> None:
        super().__init__(sock, limit, cell_timeout)
        self.answers: dict[str, tuple[dict[str, Any], Any, Server | None]] = {}
        self.files: dict[str, dict[str, bytes]] = {}  # per answer: the files its cell wrote
        self.cell: int | None = None  # the cell the trainee's box said it started last
        self.ended: str | None = None  # why the box stopped answering, when it did
        self.calls = 0  # requests to trainee values so far, over all servers
        self.questions: set[str] = set()  # the answers the judge waits for
        self.view: NotebookView = NotebookView({}, ".", set())
        self.object_roots: set[str] | None = None  # answer names whose uses may give objects
        self.gave_objects: set[str] = set()  # answer names whose uses gave objects
        self._fallback: Server | None = None

    def objects_from(self, root: str) -> bool:
        """Whether using the answer ``root`` may give an object of the trainee's (None: learning)."""
        return self.object_roots is None or root in self.object_roots

    def fallback(self) -> Server:
        """Requests for values that came without a server go over this channel, after ``ran``."""
        if self._fallback is None:
            self._fallback = Server(self.sock, self)
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
            elif frame[0] == "files" and len(frame) == 3 and frame[1] in self.questions:
                if isinstance(frame[2], dict):
                    self.files.setdefault(frame[1], frame[2])
            elif frame[0] == "answer" and len(frame) == 5 and frame[1] in self.questions:
                server = self._server() if frame[4] is True else None
                if isinstance(frame[2], dict):
                    self.answers.setdefault(frame[1], (frame[2], frame[3], server))

    def _server(self) -> Server | None:
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
        return Server(sock, self)


_ENDED = {
    "exit": (FailureKind.EXIT, "the trainee's code ended its process"),
    "timeout": (FailureKind.TIMEOUT, "the trainee's code stopped answering"),
    "run-timeout": (FailureKind.RUN_TIMEOUT, "the submission ran out of time"),
}


def _inject(
    ns: dict[str, Any], step: dict[str, Any], link: _Link, shapes: dict[str, str] | None
) -> list[RunFailure]:
    """Put the trainee's values for one answer cell into the judge's namespace.

    ``shapes``: what the solution's names hold (``"object"`` where an object of
    the trainee's may stand); None while learning them from the solution itself.
    """
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
    link.view.write_files(link.files.get(qid))
    for name, weak in step["names"]:
        offer = snap.get(name)
        if offer == ("absent",):
            ns.pop(name, None)
            link.view.injected.pop(name, None)
            continue
        objects = shapes is None or shapes.get(name) == "object"
        value = materialise(name, offer, server, objects=objects)
        if isinstance(value, Uncheckable):
            if weak:
                continue  # only a method call suggested it changes: keep the judge's own
            failures.append(
                RunFailure(
                    FailureKind.UNCHECKABLE, qid, cell, None, repr(value)[1:-1][:_DETAIL_CAP]
                )
            )
        else:
            raw = offer[1] if isinstance(offer, tuple) and offer[0] == "data" else None
            link.view.injected[name] = (value, raw)
        ns[name] = value
    return failures


def learned_shapes(link: _Link, steps: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """What each answer name held when the answers were the solutions: data, callable, object, ...

    ``callable:objects``: a function or class whose uses by the tests gave
    objects (a generator function, a class and its instances).
    """
    out: dict[str, dict[str, str]] = {}
    for step in steps:
        got = link.answers.get(step["question"])
        if got is None:
            continue
        snap = got[0]
        kinds = {}
        for name, _weak in step["names"]:
            kind = str(snap[name][0]) if isinstance(snap.get(name), tuple) else "absent"
            kinds[name] = (
                f"{kind}:objects" if kind == "callable" and name in link.gave_objects else kind
            )
        out[step["question"]] = kinds
    return out


def judge_main(conn: socket.socket, job: dict[str, Any]) -> None:
    """(handler ``judge``) Run the instructor's cells with the trainee's answers injected; report tests.

    ``job["shapes"]`` (question -> name -> kind) says where objects may stand;
    None: the answers are the solutions, and the judge reports their shapes.
    """
    from kit.execution import zygote

    link = _Link(_enter(conn, job), job["limit"], job["cell_timeout"])
    link.questions = {s["question"] for s in job["cells"] if s["role"] == "answer"}
    runner = shell.CellRunner(job["cell_timeout"], keep_outputs=True)
    ns = _shell().user_ns
    link.view = NotebookView(ns, _TEMPLATE.get("scratch") or os.getcwd(),
                             set(_TEMPLATE.get("files") or {}))  # fmt: skip
    shapes = job.get("shapes")
    if shapes is not None:
        link.object_roots = {
            name
            for kinds in shapes.values()
            for name, kind in kinds.items()
            if kind in ("object", "callable:objects")
        }
    answers = [s for s in job["cells"] if s["role"] == "answer"]
    collected = False
    tainted = False  # a hidden test has called the trainee's function
    for step in job["cells"]:
        role = step["role"]
        if role == "answer":
            if not collected:
                link.collect(job["trainee_budget"])
                collected = True
            own = None if shapes is None else shapes.get(step["question"], {})
            for f in _inject(ns, step, link, own):
                zygote.send_frame(conn, ("failure", f.as_dict()))
            continue
        if role in ("tests", "hidden-tests"):
            link.view.freeze()
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
    if shapes is None:  # the solutions' run: what their names held, and what using them gave
        zygote.send_frame(conn, ("shapes", learned_shapes(link, answers)))
    zygote.send_frame(conn, ("done",))
    runner.close()
    os._exit(0)
