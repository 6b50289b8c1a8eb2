"""Running trainee code for grading: the one seam between grading and the sandbox (issue #9).

``grade`` opens one :class:`CodeRunner` per run (:func:`open_runner`): one
sandboxed grader (:class:`kit.supervisor.CodeGrader`, bubblewrap around a
warm zygote) whose limits come from the course configuration, shared by the
run's worker threads.  :func:`run_code_questions` runs one submission's code
answers through it — the trainee's code in one box, the author's tests in
another — and returns the judged tests and the typed failures
(:class:`kit.answers.RunFailure`).  Nothing else in grading runs trainee code.

Without bubblewrap or user namespaces :func:`open_runner` refuses
(:class:`NoSandbox`, naming the Debian package), unless the instructor asked
for ``unsafe=True`` (``--unsafe-no-sandbox``): the same protocol without the
sandbox, for submissions they trust.

On a Dask cluster (``cluster=``) each submission is a task; the worker runs
it in a sandboxed grader of its own (kept for the worker's life), so workers
need bubblewrap too.  The session's data files travel with the task as bytes.
"""

from __future__ import annotations

import atexit
import sys
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from kit import kinds
from kit.answers import FailureKind, RunFailure
from kit.course import Course, CourseError, UserError
from kit.grading.keys import SessionKeys
from kit.messages import t as say
from kit.sandbox import Limits, SandboxUnavailable
from kit.supervisor import CodeGrader, CodeJob, CodeRun

__all__ = [
    "CodeRunner",
    "NoSandbox",
    "limits_for",
    "open_runner",
    "run_code_questions",
    "session_files",
    "warm_up",
]

# What a session's data folder may give the boxes (copied into each box's scratch folder).
MAX_DATA_FILES = 200
MAX_DATA_BYTES = 48 * 1024 * 1024


class NoSandbox(UserError):
    """Trainee code cannot be run here: no bubblewrap, or no user namespaces."""


def limits_for(course: Course) -> Limits:
    """A submission's limits: the course's grading timeouts and memory, the sandbox's defaults for the rest."""
    g = course.config.grading
    return Limits(
        cell_timeout=float(g.cell_timeout),
        run_timeout=float(g.notebook_timeout),
        memory_mb=int(course.config.defaults.memory_mb),
    )


_SHARED: dict[bool, CodeGrader] = {}
_SHARED_LOCK = threading.Lock()


def warm_up(*, unsafe: bool = False) -> None:
    """Start a sandbox now, kept for this process: later ``grade`` runs use it instead of their own.

    Like :func:`kit.execute.warm_up`: for a long-lived process (a benchmark, a
    service) that grades more than once.
    """
    with _SHARED_LOCK:
        grader = _SHARED.get(unsafe)
        if grader is None or not grader.zygote.alive():
            _SHARED[unsafe] = _open(CodeGrader, unsafe=unsafe)


@atexit.register
def _close_shared() -> None:
    for grader in _SHARED.values():
        grader.close()
    _SHARED.clear()


def _open(factory: Any, *, unsafe: bool, limits: Limits | None = None) -> CodeGrader:
    if unsafe:
        print(say("grade.unsafe_warning"), file=sys.stderr, flush=True)
    try:
        return factory(limits=limits, unsafe=unsafe)
    except SandboxUnavailable as e:
        raise NoSandbox(say("grade.no_sandbox", reason=e.reason)) from None


@dataclass
class CodeRunner:
    """What one ``grade`` run holds to run code answers: its grader, limits and cached data files."""

    limits: Limits
    unsafe: bool = False
    cluster: str | None = None
    grader: CodeGrader | None = None  # None on a cluster: each worker holds its own
    owned: bool = True  # closed with the runner (a shared, warmed-up grader is not)
    _files: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def files(self, course: Course, cohort: str, session: str) -> dict[str, bytes]:
        """The session's data files, read once per run."""
        with self._lock:
            found = self._files.get((cohort, session))
            if found is None:
                found = self._files[(cohort, session)] = session_files(course, cohort, session)
            return found

    def close(self) -> None:
        """Stop the grader (and every box) unless it is the process's shared one."""
        if self.grader is not None and self.owned:
            self.grader.close()
        self.grader = None

    def __enter__(self) -> CodeRunner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_runner(course: Course, *, unsafe: bool = False, cluster: str | None = None) -> CodeRunner:
    """One sandboxed grader for a grading run (raises :class:`NoSandbox` when none can start).

    ``unsafe=True`` runs trainee code without the sandbox, with the grader's
    own rights: only for submissions the instructor trusts.
    """
    limits = limits_for(course)
    runner = CodeRunner(limits=limits, unsafe=unsafe, cluster=cluster)
    if cluster:
        return runner  # the workers start their own
    with _SHARED_LOCK:
        shared = _SHARED.get(unsafe)
        if shared is not None and shared.zygote.alive():
            runner.grader, runner.owned = shared, False
            return runner
    runner.grader = _open(CodeGrader, unsafe=unsafe, limits=limits)
    return runner


