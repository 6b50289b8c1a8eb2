"""The gradebook: SQLAlchemy 2 models over SQLite (default) or PostgreSQL, and DataFrame queries.

One :class:`Gradebook` is opened per command run and holds one engine and one
ORM session for the whole run (the design forbids a session per step). Every
write goes through :meth:`Gradebook.transaction`, so a run killed half-way
leaves only whole items behind and the next run resumes from them.

Rows are keyed by natural keys (cohort, session, trainee, question, ...) and
written as "delete what this item had, insert what it has now" inside one
transaction: a rerun therefore gives the same gradebook as a clean run.

Times are stored as naive UTC: SQLite has no time zones, and one convention
for both back ends keeps comparisons and exports identical.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

SCHEMA_VERSION = 1

# Submission statuses (the grade table); "needs-marking" turns into "graded"
# once every manual item has a mark (see :meth:`Gradebook.submission_scores`).
GRADED = "graded"
NEEDS_MARKING = "needs-marking"
FAILED = "failed"


def utcnow() -> datetime:
    """Now, as naive UTC (the gradebook's convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_utc_naive(value: datetime) -> datetime:
    """Convert an aware datetime to naive UTC; a naive one is taken as UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


class Base(DeclarativeBase):
    pass


class Submission(Base):
    """One submission as kept in the append-only store (never updated except ``is_current``)."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("cohort", "session", "trainee", "sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cohort: Mapped[str] = mapped_column(String(100), index=True)
    session: Mapped[str] = mapped_column(String(100), index=True)
    trainee: Mapped[str] = mapped_column(String(100), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    collected_at: Mapped[datetime] = mapped_column(DateTime)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)  # relative to the course folder
    source: Mapped[str] = mapped_column(Text, default="")
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)  # the instructor picked it


class Grade(Base):
    """The autograde outcome of one submission (one row per submission)."""

    __tablename__ = "grades"
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str] = mapped_column(Text, default="")
    auto_points: Mapped[float] = mapped_column(Float, default=0.0)
    max_points: Mapped[float] = mapped_column(Float, default=0.0)
    days_late: Mapped[int] = mapped_column(Integer, default=0)
    penalty: Mapped[float] = mapped_column(Float, default=0.0)  # fraction of the total
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    graded_at: Mapped[datetime] = mapped_column(DateTime)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)


class Result(Base):
    """The score of one question of one submission."""

    __tablename__ = "results"
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    question: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(30))
    unit: Mapped[str] = mapped_column(String(50), default="")
    prompt: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text, default="null")  # JSON
    points: Mapped[float] = mapped_column(Float, default=0.0)
    max_points: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")
    manual: Mapped[bool] = mapped_column(Boolean, default=False)


class TestResult(Base):
    """One author test of a code question for one submission."""

    __tablename__ = "test_results"
    __test__ = False  # not a pytest class
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    question: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    passed: Mapped[bool] = mapped_column(Boolean, default=False)
    points: Mapped[float] = mapped_column(Float, default=0.0)
    max_points: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")


class RunFailureRow(Base):
    """A typed cause (``kit.answers.FailureKind``) why a submission, or one code question, fell short."""

    __tablename__ = "run_failures"
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(String(100), default="")  # "": the whole submission
    kind: Mapped[str] = mapped_column(String(30))
    cell: Mapped[int | None] = mapped_column(Integer, nullable=True)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")  # for the instructor


class Flag(Base):
    """A tamper or integrity finding on a submission, shown to the instructor."""

    __tablename__ = "flags"
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    where: Mapped[str] = mapped_column(String(200), primary_key=True)
    message: Mapped[str] = mapped_column(Text, default="")


class RubricMark(Base):
    """A hand mark: one rubric criterion (or ``criterion == ""`` for the question's total/comment).

    Marks are keyed by trainee, not by submission, so a group mark reaches
    every member whether or not that member handed anything in; the submission
    that was marked is kept for reference.
    """

    __tablename__ = "rubric_marks"
    cohort: Mapped[str] = mapped_column(String(100), primary_key=True)
    session: Mapped[str] = mapped_column(String(100), primary_key=True)
    trainee: Mapped[str] = mapped_column(String(100), primary_key=True)
    question: Mapped[str] = mapped_column(String(100), primary_key=True)
    criterion: Mapped[str] = mapped_column(String(100), primary_key=True)
    checked: Mapped[bool] = mapped_column(Boolean, default=False)
    points: Mapped[float] = mapped_column(Float, default=0.0)
    comment: Mapped[str] = mapped_column(Text, default="")
    marker: Mapped[str] = mapped_column(String(100), default="")
    group: Mapped[str] = mapped_column("grp", String(100), default="")
    submission_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime)


class GradingRun(Base):
    """One ``grade`` command run (kept for the record; not part of the scores)."""

    __tablename__ = "grading_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cohort: Mapped[str] = mapped_column(String(100))
    session: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    graded: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="running")


class Meta(Base):
    __tablename__ = "casekit_meta"
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def resolve_url(course_root: Path | str, db: str | None = None) -> str:
    """The gradebook URL: ``db`` if given, else course.toml ``[gradebook] url``, else SQLite.

    A bare path is taken as a SQLite file. ``postgresql://`` is mapped to the
    psycopg 3 driver, which is the one casekit depends on.
    """
    root = Path(course_root)
    url = db
    if url is None:
        try:
            import tomllib

            cfg = tomllib.loads((root / "course.toml").read_text(encoding="utf-8"))
            url = (cfg.get("gradebook") or {}).get("url")
        except (OSError, ValueError):
            url = None
    if not url:
        return f"sqlite:///{(root / 'gradebook.sqlite').resolve()}"
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout (a marking notebook and a grading run may share it)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragma(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Gradebook:
    """An open gradebook: one engine and one ORM session for a command run.

    Use as a context manager; :meth:`transaction` wraps each unit of work.
    """

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        self.session = Session(self.engine, expire_on_commit=False)
        with self.transaction() as s:
            if s.get(Meta, "schema") is None:
                s.add(Meta(key="schema", value=str(SCHEMA_VERSION)))

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

    def grade_row(self, submission_id: int) -> Grade | None:
        """The grade row of a submission, if it was graded."""
        return self.session.get(Grade, submission_id)

    def write_grading(
        self,
        submission_id: int,
        *,
        grade: dict[str, Any],
        results: list[dict[str, Any]],
        tests: list[dict[str, Any]],
        flags: list[dict[str, Any]],
        failures: list[dict[str, Any]] | None = None,
    ) -> None:
        """Replace everything autograde knows about one submission, in one transaction."""
        with self.transaction() as s:
            for model in (Result, TestResult, Flag, RunFailureRow):
                s.execute(delete(model).where(model.submission_id == submission_id))
            old = s.get(Grade, submission_id)
            if old is not None:
                s.delete(old)
            s.flush()
            s.add(Grade(submission_id=submission_id, graded_at=utcnow(), **grade))
            s.add_all(Result(submission_id=submission_id, **r) for r in results)
            s.add_all(TestResult(submission_id=submission_id, **t) for t in tests)
            s.add_all(Flag(submission_id=submission_id, **f) for f in flags)
            s.add_all(
                RunFailureRow(submission_id=submission_id, seq=i, **f)
                for i, f in enumerate(failures or [])
            )

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

    def write_marks(
        self,
        *,
        cohort: str,
        session: str,
        trainees: list[str],
        question: str,
        rows: list[dict[str, Any]],
        group: str = "",
        marker: str = "",
        submission_ids: dict[str, int | None] | None = None,
    ) -> None:
        """Replace the marks of one question for these trainees (one transaction)."""
        at = utcnow()
        with self.transaction() as s:
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
        q = (
            select(
                Result.submission_id,
                Submission.session,
                Submission.trainee,
                *_cols(Result, "question position kind unit points max_points status detail"),
                *_cols(Result, "manual answer prompt"),
            )
            .join(Submission, Submission.id == Result.submission_id)
            .where(Submission.cohort == cohort, Submission.is_current.is_(True))
        )
        if session:
            q = q.where(Submission.session == session)
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
        ).where(RubricMark.cohort == cohort)
        if session:
            q = q.where(RubricMark.session == session)
        cols = "session trainee question criterion checked points comment marker group at"
        return self._frame(q, cols.split())

    def tests(self, cohort: str, session: str | None = None) -> pd.DataFrame:
        """Test results of the current submissions (hidden ones included: instructor view)."""
        q = (
            select(
                TestResult.submission_id,
                Submission.session,
                Submission.trainee,
                *_cols(TestResult, "question name hidden passed points max_points message"),
            )
            .join(Submission, Submission.id == TestResult.submission_id)
            .where(Submission.cohort == cohort, Submission.is_current.is_(True))
            .order_by(Submission.session, Submission.trainee, TestResult.question, TestResult.name)
        )
        if session:
            q = q.where(Submission.session == session)
        return self._frame(q)

    def failures(self, cohort: str, session: str | None = None) -> pd.DataFrame:
        """Typed failures of the current submissions (question "" is the whole submission)."""
        cols = _cols(RunFailureRow, "question kind cell line detail")
        q = (
            select(RunFailureRow.submission_id, Submission.session, Submission.trainee, *cols)
            .join(Submission, Submission.id == RunFailureRow.submission_id)
            .where(Submission.cohort == cohort, Submission.is_current.is_(True))
            .order_by(Submission.session, Submission.trainee, RunFailureRow.seq)
        )
        if session:
            q = q.where(Submission.session == session)
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

    def submission_scores(self, cohort: str, session: str | None = None) -> pd.DataFrame:
        """Per session and trainee (current submission): raw points, late penalty, final points, status.

        Status is ``failed`` when autograde failed, ``needs-marking`` while a
        manual item with points is unmarked, else ``graded``.
        """
        q = (
            select(
                Submission.id.label("submission_id"),
                Submission.session,
                Submission.trainee,
                Submission.received_at,
                *_cols(Grade, "status cause max_points days_late penalty"),
            )
            .join(Grade, Grade.submission_id == Submission.id)
            .where(Submission.cohort == cohort, Submission.is_current.is_(True))
        )
        if session:
            q = q.where(Submission.session == session)
        subs = self._frame(q)
        qs = self.question_scores(cohort, session)
        if qs.empty:
            sums = pd.DataFrame(columns=["submission_id", "raw_points", "open_items"])
        else:
            qs["open"] = qs["manual"].astype(bool) & ~qs["marked"] & (qs["max_points"] > 0)
            sums = (
                qs.groupby("submission_id")
                .agg(raw_points=("points", "sum"), open_items=("open", "sum"))
                .reset_index()
            )
        df = subs.merge(sums, on="submission_id", how="left")
        df["raw_points"] = df["raw_points"].fillna(0.0).astype(float)
        df["open_items"] = df["open_items"].fillna(0).astype(int)
        df["points"] = [
            round(p * (1 - pen), 4) for p, pen in zip(df["raw_points"], df["penalty"], strict=True)
        ]

        def _status(row: pd.Series) -> str:
            if row["status"] == FAILED:
                return FAILED
            return NEEDS_MARKING if row["open_items"] > 0 else GRADED

        df["status"] = df.apply(_status, axis=1) if len(df) else pd.Series(dtype=str)
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

    def snapshot(self, cohort: str) -> dict[str, list[tuple]]:
        """A comparable dump of the scores (no times, no run ids): used to check idempotence."""

        def rows(df: pd.DataFrame) -> list[tuple]:
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


def _cols(model: type[Base], names: str) -> list[Any]:
    return [getattr(model, n) for n in names.split()]


def _marks_without_result(scores: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    """Rows for hand marks (``totals``) that no current submission's question carries."""
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
