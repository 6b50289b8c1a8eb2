"""The gradebook's tables (SQLAlchemy 2 models), its URL and engine, and upgrades of older files.

Rows are keyed by natural keys (cohort, session, trainee, question, ...).
Times are stored as naive UTC: SQLite has no time zones, and one convention
for both back ends keeps comparisons and exports identical.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = (
    3  # 2: rubric_marks.source (live class and marking, #12); 3: test_results.outcome (#9)
)

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
    message: Mapped[str] = mapped_column(
        Text, default=""
    )  # the author's, or what a tests cell raised
    outcome: Mapped[str] = mapped_column(String(20), default="")  # kit.sandbox.answers.TestOutcome


class Flag(Base):
    """A tamper or integrity finding on a submission, shown to the instructor."""

    __tablename__ = "flags"
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    where: Mapped[str] = mapped_column(String(200), primary_key=True)
    message: Mapped[str] = mapped_column(Text, default="")


class RunFailureRow(Base):
    """A typed cause (``kit.sandbox.answers.FailureKind``) why a submission, or one code question, fell short."""

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
    # -- marking by answer groups (#12): how the mark was given (MARK_SOURCES); a group
    # mark never replaces one given to the item itself
    source: Mapped[str] = mapped_column(String(20), default="item", server_default="item")


#: How a hand mark was given: to the item itself, to its answer group, to its
#: roster group (a group task), or read from a marks spreadsheet.
MARK_SOURCES = ("item", "answers", "team", "import")


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


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout (a marking notebook and a grading run may share it)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragma(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade(engine: Engine) -> None:
    """Bring a gradebook made by an older casekit up to this schema (columns added since)."""
    from sqlalchemy import inspect, text

    have = {c["name"] for c in inspect(engine).get_columns(RubricMark.__tablename__)}
    if "source" not in have:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "ALTER TABLE rubric_marks ADD COLUMN source VARCHAR(20) NOT NULL DEFAULT 'item'"
                )
            )
    have = {c["name"] for c in inspect(engine).get_columns(TestResult.__tablename__)}
    if "outcome" not in have:
        with engine.begin() as conn:
            conn.execute(
                text("ALTER TABLE test_results ADD COLUMN outcome VARCHAR(20) NOT NULL DEFAULT ''")
            )
