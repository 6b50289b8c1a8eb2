"""``grade``: score every current submission into the gradebook.

Grading never runs a trainee's workbook as it is: widget answers are scored
from ``answers.json`` against the keys file without a kernel (each by its
kind's ``score``, :mod:`kit.kinds`), and code answers run through
:func:`kit.grading.coderun.run_code_questions`. Tamper checks
(:mod:`kit.grading.tamper`) compare the handed-in notebook with the locks the
build recorded; flags never change a score. Submissions are written in batches, one transaction each; a rerun resumes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import nbformat
from sqlalchemy import select

from kit import access, artifacts, kinds
from kit.artifacts import JudgedTest, answer_cell_qid
from kit.course import Course, as_course
from kit.gradebook import (
    FAILED,
    GRADED,
    NEEDS_MARKING,
    Gradebook,
    RunFailureRow,
    Submission,
    to_utc_naive,
)
from kit.gradebook.batch import grades_of, has_marks, write_gradings
from kit.grading.coderun import CodeRunner, code_job, open_runner, run_code_questions
from kit.grading.keys import SessionKeys, load_keys
from kit.grading.submissions import index_store
from kit.grading.tamper import tamper_flags
from kit.kinds import Score
from kit.kinds.base import QuestionSpec, without_controls
from kit.messages import t as say
from kit.notebooks import casekit_meta, source
from kit.problems import CourseError, Failure
from kit.sandbox.answers import FailureKind, RunFailure, TestOutcome
from kit.sandbox.supervisor import CodeJob, CodeRun
from kit.untrusted import invisible_characters

GRADER_VERSION = "2"  # 2: code answers run in the sandbox
WRITE_BATCH = 500  # submissions per gradebook transaction
WRITE_SECONDS = 0.5  # ... or what was graded in this long, whichever comes first


@dataclass
class GradeResult:
    """What ``grade`` did."""

    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)


# ================================================================ scoring


def _answer_value(entry: Any) -> Any:
    return entry.get("value") if isinstance(entry, dict) and "value" in entry else entry


def _trainee_code(qid: str, answers: dict[str, Any], submitted: Any | None) -> str | None:
    code = kinds.get("code")
    value = _answer_value(answers.get(qid))
    if isinstance(value, str) and not code.is_empty(value):
        return value
    if submitted is None:
        return None
    for cell in submitted.cells:
        src = source(cell)
        if cell.get("cell_type") == "code" and answer_cell_qid(src) == qid:
            # the stub as released is no answer: it shows and grades as unanswered
            return None if code.is_empty(src) else src
    for cell in submitted.cells:
        m = casekit_meta(cell)
        if (
            cell.get("cell_type") == "code"
            and m.get("role") == "answer"
            and m.get("question") == qid
        ):
            return source(cell)
    return None


def _at_the_door(
    kind: kinds.Kind, spec: QuestionSpec, qid: str, value: Any
) -> tuple[Any, list[dict[str, str]]]:
    """An answer as grading may take it, and the flags it earned.

    Free texts lose control characters (a widget cannot type them; they
    break spreadsheet exports); an answer compared with a key or a rating
    that holds one is refused, as is a rating off its scale (it would be
    averaged into a teacher's score).
    A refused answer counts as unanswered; the stored submission keeps it.
    """
    where = f"question {qid}"[:200]
    clean = without_controls(value)
    if clean != value:
        flag = {"code": "control-characters", "where": where}
        flag["message"] = say("tamper.control_characters", qid=qid)
        if kind.keyed or not kind.graded:  # compared with a key, or averaged: refused
            return None, [flag]
        return clean, [flag]
    hidden = invisible_characters(json.dumps(value, ensure_ascii=False))
    if hidden:  # kept (a text may quote one), shown: it may read differently from what it is
        message = say("tamper.invisible_characters", qid=qid, chars=", ".join(hidden))
        invisible = [{"code": "invisible-characters", "where": where, "message": message}]
    else:
        invisible = []
    problem = None if kind.graded else kind.valid(spec, value)
    if problem:
        message = say("tamper.invalid_answer", qid=qid, why=say(problem))
        return None, [{"code": "invalid-answer", "where": where, "message": message}, *invisible]
    return value, invisible


# ================================================================ grade


def _late(course: Course, cohort: str, session: str, received: datetime) -> tuple[int, float]:
    due = course.due_at(cohort, session)
    if due is None:
        return 0, 0.0
    late = to_utc_naive(received) - to_utc_naive(due)
    if late <= timedelta(0):
        return 0, 0.0
    days = math.ceil(late / timedelta(days=1))
    g = course.config.grading
    return days, round(min(g.late_penalty_cap, days * g.late_penalty_per_day), 6)


@dataclass
class _Job:
    sub_id: int
    label: str
    path: Path
    session: str
    trainee: str
    received: datetime
    fingerprint: str


@dataclass
class _Read:
    """A submission read for grading: its answers, flags and code answers (the notebook is not kept)."""

    answers: dict[str, Any]
    flags: list[dict[str, str]]
    code: dict[str, str | None]

    @property
    def answered(self) -> dict[str, str]:
        """The code answers to run: answered and not a stub."""
        return {
            q: c for q, c in self.code.items() if c is not None and not kinds.is_empty("code", c)
        }


def _read(job: _Job, keys: SessionKeys) -> _Read | dict[str, Any]:
    """Read one submission's files; a failed payload when nothing gradable can be read."""
    answers_doc = {}
    apath = job.path / "answers.json"
    if apath.exists():
        try:
            answers_doc = json.loads(apath.read_text("utf-8"))
        except (ValueError, RecursionError, MemoryError):  # the submission's, never the grader's
            return _failed(job, keys, say("grade.answers_json"), FailureKind.UNREADABLE)
    answers = answers_doc.get("answers") or {} if isinstance(answers_doc, dict) else {}
    if not isinstance(answers, dict):
        return _failed(job, keys, say("grade.no_answers_object"), FailureKind.UNREADABLE)
    submitted = None
    npath = job.path / "workbook.ipynb"
    if npath.exists():
        try:
            submitted = _workbook(npath.read_bytes())
        except Exception as e:  # noqa: BLE001 - any unreadable notebook is a cause, not a crash
            if not answers:
                why = say("grade.workbook_unreadable", error=e)
                return _failed(job, keys, why, FailureKind.UNREADABLE)
    if submitted is None and not answers:
        return _failed(job, keys, say("grade.nothing_readable"), FailureKind.UNREADABLE)
    flags = tamper_flags(submitted, keys, answers)
    if isinstance(answers_doc, dict) and answers_doc.get("source") and submitted is None:
        from kit.importers import submission_flags  # another tool's own checks (nbgrader's)

        flags += submission_flags(job.path)
    code_qs = [q for q, s in keys.questions.items() if kinds.find(s.get("kind")).tested]
    code = {q: _trainee_code(q, answers, submitted) for q in code_qs}
    return _Read(answers, flags, code)


@dataclass
class _Cells:
    """What grading reads of a handed-in workbook: its cells (id, type, source, metadata)."""

    cells: list[dict[str, Any]]


class _CellRead(msgspec.Struct):
    """The parts of a cell grading reads; a part the cell lacks stays UNSET (not made up)."""

    id: Any = msgspec.UNSET
    cell_type: Any = msgspec.UNSET
    metadata: Any = msgspec.UNSET
    source: Any = ""


class _NotebookRead(msgspec.Struct):
    cells: list[_CellRead]
    nbformat: Any = None


# outputs, attachments and the notebook's metadata (widget state) are skipped, not built
_DECODE_CELLS = msgspec.json.Decoder(_NotebookRead)


def _workbook(raw: bytes) -> Any:
    """A handed-in workbook's cells, without outputs, validation or conversion.

    The grader reads only cell ids, types, sources and metadata, so the
    outputs (most of a workbook's bytes) are scanned as JSON but never
    turned into Python objects, let alone notebook nodes: reading a
    programme's workbooks with ``nbformat.reads`` cost more than everything
    else grading does, and ``json.loads`` still most of a widget-only grade.
    Anything but a plain nbformat-4 notebook goes through ``nbformat.reads``.
    """
    try:
        nb = _DECODE_CELLS.decode(raw)
    except msgspec.DecodeError:  # not that shape (or not JSON): read whole, as any notebook
        nb = None
    if nb is not None and nb.nbformat == 4:
        out = []
        for c in nb.cells:
            cell = {
                k: v
                for k in ("id", "cell_type", "metadata")
                if (v := getattr(c, k)) is not msgspec.UNSET
            }
            src = c.source
            cell["source"] = "".join(src) if isinstance(src, list) else src
            out.append(cell)
        return _Cells(out)
    text = raw.decode("utf-8")
    doc = json.loads(text)
    cells = doc.get("cells") if isinstance(doc, dict) and doc.get("nbformat") == 4 else None
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        return nbformat.reads(text, as_version=4)
    out = []
    for c in cells:
        cell = {k: c[k] for k in ("id", "cell_type", "metadata") if k in c}
        cell["source"] = source(c)
        out.append(cell)
    return _Cells(out)


def _grade_one(
    course: Course, cohort: str, job: _Job, keys: SessionKeys, runner: CodeRunner | None
) -> dict[str, Any]:
    """Grade one submission; return the gradebook payload. Raises only on a bug in the grader."""
    read = _read(job, keys)
    if not isinstance(read, _Read):
        return read
    run = None
    if read.code and runner is not None:
        run = run_code_questions(course, cohort, job.session, keys, read.answered, runner)
    return _score(course, cohort, job, keys, read, run)


def _score(
    course: Course, cohort: str, job: _Job, keys: SessionKeys, read: _Read, run: CodeRun | None
) -> dict[str, Any]:
    """The gradebook payload of a read submission and its code run (None: no code to run)."""
    answers, flags, code = read.answers, list(read.flags), read.code
    results: list[dict[str, Any]] = []
    tests: list[JudgedTest] = []
    failures: list[RunFailure] = []
    seconds = 0.0
    if run is not None:
        answered = read.answered
        tests, failures, seconds = run.tests, run.failures, run.seconds
        # a question nobody answered gets no credit even if its tests happen to pass
        for t in tests:
            t.pop("withheld", None)
            if t["question"] not in answered:
                t.update(
                    {
                        "passed": False,
                        "points": 0.0,
                        "message": "",
                        "outcome": TestOutcome.UNANSWERED,
                    }
                )

    for pos, (qid, spec) in enumerate(keys.questions.items()):
        kind = kinds.find(spec.get("kind"))
        base = {
            "question": qid,
            "position": pos,
            "kind": spec.get("kind", ""),
            "unit": spec.get("unit") or "",
            "prompt": str(spec.get("prompt", ""))[:5000],
        }
        if kind.tested:
            value = code[qid]
            q_tests = [t for t in tests if t["question"] == qid]
            own = [f for f in failures if f.question in (qid, None)] if value else []
            sc = kind.score(spec, None, value, tests=q_tests, run_error=_in_words(own))
            answer = json.dumps(value)
        else:
            value, refused = _at_the_door(kind, spec, qid, _answer_value(answers.get(qid)))
            flags += refused
            try:
                sc = kind.score(spec, keys.keys.get(qid), value)
            except Exception as e:  # noqa: BLE001 - a scoring error costs this question only
                maxp = float(spec.get("points", 1) or 0)
                sc = Score(0.0, maxp, "error", say("grade.cannot_score", error=e))
            answer = json.dumps(value, ensure_ascii=False, default=str)
        results.append(
            {**base, "answer": answer, "points": float(sc.points),
             "max_points": float(sc.max_points), "status": str(sc.status),
             "detail": str(sc.detail or "")[:2000],
             "manual": kind.manual and sc.status == NEEDS_MARKING and sc.max_points > 0}
        )  # fmt: skip
    days, penalty = _late(course, cohort, job.session, job.received)
    open_items = any(r["manual"] for r in results)
    # the grader's own trouble makes the whole grade doubtful: failed, retried by the next run
    trouble = [f for f in failures if f.kind == FailureKind.GRADER]
    grade = {
        "status": FAILED if trouble else NEEDS_MARKING if open_items else GRADED,
        "cause": say("grade.grader_error", error=_in_words(trouble)) if trouble else "",
        "auto_points": round(sum(r["points"] for r in results), 6),
        "max_points": round(sum(r["max_points"] for r in results), 6),
        "days_late": days,
        "penalty": penalty,
        "fingerprint": job.fingerprint,
        "seconds": round(seconds, 3),
    }
    stored = [{"question": f.question or "", **_typed(f)} for f in failures]
    return {
        "grade": grade,
        "results": results,
        "tests": tests,
        "flags": flags,
        "failures": stored,
    }


def _typed(f: RunFailure) -> dict[str, Any]:
    return {"kind": str(f.kind), "cell": f.cell, "line": f.line, "detail": f.detail}


def _in_words(failures: list[RunFailure]) -> str | None:
    """The failures of a question's run, for the instructor (the score's detail)."""
    return "; ".join(f"{f.kind}: {f.detail}" for f in failures)[:1000] or None


def _failed(job: _Job, keys: SessionKeys, cause: str, kind: FailureKind) -> dict[str, Any]:
    """A submission that could not be graded: ``cause`` for the instructor, ``kind`` for its page."""
    mx = sum(float(s.get("points", 0) or 0) for s in keys.questions.values())
    grade = {
        "status": FAILED,
        "cause": cause,
        "auto_points": 0.0,
        "max_points": mx,
        "days_late": 0,
        "penalty": 0.0,
        "fingerprint": job.fingerprint,
        "seconds": 0.0,
    }
    failure = {"question": "", "kind": str(kind), "cell": None, "line": None, "detail": cause}
    return {"grade": grade, "results": [], "tests": [], "flags": [], "failures": [failure]}


def grade(
    course: Course | Path | str,
    cohort: str,
    session: str | None = None,
    *,
    db: str | None = None,
    workers: int | None = None,
    force: bool = False,
    progress: bool = True,
    cluster: str | None = None,
    unsafe: bool = False,
) -> GradeResult:
    """Score every current submission of a cohort (or one session) into the gradebook.

    Widget answers are scored without a kernel; code answers run in the
    instructor edition with the author's tests, isolated and time- and
    memory-bound, in a sandbox (:mod:`kit.grading.coderun`; ``unsafe=True``
    runs them without one, for trusted submissions only). Submissions are written in batches, a transaction each; one that
    is already graded with the same inputs (submission, keys, instructor
    edition, grader version) is skipped, so a rerun after a crash resumes and
    a full rerun changes nothing. ``force`` regrades everything.
    """
    c = as_course(course)
    co = c.cohort(cohort)
    res = GradeResult()
    sessions = [co.session(session).session] if session else [s.session for s in co.sessions]
    access.protect_course(
        c, cohort, only=("gradebook.sqlite",)
    )  # the gradebook is created the owner's only (#19)
    with Gradebook.open(c.root, db) as gb:
        index_store(c, cohort, gb=gb, session=session)
        run = gb.start_run(cohort, session)
        jobs = _jobs(c, cohort, session, sessions, gb, res, force=force)
        n_workers = workers or max(1, min(4, os.cpu_count() or 1))
        # one sandbox for the whole run, opened only when some submission has code to run
        coded = any(_has_code(k) for _, k in jobs)
        runner = open_runner(c, unsafe=unsafe, cluster=cluster) if coded else None
        with _closing(runner), _progress(progress, len(jobs)) as bar:
            _grade_jobs(c, cohort, gb, jobs, res, runner, n_workers, bar)
        gb.finish_run(
            run, graded=len(res.graded), skipped=len(res.skipped), failed=len(res.failures)
        )
        _statuses_now(gb, cohort, session, res)
    return res


def _statuses_now(gb: Gradebook, cohort: str, session: str | None, res: GradeResult) -> None:
    """Each submission's status as it is now in `res`: hand marks since an earlier run close open items."""
    if has_marks(gb, cohort, session):
        now = gb.submission_scores(cohort, session)
        current = {
            f"{t}/{s}": st
            for t, s, st in zip(now["trainee"], now["session"], now["status"], strict=True)
        }
        res.statuses = {label: current.get(label, st) for label, st in res.statuses.items()}


def _keys_of(c: Course, cohort: str, sub: Submission) -> SessionKeys | CourseError:
    """The keys `sub` is graded by (its trainee's variant's), or why they cannot be read."""
    try:
        return load_keys(c, cohort, sub.session, sub.trainee)
    except CourseError as e:
        return e
    except (ValueError, OSError) as e:
        where = artifacts.build_paths(c, cohort, sub.session, sub.trainee).keys
        return CourseError.at(where, say("grade.keys_unreadable", error=e))


def _jobs(
    c: Course,
    cohort: str,
    session: str | None,
    sessions: list[str],
    gb: Gradebook,
    res: GradeResult,
    *,
    force: bool,
) -> list[tuple[_Job, SessionKeys]]:
    """The current submissions to grade, each with its keys.

    One graded before with the same inputs is skipped (unless `force`, or its
    grader failed); one whose keys cannot be read is a failure. Both go into `res`.
    """
    co = c.cohort(cohort)
    g = c.config.grading
    policy = f"{g.late_penalty_per_day}:{g.late_penalty_cap}:{c.zone}"
    jobs: list[tuple[_Job, SessionKeys]] = []
    # by session and variant: a trainee with a variant of their own is graded by its keys
    keys_by_variant: dict[tuple[str, str | None], SessionKeys | CourseError] = {}
    graded = grades_of(gb, cohort, session)
    # a failure the submission caused is final; only the grader's own is tried again
    retry = _grader_failed(gb, cohort)
    for sub in gb.current_submissions(cohort, session):
        if sub.session not in sessions:
            continue
        label = f"{sub.trainee}/{sub.session}"
        variant = artifacts.variant_of(c, cohort, sub.session, sub.trainee)
        if (sub.session, variant) not in keys_by_variant:
            keys_by_variant[(sub.session, variant)] = _keys_of(c, cohort, sub)
        keys = keys_by_variant[(sub.session, variant)]
        if isinstance(keys, CourseError):
            res.failures.append(Failure(label, str(keys)))
            continue
        due = co.session(sub.session).due
        fp = hashlib.sha256(
            f"{GRADER_VERSION}|{sub.sha256}|{keys.fingerprint}|{policy}|{due}|{sub.received_at}".encode()
        ).hexdigest()
        old_fp, old_status = graded.get(sub.id, (None, None))
        if old_fp == fp and (old_status != FAILED or sub.id not in retry) and not force:
            res.skipped.append(label)
            res.statuses[label] = str(old_status)
            continue
        job = _Job(sub.id, label, c.root / sub.path, sub.session, sub.trainee, sub.received_at, fp)
        jobs.append((job, keys))
    return jobs


def _grade_jobs(
    c: Course,
    cohort: str,
    gb: Gradebook,
    jobs: list[tuple[_Job, SessionKeys]],
    res: GradeResult,
    runner: CodeRunner | None,
    n_workers: int,
    p: Any,
) -> None:
    """Grade `jobs` into the gradebook a batch per transaction, each outcome into `res`.

    `p` is the progress bar (None when none is shown).
    """
    task = p.add_task(say("grade.progress", cohort=cohort), total=len(jobs)) if p else None
    pending: list[tuple[_Job, dict[str, Any]]] = []
    since = time.monotonic()

    def flush() -> None:
        written = _write(gb, pending, res)
        for job, payload in written:
            status = payload["grade"]["status"]
            res.statuses[job.label] = status
            if status == FAILED:
                res.failures.append(Failure(job.label, payload["grade"]["cause"], str(job.path)))
            else:
                res.graded.append(job.label)
        if p:
            p.advance(task, len(pending))
        pending.clear()

    for job, _keys, payload in _payloads(c, cohort, jobs, runner, n_workers):
        pending.append((job, payload))
        # a batch per transaction; a crash loses at most a batch (the rerun resumes)
        if len(pending) >= WRITE_BATCH or time.monotonic() - since > WRITE_SECONDS:
            flush()
            since = time.monotonic()
    flush()


def _grader_failed(gb: Gradebook, cohort: str) -> set[int]:
    """Submissions of `cohort` whose last grading failed for the grader's own reasons."""
    q = (
        select(RunFailureRow.submission_id)
        .join(Submission, Submission.id == RunFailureRow.submission_id)
        .where(Submission.cohort == cohort, RunFailureRow.kind == str(FailureKind.GRADER))
    )
    return set(gb.session.scalars(q))


def _has_code(keys: SessionKeys) -> bool:
    return any(kinds.find(s.get("kind")).tested for s in keys.questions.values())


def _payloads(
    c: Course,
    cohort: str,
    jobs: list[tuple[_Job, SessionKeys]],
    runner: CodeRunner | None,
    n_workers: int,
) -> Iterator[tuple[_Job, SessionKeys, dict[str, Any]]]:
    """Grade the jobs; yield each one's gradebook payload as it is ready (never raises for one job).

    Without code to run, one after another here (scoring holds the
    interpreter); with code, every submission is one thread's work.  On a cluster the
    submissions are read here, those with code to run go to the cluster
    together (:meth:`CodeRunner.stream`: batches, results as they finish),
    the others are scored at once.
    """

    def guarded(job: _Job, keys: SessionKeys, work: Any, *args: Any) -> Any:
        try:
            return work(*args)
        except Exception as e:  # noqa: BLE001 - one submission never sinks the batch
            cause = say("grade.grader_error", error=f"{type(e).__name__}: {e}")
            return _failed(job, keys, cause, FailureKind.GRADER)

    if runner is None:
        # nothing but scoring: bound by the interpreter, so threads would only take turns
        for job, keys in jobs:
            yield job, keys, guarded(job, keys, _grade_one, c, cohort, job, keys, None)
        return
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        if not runner.cluster:
            # code in the pool's threads (they wait on the sandbox), widget-only submissions
            # scored here meanwhile: the run takes about the longer of the two, not their sum
            coded = [(job, keys) for job, keys in jobs if _has_code(keys)]
            futs = {
                pool.submit(guarded, job, keys, _grade_one, c, cohort, job, keys, runner): (
                    job,
                    keys,
                )
                for job, keys in coded
            }
            for job, keys in jobs:
                if not _has_code(keys):
                    yield job, keys, guarded(job, keys, _grade_one, c, cohort, job, keys, None)
            for fut in as_completed(futs):
                yield (*futs[fut], fut.result())
            return
        reads = {
            pool.submit(guarded, job, keys, _read, job, keys): (job, keys) for job, keys in jobs
        }
        to_run: list[tuple[int, CodeJob]] = []
        waiting: dict[int, tuple[_Job, SessionKeys, _Read]] = {}
        for fut in as_completed(reads):
            job, keys = reads[fut]
            read = fut.result()
            if not isinstance(read, _Read):
                yield job, keys, read
                continue
            if not read.code:
                yield job, keys, guarded(job, keys, _score, c, cohort, job, keys, read, None)
                continue
            try:
                cj = code_job(c, cohort, job.session, keys, read.answered, runner)
            except Exception as e:  # noqa: BLE001 - a session's data the runner cannot send
                cause = say("grade.grader_error", error=f"{type(e).__name__}: {e}")
                yield job, keys, _failed(job, keys, cause, FailureKind.GRADER)
                continue
            if isinstance(cj, CodeRun):
                yield job, keys, guarded(job, keys, _score, c, cohort, job, keys, read, cj)
                continue
            waiting[job.sub_id] = (job, keys, read)
            to_run.append((job.sub_id, cj))
        for sub_id, run in runner.stream(to_run):
            job, keys, read = waiting.pop(sub_id)
            yield job, keys, guarded(job, keys, _score, c, cohort, job, keys, read, run)


def _write(
    gb: Gradebook, pending: list[tuple[_Job, dict[str, Any]]], res: GradeResult
) -> list[tuple[_Job, dict[str, Any]]]:
    """Write a batch of payloads in one transaction; what was written.

    A batch the gradebook refuses is written again one submission at a
    time, so that one bad row costs its own submission only.
    """
    try:
        write_gradings(gb, [(job.sub_id, payload) for job, payload in pending])
        return list(pending)
    except Exception:  # noqa: BLE001 - retried one by one below
        pass
    written = []
    for job, payload in pending:
        try:
            gb.write_grading(job.sub_id, **payload)
            written.append((job, payload))
        except Exception as e:  # noqa: BLE001
            res.failures.append(Failure(job.label, say("grade.cannot_write", error=e)))
    return written


@contextmanager
def _closing(runner: CodeRunner | None) -> Iterator[None]:
    try:
        yield
    finally:
        if runner is not None:
            runner.close()


class _NoProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: Any) -> None:
        return None


def _progress(show: bool, total: int) -> Any:
    if not show or total == 0:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )
