"""Running trainee code for grading: the one seam between grading and the sandbox (issue #9).

``grade`` opens one :class:`CodeRunner` per run (:func:`open_runner`): one
sandboxed grader (:class:`kit.sandbox.supervisor.CodeGrader`, bubblewrap around a
warm zygote) whose limits come from the course configuration, shared by the
run's worker threads.  :func:`run_code_questions` runs one submission's code
answers through it — the trainee's code in one box, the author's tests in
another — and returns the judged tests and the typed failures
(:class:`kit.sandbox.answers.RunFailure`).  Nothing else in grading runs trainee code.

Without bubblewrap or user namespaces :func:`open_runner` refuses
(:class:`NoSandbox`, naming the Debian package), unless the instructor asked
for ``unsafe=True`` (``--unsafe-no-sandbox``): the same protocol without the
sandbox, for submissions they trust.

On a Dask cluster (``cluster=``) the runner holds one client for the whole
run and hands submissions over in batches (:meth:`CodeRunner.stream`): a
task runs several submissions, one after another, in the worker's own
sandboxed grader (kept for the worker's life), so the scheduler's overhead
per task is shared and workers need bubblewrap too.  Results come back batch
by batch as they finish; a batch that fails or whose worker is lost becomes
a failed run for each of its submissions (retried by the next ``grade``).
The session's notebook and data files travel with the batch as bytes, once
per batch (its submissions share them).
"""

from __future__ import annotations

import atexit
import math
import sys
import threading
import uuid
from collections.abc import Hashable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kit import kinds
from kit.course import Course
from kit.grading.keys import SessionKeys
from kit.messages import t as say
from kit.problems import CourseError, UserError
from kit.sandbox.answers import FailureKind, RunFailure
from kit.sandbox.boxes import Limits, SandboxUnavailable
from kit.sandbox.cgroup import NoCgroup
from kit.sandbox.supervisor import CodeGrader, CodeJob, CodeRun

__all__ = [
    "CodeRunner",
    "NoSandbox",
    "code_job",
    "limits_for",
    "open_runner",
    "run_code_questions",
    "session_files",
    "warm_up",
]

