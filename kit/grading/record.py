"""Grading outcomes into the gradebook, many submissions per transaction.

Grading a programme (tens of thousands of submissions) is bound by the
gradebook's round trips, not by scoring: one transaction and a few
multi-row inserts per batch of submissions instead of an ORM unit of work
per submission.  The rows are those of :meth:`kit.gradebook.Gradebook.write_grading`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select

from kit.gradebook import (
    Base,
    Flag,
    Grade,
    Gradebook,
    Result,
    RunFailureRow,
    Submission,
    TestResult,
    utcnow,
)

__all__ = ["grades_of", "write_gradings"]

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
