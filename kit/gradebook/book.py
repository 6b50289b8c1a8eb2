"""The open gradebook: one engine and one ORM session per command run, writes and DataFrame queries.

Every write goes through :meth:`Gradebook.transaction`, so a run killed half-way
leaves only whole items behind and the next run resumes from them. Rows are
written as "delete what this item had, insert what it has now" inside one
transaction: a rerun therefore gives the same gradebook as a clean run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from kit.artifacts import JudgedTest
from kit.artifacts import gradebook_url as resolve_url  # where the gradebook is: a layout fact
from kit.gradebook.schema import (
    FAILED,
    GRADED,
    MARK_SOURCES,
    NEEDS_MARKING,
    SCHEMA_VERSION,
    Base,
    Flag,
    Grade,
    GradingRun,
    Meta,
    Result,
    RubricMark,
    RunFailureRow,
    Submission,
    TestResult,
    make_engine,
    to_utc_naive,
    upgrade,
    utcnow,
)


class Gradebook:
    """An open gradebook: one engine and one ORM session for a command run.

    Use as a context manager; :meth:`transaction` wraps each unit of work.
    """

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        upgrade(self.engine)
        self.session = Session(self.engine, expire_on_commit=False)
        with self.transaction() as s:
            meta = s.get(Meta, "schema")
            if meta is None:
                s.add(Meta(key="schema", value=str(SCHEMA_VERSION)))
            elif meta.value.isdigit() and int(meta.value) < SCHEMA_VERSION:
                meta.value = str(SCHEMA_VERSION)  # `upgrade` brought an older file up to this one

    @classmethod
    def open(cls, course_root: Path | str, db: str | None = None) -> Gradebook:
        """Open the gradebook of a course (see :func:`resolve_url`)."""
        return cls(resolve_url(course_root, db))

    def close(self) -> None:
        """Close the session and dispose of the engine's connections."""
        self.session.close()
        self.engine.dispose()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction on the run's session: commit on success, roll back on error."""
        try:
            yield self.session
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise

    # ------------------------------------------------------------ submissions

    def add_submission(
        self,
        *,
        cohort: str,
        session: str,
        trainee: str,
        sha256: str,
        path: str,
        received_at: datetime,
        source: str = "",
    ) -> tuple[Submission, bool]:
        """Register a stored submission; return it and whether it is new. Recomputes ``is_current``."""
        with self.transaction() as s:
            found = s.scalars(
                select(Submission).filter_by(
                    cohort=cohort, session=session, trainee=trainee, sha256=sha256
                )
            ).first()
            if found:
                return found, False
            sub = Submission(
                cohort=cohort,
                session=session,
                trainee=trainee,
                sha256=sha256,
                path=path,
                received_at=to_utc_naive(received_at),
                collected_at=utcnow(),
                source=source,
            )
            s.add(sub)
            s.flush()
            self._recompute_current(s, cohort, session, trainee)
            return sub, True

    def _recompute_current(self, s: Session, cohort: str, session: str, trainee: str) -> None:
        subs = s.scalars(
            select(Submission).filter_by(cohort=cohort, session=session, trainee=trainee)
        ).all()
        pinned = [x for x in subs if x.pinned]
        # the latest counts unless the instructor picked one; ties broken by id for determinism
        chosen = pinned[0] if pinned else max(subs, key=lambda x: (x.received_at, x.sha256))
        for x in subs:
            x.is_current = x is chosen

    def pick(self, submission_id: int) -> Submission:
        """Make this submission the one that counts for its trainee and session (instructor's choice)."""
        with self.transaction() as s:
            sub = s.get(Submission, submission_id)
            if sub is None:
                raise KeyError(f"no submission {submission_id}")
            for x in s.scalars(
                select(Submission).filter_by(
                    cohort=sub.cohort, session=sub.session, trainee=sub.trainee
                )
            ):
                x.pinned = x.id == sub.id
            self._recompute_current(s, sub.cohort, sub.session, sub.trainee)
            return sub

    def current_submissions(self, cohort: str, session: str | None = None) -> list[Submission]:
        """The submissions that count, ordered by session and trainee."""
        q = select(Submission).filter_by(cohort=cohort, is_current=True)
        if session:
            q = q.filter_by(session=session)
        return list(self.session.scalars(q.order_by(Submission.session, Submission.trainee)))

    # ------------------------------------------------------------ grading

    def write_grading(
        self,
        submission_id: int,
        *,
        grade: dict[str, Any],
        results: list[dict[str, Any]],
        tests: list[JudgedTest],
        flags: list[dict[str, Any]],
        failures: list[dict[str, Any]] | None = None,
    ) -> None:
        """Replace everything autograde knows about one submission, in one transaction."""
        # Core statements, not ORM objects: a grading run writes one of these per
        # submission, and the unit of work cost as much as a sandboxed run.
        rows: list[tuple[Any, list[dict[str, Any]]]] = [
            (Grade, [{"submission_id": submission_id, "graded_at": utcnow(), **grade}]),
            (Result, [{"submission_id": submission_id, **r} for r in results]),
            (TestResult, [{"submission_id": submission_id, **t} for t in tests]),
            (Flag, [{"submission_id": submission_id, **f} for f in flags]),
            (RunFailureRow, [{"submission_id": submission_id, "seq": i, **f}
                             for i, f in enumerate(failures or [])]),
        ]  # fmt: skip
        with self.transaction() as s:
            conn = s.connection()  # the tables themselves: no ORM bulk machinery per row
            for model, _ in rows:
                table = model.__table__
                conn.execute(delete(table).where(table.c.submission_id == submission_id))
            for model, values in rows:
                if values:
                    conn.execute(insert(model.__table__), values)

    def start_run(self, cohort: str, session: str | None) -> GradingRun:
        with self.transaction() as s:
            run = GradingRun(cohort=cohort, session=session or "", started_at=utcnow())
            s.add(run)
            s.flush()
            return run

    def finish_run(self, run: GradingRun, *, graded: int, skipped: int, failed: int) -> None:
        with self.transaction():
            run.finished_at = utcnow()
            run.graded, run.skipped, run.failed = graded, skipped, failed
            run.status = "done"

    # ------------------------------------------------------------ marks

    def write_marks(self, **mark: Any) -> None:
        """Replace the marks of one question for these trainees (one transaction).

        Keyword arguments: cohort, session, trainees, question, rows, and
        optionally group, marker, submission_ids, source (see `_write_marks`).
        """
        self.write_marks_many([mark])

    def write_marks_many(self, marks: list[dict[str, Any]]) -> None:
        """Several `write_marks` calls (their keyword arguments) in one transaction: all or none."""
        at = utcnow()
        with self.transaction() as s:
            for m in marks:
                self._write_marks(s, at=at, **m)

    def _write_marks(
        self,
        s: Session,
        *,
        at: datetime,
        cohort: str,
        session: str,
        trainees: list[str],
        question: str,
        rows: list[dict[str, Any]],
        group: str = "",
        marker: str = "",
        submission_ids: dict[str, int | None] | None = None,
        source: str = "item",
    ) -> None:
        """Delete the marks of `question` for `trainees`, add `rows` for each (in transaction `s`)."""
        if source not in MARK_SOURCES:
            raise ValueError(f"mark source {source!r} is not one of {MARK_SOURCES}")
        s.execute(
            delete(RubricMark).where(
                RubricMark.cohort == cohort,
                RubricMark.session == session,
                RubricMark.question == question,
                RubricMark.trainee.in_(trainees),
            )
        )
        for t in trainees:
            for r in rows:
                s.add(
                    RubricMark(
                        cohort=cohort,
                        session=session,
                        trainee=t,
                        question=question,
                        group=group,
                        marker=marker,
                        at=at,
                        submission_id=(submission_ids or {}).get(t),
                        source=source,
                        **r,
                    )
                )

    # ------------------------------------------------------------ queries (DataFrames)

    def _frame(self, stmt: Any, columns: list[str] | None = None) -> pd.DataFrame:
        res = self.session.execute(stmt)
        cols = columns or list(res.keys())
        return pd.DataFrame([tuple(r) for r in res], columns=cols)

    def submissions(self, cohort: str, session: str | None = None) -> pd.DataFrame:
        """Every stored submission (current or not) with its grade status."""
        q = (
            select(
                *_cols(Submission, "id cohort session trainee received_at sha256 path"),
                *_cols(Submission, "is_current pinned"),
                Grade.status,
                Grade.cause,
            )
            .outerjoin(Grade, Grade.submission_id == Submission.id)
            .where(Submission.cohort == cohort)
            .order_by(Submission.session, Submission.trainee, Submission.received_at)
        )
        if session:
            q = q.where(Submission.session == session)
        return self._frame(q)

    def question_scores(self, cohort: str, session: str | None = None) -> pd.DataFrame:
        """One row per (current submission, question): auto points, overlaid by hand marks.

        Columns: submission_id, session, trainee, question, position, kind, unit,
        points, max_points, status, detail, manual, marked, answer. A manual
        question without a mark has status ``needs-marking`` and 0 points.

        A hand mark wins over whatever the question scored (status ``marked``):
        a group mark stands for a member who later hands in their own workbook
        without the group's report. A mark for a trainee whose current
        submission lacks the question (a group member who handed nothing in)
        is a row of its own, with no submission id, described like the
        question in the other submissions of the session.
        """
        q = select(
            Result.submission_id,
            Submission.session,
            Submission.trainee,
            *_cols(Result, "question position kind unit points max_points status detail"),
            *_cols(Result, "manual answer prompt"),
        ).join(Submission, Submission.id == Result.submission_id)
        q = _current(q, cohort, session)
        df = self._frame(q)
        marks = self.marks(cohort, session)
        totals = marks[marks["criterion"] == ""][["session", "trainee", "question", "points"]]
        totals = totals.rename(columns={"points": "mark_points"})
        df = df.merge(totals, on=["session", "trainee", "question"], how="left")
        mark_points = pd.to_numeric(df["mark_points"], errors="coerce").astype(float)
        df["marked"] = mark_points.notna()
        use = df["marked"]
        df["points"] = df["points"].astype(float).where(~use, mark_points)
        df["status"] = df["status"].where(~use, "marked")
        df = df.drop(columns=["mark_points"])
        extra = _marks_without_result(df, totals)
        if len(extra):
            df = pd.concat([df, extra], ignore_index=True) if len(df) else extra
        return df.sort_values(["session", "trainee", "position"]).reset_index(drop=True)

    def marks(self, cohort: str, session: str | None = None) -> pd.DataFrame:
        """Every hand mark row of a cohort."""
        q = select(
            RubricMark.session,
            RubricMark.trainee,
            RubricMark.question,
            RubricMark.criterion,
            RubricMark.checked,
            RubricMark.points,
            RubricMark.comment,
            RubricMark.marker,
            RubricMark.group,
            RubricMark.at,
            RubricMark.source,
        ).where(RubricMark.cohort == cohort)
        if session:
            q = q.where(RubricMark.session == session)
        return self._frame(
            q,
            [
                "session",
                "trainee",
                "question",
                "criterion",
                "checked",
                "points",
                "comment",
                "marker",
                "group",
                "at",
                "source",
            ],
        )

    def manual_items(self, cohort: str, session: str | None = None) -> pd.DataFrame:
        """The hand-marked questions of the current submissions, in one query (the marking queue).

        Columns: submission_id, session, trainee, question, position, kind,
        prompt, answer (JSON), max_points, path (of the submission).
        """
        q = (
            select(
                Result.submission_id,
                Submission.session,
                Submission.trainee,
                Result.question,
                Result.position,
                Result.kind,
                Result.prompt,
                Result.answer,
                Result.max_points,
                Submission.path,
            )
            .join(Submission, Submission.id == Result.submission_id)
            .where(
                Submission.cohort == cohort,
                Submission.is_current.is_(True),
                Result.manual.is_(True),
            )
        )
        if session:
            q = q.where(Submission.session == session)
        return self._frame(
            q,
            ["submission_id", "session", "trainee", "question", "position", "kind", "prompt",
             "answer", "max_points", "path"],
        )  # fmt: skip

    def tests(self, cohort: str, session: str | None = None) -> pd.DataFrame:
        """Test results of the current submissions (hidden ones included: instructor view)."""
        q = (
            select(
                TestResult.submission_id,
                Submission.session,
                Submission.trainee,
                *_cols(TestResult, "question name hidden passed points max_points message outcome"),
            )
            .join(Submission, Submission.id == TestResult.submission_id)
            .order_by(Submission.session, Submission.trainee, TestResult.question, TestResult.name)
        )
        q = _current(q, cohort, session)
        return self._frame(q)

    def failures(self, cohort: str, session: str | None = None) -> pd.DataFrame:
        """Typed failures of the current submissions (question "" is the whole submission)."""
        cols = _cols(RunFailureRow, "question kind cell line detail")
        q = (
            select(RunFailureRow.submission_id, Submission.session, Submission.trainee, *cols)
            .join(Submission, Submission.id == RunFailureRow.submission_id)
            .order_by(Submission.session, Submission.trainee, RunFailureRow.seq)
        )
        q = _current(q, cohort, session)
        return self._frame(q)

    def flags(self, cohort: str, session: str | None = None) -> pd.DataFrame:
        """Tamper and integrity flags of every submission of a cohort."""
        q = (
            select(
                Flag.submission_id,
                Submission.session,
                Submission.trainee,
                Submission.is_current,
                Flag.code,
                Flag.where,
                Flag.message,
            )
            .join(Submission, Submission.id == Flag.submission_id)
            .where(Submission.cohort == cohort)
            .order_by(Submission.session, Submission.trainee, Flag.code, Flag.where)
        )
        if session:
            q = q.where(Submission.session == session)
        return self._frame(q)

    def submission_scores(
        self, cohort: str, session: str | None = None, *, questions: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Per session and trainee (current submission): raw points, late penalty, final points, status.

        Status is ``failed`` when autograde failed, ``needs-marking`` while a
        manual item with points is unmarked, else ``graded``. ``questions``:
        :meth:`question_scores` of the same cohort and session, when the caller
        has read them already (a programme's are large: read once).
        """
        q = select(
            Submission.id.label("submission_id"),
            Submission.session,
            Submission.trainee,
            Submission.received_at,
            *_cols(Grade, "status cause max_points days_late penalty"),
        ).join(Grade, Grade.submission_id == Submission.id)
        q = _current(q, cohort, session)
        subs = self._frame(q)
        qs = self.question_scores(cohort, session) if questions is None else questions
        if qs.empty:
            sums = pd.DataFrame(columns=["submission_id", "raw_points", "open_items"])
        else:
            is_open = qs["manual"].astype(bool) & ~qs["marked"] & (qs["max_points"] > 0)
            sums = (
                qs[["submission_id", "points"]]
                .assign(open=is_open)
                .groupby("submission_id")
                .agg(raw_points=("points", "sum"), open_items=("open", "sum"))
                .reset_index()
            )
        df = subs.merge(sums, on="submission_id", how="left")
        df["raw_points"] = df["raw_points"].fillna(0.0).astype(float)
        df["open_items"] = df["open_items"].fillna(0).astype(int)
        df["points"] = [
            round(p * (1 - pen), 4) for p, pen in zip(df["raw_points"], df["penalty"], strict=True)
        ]
        marking = np.where(df["open_items"] > 0, NEEDS_MARKING, GRADED)
        df["status"] = (
            pd.Series(
                np.where(df["status"] == FAILED, FAILED, marking), index=df.index, dtype=object
            )
            if len(df)
            else pd.Series(dtype=str)
        )
        return df.sort_values(["session", "trainee"]).reset_index(drop=True)

    def per_trainee(self, cohort: str) -> pd.DataFrame:
        """Totals per trainee over all sessions of a cohort."""
        df = self.submission_scores(cohort)
        return (
            df.groupby("trainee")
            .agg(
                sessions=("session", "nunique"),
                points=("points", "sum"),
                max_points=("max_points", "sum"),
                open_items=("open_items", "sum"),
            )
            .reset_index()
        )

    def per_question(self, cohort: str, session: str | None = None) -> pd.DataFrame:
        """Mean points and the share of full marks per question."""
        df = self.question_scores(cohort, session)
        if df.empty:
            return pd.DataFrame(
                columns=["session", "question", "kind", "unit", "n", "mean", "max_points", "full"]
            )
        df["full"] = (df["points"] >= df["max_points"]) & (df["max_points"] > 0)
        return (
            df.groupby(["session", "question", "kind", "unit"])
            .agg(
                n=("points", "size"),
                mean=("points", "mean"),
                max_points=("max_points", "max"),
                full=("full", "mean"),
            )
            .reset_index()
        )

    def per_session(self, cohort: str) -> pd.DataFrame:
        """Per session: submissions, mean points, statuses."""
        df = self.submission_scores(cohort)
        if df.empty:
            return pd.DataFrame(columns=["session", "submissions", "mean", "max_points"])
        out = (
            df.groupby("session")
            .agg(
                submissions=("trainee", "size"),
                mean=("points", "mean"),
                max_points=("max_points", "max"),
            )
            .reset_index()
        )
        counts = df.pivot_table(index="session", columns="status", values="trainee", aggfunc="size")
        return out.merge(counts.fillna(0).astype(int).reset_index(), on="session", how="left")

    def per_unit(self, cohort: str) -> pd.DataFrame:
        """Per trainee and unit colour: points and max points (late penalty applied per submission)."""
        qs = self.question_scores(cohort)
        if qs.empty:
            return pd.DataFrame(columns=["trainee", "unit", "points", "max_points"])
        pen = self.submission_scores(cohort)[["submission_id", "penalty"]]
        qs = qs.merge(pen, on="submission_id", how="left")
        qs["points"] = qs["points"] * (1 - qs["penalty"].fillna(0.0))
        return (
            qs.groupby(["trainee", "unit"])
            .agg(points=("points", "sum"), max_points=("max_points", "sum"))
            .reset_index()
        )

    def snapshot(self, cohort: str) -> dict[str, list[tuple[Any, ...]]]:
        """A comparable dump of the scores (no times, no run ids): used to check idempotence."""

        def rows(df: pd.DataFrame) -> list[tuple[Any, ...]]:
            return sorted(tuple(_plain(v) for v in r) for r in df.itertuples(index=False))

        subs = self.submissions(cohort).drop(columns=["received_at", "id", "path"])
        scores = self.submission_scores(cohort).drop(columns=["submission_id", "received_at"])
        return {
            "submissions": rows(subs),
            "questions": rows(self.question_scores(cohort).drop(columns=["submission_id"])),
            "tests": rows(self.tests(cohort).drop(columns=["submission_id"])),
            "flags": rows(self.flags(cohort).drop(columns=["submission_id"])),
            "scores": rows(scores),
        }


def _current(q: Any, cohort: str, session: str | None) -> Any:
    """`q` narrowed to a cohort's current submissions (and one session's, if given)."""
    q = q.where(Submission.cohort == cohort, Submission.is_current.is_(True))
    return q.where(Submission.session == session) if session else q


def _cols(model: type[Base], names: str) -> list[Any]:
    return [getattr(model, n) for n in names.split()]


def _marks_without_result(scores: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    """Rows for hand marks (``totals``) that no current submission's question carries."""
    if totals.empty:
        return scores.iloc[0:0]
    have = set(zip(scores["session"], scores["trainee"], scores["question"], strict=True))
    keys = zip(totals["session"], totals["trainee"], totals["question"], strict=True)
    extra = totals.loc[pd.Series([k not in have for k in keys], index=totals.index, dtype=bool)]
    if extra.empty:
        return scores.iloc[0:0]
    # described like the question in the session's other submissions: kind, unit, worth
    like = scores.drop_duplicates(["session", "question"])[
        ["session", "question", "position", "kind", "unit", "max_points", "prompt"]
    ]
    out = extra.merge(like, on=["session", "question"], how="left").rename(
        columns={"mark_points": "points"}
    )
    # not an item to mark (manual=False): the mark is there, and there is no answer to read
    out = out.assign(
        submission_id=None, status="marked", detail="", manual=False, answer="null", marked=True
    )
    fill = {"position": 0, "kind": "", "unit": "", "max_points": 0.0, "prompt": ""}
    return out.fillna(fill).astype({"position": int})[list(scores.columns)]


def _plain(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 6)
    if hasattr(v, "item"):
        return _plain(v.item())
    if v is None or isinstance(v, str | int | bool):
        return v
    return json.dumps(v, default=str)