K = TypeVar("K", bound=Hashable)

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

    Like :func:`kit.execution.executor.warm_up`: for a long-lived process (a benchmark, a
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
        grader = factory(limits=limits, unsafe=unsafe)
    except SandboxUnavailable as e:
        raise NoSandbox(say("grade.no_sandbox", reason=e.reason)) from None
    if isinstance(grader.zygote.cgroup, NoCgroup):
        print(say("grade.no_cgroup", reason=grader.zygote.cgroup.reason), file=sys.stderr)
    return grader


@dataclass
class CodeRunner:
    """What one ``grade`` run holds to run code answers: its grader, limits and cached data files."""

    limits: Limits
    unsafe: bool = False
    cluster: str | None = None
    grader: CodeGrader | None = None  # None on a cluster: each worker holds its own
    owned: bool = True  # closed with the runner (a shared, warmed-up grader is not)
    client: Any = None  # the run's one Dask client, on a cluster
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
        """Stop the grader (and every box) unless it is the process's shared one; leave the cluster."""
        if self.grader is not None and self.owned:
            self.grader.close()
        self.grader = None
        if self.client is not None:
            client, self.client = self.client, None
            try:
                client.close()
            except Exception:  # noqa: BLE001 - a cluster gone away has nothing left to close
                pass

    def run(self, job: CodeJob) -> CodeRun:
        """Run one submission's code answers (here, or on the cluster as a batch of one)."""
        if self.cluster:
            return next(iter(self.stream([(0, job)])))[1]
        if self.grader is None:
            raise RuntimeError("the code runner is closed")
        return self.grader.run_job(job)

    def stream(
        self, jobs: Iterable[tuple[K, CodeJob]], *, workers: int = 2
    ) -> Iterator[tuple[K, CodeRun]]:
        """Run many submissions; yield ``(tag, run)`` as each finishes (not in order).

        Here: ``workers`` threads on the run's grader.  On a cluster: batches
        of submissions (:func:`batch_size`), a task each, so that a
        submission costs the scheduler a fraction of a task; each batch's
        results are yielded when it finishes.  Never raises for one
        submission or one batch: the cluster's trouble (a task that failed,
        a worker lost mid-batch) comes back as a failed run of each
        submission it held, with the cause.
        """
        todo = list(jobs)
        if not todo:
            return
        if not self.cluster:
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                futs = {pool.submit(self.run, job): tag for tag, job in todo}
                for fut in as_completed(futs):
                    yield futs[fut], fut.result()
            return
        yield from self._stream_cluster(todo)

    def _stream_cluster(self, todo: list[tuple[K, CodeJob]]) -> Iterator[tuple[K, CodeRun]]:
        from distributed import as_completed as dask_completed

        try:
            client = self._client()
            threads = sum(
                int(w.get("nthreads", 1)) for w in client.scheduler_info()["workers"].values()
            )
        except Exception as e:  # noqa: BLE001 - no cluster: every submission fails with the cause
            for tag, job in todo:
                yield tag, _cluster_failure(job, e)
            return
        # a session's submissions side by side: a batch sends their notebook and data once
        todo.sort(key=lambda tj: tj[1].name)
        size = batch_size(len(todo), threads)
        batches = [todo[i : i + size] for i in range(0, len(todo), size)]
        futures: dict[Any, list[tuple[K, CodeJob]]] = {}
        for batch in batches:
            try:
                fut = client.submit(
                    _worker_run_batch,
                    [job for _, job in batch],
                    self.unsafe,
                    pure=False,
                    # unique: the scheduler takes equal keys for the same task
                    key=f"casekit-grade-{uuid.uuid4().hex}",
                )
            except Exception as e:  # noqa: BLE001
                for tag, job in batch:
                    yield tag, _cluster_failure(job, e)
                continue
            futures[fut] = batch
        for fut in dask_completed(list(futures)):
            batch = futures.pop(fut)
            try:
                runs = fut.result()
                if not isinstance(runs, list) or len(runs) != len(batch):
                    raise RuntimeError("a batch came back with the wrong number of results")
            except Exception as e:  # noqa: BLE001 - this batch's trouble, not the run's
                runs = [_cluster_failure(job, e) for _, job in batch]
            for (tag, _), run in zip(batch, runs, strict=True):
                yield tag, run
            fut.release()

    def _client(self) -> Any:
        with self._lock:
            if self.client is None:
                from distributed import Client

                self.client = Client(self.cluster, timeout="20s")
            return self.client

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
        try:
            runner._client()  # one client for the run; the workers start their own graders
        except Exception:  # noqa: BLE001 - unreachable now: each batch will say why
            pass
        return runner
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


def code_job(
    course: Course,
    cohort: str,
    session: str,
    keys: SessionKeys,
    code: dict[str, str],
    runner: CodeRunner,
) -> CodeJob | CodeRun:
    """What running a submission's code answers needs (a :class:`CodeJob`), or its run when nothing is answered.

    ``code`` maps question id → the trainee's source, for answered questions
    only; the instructor edition, its parameters and its tests come from
    ``keys`` (a trainee's own variant when they have one).
    """
    code_qs = {q for q, s in keys.questions.items() if kinds.find(s.get("kind")).tested}
    expected = [t for t in keys.tests if t["question"] in code_qs]
    if not code:
        return CodeRun(CodeGrader.unrun(expected, set()))
    params = keys.parameters or course.session_parameters(cohort, session)
    return CodeJob(
        name=session,
        instructor_nb=keys.instructor,
        answers={q: c for q, c in code.items() if q in code_qs},
        expected_tests=expected,
        parameters=params,
        files=runner.files(course, cohort, session),
        limits=runner.limits,
    )


def run_code_questions(
    course: Course,
    cohort: str,
    session: str,
    keys: SessionKeys,
    code: dict[str, str],
    runner: CodeRunner,
) -> CodeRun:
    """Run the answered code questions with the author's tests; judge every test of every code question.

    Returns a :class:`kit.sandbox.supervisor.CodeRun`: one judged test per expected
    test (``question, name, hidden, passed, points, max_points, message,
    withheld``; tests of questions left out of ``code`` fail as
    ``unanswered``), typed failures, seconds.  Never raises for anything the
    trainee did.  Many submissions at once: :func:`code_job` and
    :meth:`CodeRunner.stream`.
    """
    job = code_job(course, cohort, session, keys, code, runner)
    return job if isinstance(job, CodeRun) else runner.run(job)


def batch_size(n: int, threads: int) -> int:
    """Submissions per cluster task: about four tasks per worker thread (so a slow batch
    or a lost worker costs little), at most 32 submissions (a batch's results wait for its last)."""
    return max(1, min(32, math.ceil(n / max(1, threads * 4))))


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


def _worker_run_batch(jobs: list[CodeJob], unsafe: bool) -> list[CodeRun]:
    """(on a Dask worker) Run a batch of submissions, one after another, in this worker's grader.

    One submission's trouble is its own: the grader never raises for the
    trainee's code, and anything else becomes that submission's failed run.
    """
    out = []
    for job in jobs:
        try:
            out.append(_worker_run(job, unsafe))
        except Exception as e:  # noqa: BLE001
            out.append(_cluster_failure(job, e))
    return out


def _cluster_failure(job: CodeJob, e: BaseException) -> CodeRun:
    cause = f"dask: {type(e).__name__}: {e}"[:500]
    return CodeRun(
        CodeGrader.unrun(job.expected_tests, set(job.answers)),
        [RunFailure(FailureKind.GRADER, None, None, None, cause)],
    )