def session_files(course: Course, cohort: str, session: str) -> dict[str, bytes]:
    """The data next to a session's notebook (every file but notebooks and hidden ones), as bytes.

    The boxes get copies in their scratch folders; relative paths are kept.
    More than ``MAX_DATA_FILES`` files or ``MAX_DATA_BYTES`` bytes is an
    error of the course, named with its folder.
    """
    src = course.root / course.cohort(cohort).session(session).notebook
    folder = src.parent
    out: dict[str, bytes] = {}
    total = 0
    if not folder.is_dir():
        return out
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or p.suffix == ".ipynb":
            continue
        if p.is_symlink() or not p.is_file():
            continue
        total += p.stat().st_size
        if len(out) >= MAX_DATA_FILES or total > MAX_DATA_BYTES:
            raise CourseError.at(
                folder,
                say("grade.data_too_big", files=MAX_DATA_FILES, mb=MAX_DATA_BYTES >> 20),
                say("grade.data_too_big_fix"),
            )
        out[rel.as_posix()] = p.read_bytes()
    return out


def run_code_questions(
    course: Course,
    cohort: str,
    session: str,
    keys: SessionKeys,
    code: dict[str, str],
    runner: CodeRunner,
) -> CodeRun:
    """Run the answered code questions with the author's tests; judge every test of every code question.

    ``code`` maps question id → the trainee's source, for answered questions
    only; the instructor edition, its parameters and its tests come from
    ``keys`` (a trainee's own variant when they have one).  Returns a
    :class:`kit.supervisor.CodeRun`: one judged test per expected test
    (``question, name, hidden, passed, points, max_points, message,
    withheld``; tests of questions left out of ``code`` fail as
    ``unanswered``), typed failures, seconds.  Never raises for anything the
    trainee did.
    """
    code_qs = {q for q, s in keys.questions.items() if kinds.find(s.get("kind")).tested}
    expected = [t for t in keys.tests if t["question"] in code_qs]
    if not code:
        return CodeRun(CodeGrader.unrun(expected, set()))
    params = keys.parameters or course.session_parameters(cohort, session)
    job = CodeJob(
        name=session,
        instructor_nb=keys.instructor,
        answers={q: c for q, c in code.items() if q in code_qs},
        expected_tests=expected,
        parameters=params,
        files=runner.files(course, cohort, session),
        limits=runner.limits,
    )
    if runner.cluster:
        return _on_cluster(runner, job)
    if runner.grader is None:
        raise RuntimeError("the code runner is closed")
    return runner.grader.run_job(job)


# ----------------------------------------------------------------------------- a Dask cluster

_WORKER: dict[bool, CodeGrader] = {}
_WORKER_LOCK = threading.Lock()


def _worker_run(job: CodeJob, unsafe: bool) -> CodeRun:
    """(on a Dask worker) Run one submission in this worker's own sandboxed grader."""
    with _WORKER_LOCK:
        grader = _WORKER.get(unsafe)
        if grader is None or not grader.zygote.alive():
            grader = _WORKER[unsafe] = CodeGrader(limits=job.limits, unsafe=unsafe)
            atexit.register(grader.close)
    return grader.run_job(job)


def _on_cluster(runner: CodeRunner, job: CodeJob) -> CodeRun:
    from distributed import Client

    try:
        with Client(runner.cluster) as client:
            # a unique key: the scheduler takes equal keys for the same task
            fut = client.submit(
                _worker_run, job, runner.unsafe, pure=False, key=f"casekit-{uuid.uuid4().hex}"
            )
            return fut.result()
    except Exception as e:  # noqa: BLE001 - the cluster's trouble costs this submission only
        cause = f"dask: {type(e).__name__}: {e}"[:500]
        return CodeRun(
            CodeGrader.unrun(job.expected_tests, set(job.answers)),
            [RunFailure(FailureKind.GRADER, None, None, None, cause)],
        )
