"""Grading outcomes into the gradebook, many submissions per transaction.

Grading a programme (tens of thousands of submissions) is bound by the
gradebook's round trips, not by scoring: one transaction and a few
multi-row inserts per batch of submissions instead of an ORM unit of work
per submission (the rows of :meth:`Gradebook.write_grading`; stored submissions as
:meth:`Gradebook.add_submission` registers them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from kit.gradebook.book import Gradebook
from kit.gradebook.schema import (
    Base,
    Flag,
    Grade,
    Result,
    RubricMark,
    RunFailureRow,
    Submission,
    TestResult,
    to_utc_naive,
    utcnow,
)

__all__ = ["add_submissions", "grades_of", "has_marks", "write_gradings"]

_CHUNK = 500  # ids per IN (...): within every database's limit of parameters


def grades_of(gb: Gradebook, cohort: str, session: str | None = None) -> dict[int, tuple[str, str]]:
    """``submission id → (fingerprint, status)`` of every graded current submission, in one query."""
    q = (
        select(Grade.submission_id, Grade.fingerprint, Grade.status)
        .join(Submission, Submission.id == Grade.submission_id)
        .where(Submission.cohort == cohort, Submission.is_current.is_(True))
    )
    if session:
        q = q.where(Submission.session == session)
    return {sid: (fp, st) for sid, fp, st in gb.session.execute(q)}


def has_marks(gb: Gradebook, cohort: str, session: str | None = None) -> bool:
    """Whether any hand mark is recorded for the cohort (or one session of it)."""
    q = select(RubricMark.trainee).where(RubricMark.cohort == cohort)
    if session:
        q = q.where(RubricMark.session == session)
    return gb.session.execute(q.limit(1)).first() is not None


def write_gradings(gb: Gradebook, payloads: list[tuple[int, dict[str, Any]]]) -> None:
    """Replace everything autograde knows about these submissions, in one transaction.

    ``payloads``: ``(submission id, {grade, results, tests, flags, failures})``
    as :meth:`Gradebook.write_grading` takes them.  All or nothing: the
    caller retries a failed batch one submission at a time.
    """
    if not payloads:
        return
    ids = [sid for sid, _ in payloads]
    now = utcnow()
    rows: dict[type[Base], list[dict[str, Any]]] = {
        Grade: [], Result: [], TestResult: [], Flag: [], RunFailureRow: [],
    }  # fmt: skip
    for sid, p in payloads:
        rows[Grade].append({"submission_id": sid, "graded_at": now, **p["grade"]})
        rows[Result] += [{"submission_id": sid, **r} for r in p["results"]]
        rows[TestResult] += [{"submission_id": sid, **t} for t in p["tests"]]
        rows[Flag] += [{"submission_id": sid, **f} for f in p["flags"]]
        failures = p.get("failures") or []
        rows[RunFailureRow] += [
            {"submission_id": sid, "seq": i, **f} for i, f in enumerate(failures)
        ]
    with gb.transaction() as s:
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            for model in (Result, TestResult, Flag, RunFailureRow, Grade):
                s.execute(
                    delete(model).where(model.submission_id.in_(chunk)),
                    execution_options={"synchronize_session": False},
                )
        s.expire_all()  # grade rows loaded before are gone
        for table, batch in rows.items():
            # one statement per shape of row: a multi-row insert each
            shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for r in batch:
                shapes.setdefault(tuple(sorted(r)), []).append(r)
            for same in shapes.values():
                s.execute(insert(table), same)


def add_submissions(gb: Gradebook, cohort: str, found: list[dict[str, Any]]) -> int:
    """Register stored submissions in one transaction; return how many were new.

    ``found``: ``{session, trainee, sha256, path, received_at, source}`` each.
    Like :meth:`Gradebook.add_submission` for each (a submission already
    known by its content is not added twice; the latest, or the pinned one,
    is current), with one query for what is known and one for the currents.
    """
    if not found:
        return 0
    with gb.transaction() as s:
        known: set[tuple[Any, ...]] = set(
            tuple(r)
            for r in s.execute(
                select(Submission.session, Submission.trainee, Submission.sha256).where(
                    Submission.cohort == cohort
                )
            ).all()
        )
        now = utcnow()
        new = []
        for f in found:
            k = (f["session"], f["trainee"], f["sha256"])
            if k in known:
                continue
            known.add(k)
            new.append(
                {**f, "cohort": cohort, "received_at": to_utc_naive(f["received_at"]),
                 "collected_at": now, "is_current": False}
            )  # fmt: skip
        if not new:
            return 0
        s.execute(insert(Submission), new)
        touched = {(f["session"], f["trainee"]) for f in new}
        subs = s.execute(
            select(Submission.id, Submission.session, Submission.trainee, Submission.received_at,
                   Submission.sha256, Submission.pinned, Submission.is_current)
            .where(Submission.cohort == cohort)
        ).all()  # fmt: skip
        groups: dict[tuple[str, str], list[Any]] = {}
        for r in subs:
            if (r.session, r.trainee) in touched:
                groups.setdefault((r.session, r.trainee), []).append(r)
        changes = []
        for rows in groups.values():
            pinned = [r for r in rows if r.pinned]
            # as Gradebook._recompute_current: the latest counts unless the instructor picked one
            chosen = pinned[0] if pinned else max(rows, key=lambda r: (r.received_at, r.sha256))
            changes += [
                {"id": r.id, "is_current": r is chosen}
                for r in rows
                if bool(r.is_current) != (r is chosen)
            ]
        if changes:
            s.execute(update(Submission), changes)
        s.expire_all()
    return len(new)
