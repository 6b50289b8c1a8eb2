"""The gradebook: SQLAlchemy 2 models over SQLite (default) or PostgreSQL, and DataFrame queries.

One :class:`Gradebook` is opened per command run and holds one engine and one
ORM session for the whole run (the design forbids a session per step). Every
write goes through :meth:`Gradebook.transaction`, so a run killed half-way
leaves only whole items behind and the next run resumes from them.

==========================  =====================================================
``kit.gradebook.schema``    the tables, the URL and engine, upgrades of older files
``kit.gradebook.book``      ``Gradebook``: the run's session, writes, DataFrame queries
==========================  =====================================================
"""

from kit.artifacts import gradebook_url as resolve_url  # where the gradebook is: a layout fact
from kit.gradebook.book import Gradebook
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
    utcnow,
)

__all__ = [
    "FAILED",
    "GRADED",
    "MARK_SOURCES",
    "NEEDS_MARKING",
    "SCHEMA_VERSION",
    "Base",
    "Flag",
    "Grade",
    "Gradebook",
    "GradingRun",
    "Meta",
    "Result",
    "RubricMark",
    "RunFailureRow",
    "Submission",
    "TestResult",
    "make_engine",
    "resolve_url",
    "to_utc_naive",
    "utcnow",
]
