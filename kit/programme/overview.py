"""``summary``: one cohort at a glance (``casekit summary COHORT``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kit.artifacts import record_path
from kit.course import Course, as_course
from kit.messages import t
from kit.problems import Problem
from kit.programme.assignments import read_tasks
from kit.programme.share import ALL, interactive_share, share_problems


@dataclass
class CohortSummary:
    """One cohort at a glance, for ``casekit summary COHORT``."""

    cohort: str
    name: str
    sessions: (
        pd.DataFrame
    )  # session, date, unit, method, interactive, hours, teacher, site, deliberation
    units: pd.DataFrame  # interactive_share rows of this cohort, unit names added
    share: float
    target: float
    deliberations_present: list[str]
    deliberations_missing: list[str]
    tasks: pd.DataFrame  # task, title, session, due, deliverable, assignees, trainees
    problems: list[Problem] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return float(self.sessions["hours"].sum()) if len(self.sessions) else 0.0

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        head = Text.assemble(
            (f"{self.name} ({self.cohort})", "bold"),
            t("summary.head", sessions=len(self.sessions), hours=self.hours),
            (f"{self.share:.0%}", "green" if self.share >= self.target - 1e-9 else "bold red"),
            t("summary.target", target=self.target),
        )
        units = Table(
            *(t(f"report.col_{c}") for c in ("unit", "sessions", "hours", "interactive", "share")),
            title=t("summary.by_unit"),
        )
        for r in self.units.itertuples():
            units.add_row(
                f"{r.unit_name}",
                str(r.sessions),
                f"{r.hours:g}",
                f"{r.interactive_hours:g}",
                f"{r.share:.0%}",
            )
        cols = ("session", "date", "unit", "method", "hours", "teacher", "deliberation")
        sess = Table(*(t(f"summary.col.{c}") for c in cols), title=t("summary.sessions"))
        for r in self.sessions.itertuples():
            sess.add_row(
                r.session,
                str(r.date),
                r.unit,
                r.method,
                f"{r.hours:g}",
                r.teacher_name,
                "✓" if r.deliberation else "—",
            )
        parts: list[Any] = [head, units, sess]
        if len(self.tasks):
            heads = ("task", "title", "due", "assignees", "trainees")
            tt = Table(*(t(f"summary.col.{c}") for c in heads), title=t("summary.tasks"))
            for r in self.tasks.itertuples():
                tt.add_row(
                    r.task,
                    r.title,
                    "" if pd.isna(r.due) else str(r.due),
                    r.assignees,
                    str(r.trainees),
                )
            parts.append(tt)
        if self.deliberations_missing:
            parts.append(
                Text(
                    t("summary.no_deliberation", sessions=", ".join(self.deliberations_missing)),
                    style="yellow",
                )
            )
        parts += [
            Text(str(p), style="yellow" if p.severity == "warning" else "red")
            for p in self.problems
        ]
        return Group(*parts)


_SESSION_COLUMNS = [
    "session",
    "date",
    "unit",
    "method",
    "interactive",
    "hours",
    "teacher",
    "teacher_name",
    "site",
    "notebook",
    "deliberation",
]


def _sessions(course: Course, cohort: str) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The cohort's sessions as a timetable reads them, and those with and without a deliberation."""
    c = course.cohort(cohort)
    interactive = {m: bool(v) for m, v in course.methods["interactive"].items()}
    rows = []
    present: list[str] = []
    missing: list[str] = []
    for s in sorted(c.sessions, key=lambda s: (s.date, s.session)):
        has = record_path(course, cohort, s.session).exists()
        (present if has else missing).append(s.session)
        rows.append(
            {
                "session": s.session,
                "date": s.date,
                "unit": s.unit,
                "method": s.method,
                "interactive": interactive.get(s.method, False),
                "hours": s.hours,
                "teacher": s.teacher,
                "teacher_name": course.faculty.loc[s.teacher, "name"]
                if s.teacher in course.faculty.index
                else s.teacher,
                "site": s.site,
                "notebook": s.notebook,
                "deliberation": has,
            }
        )
    return pd.DataFrame(rows, columns=_SESSION_COLUMNS), present, missing


def _tasks_by_task(task_df: pd.DataFrame) -> pd.DataFrame:
    """One row per task: its title, session, due date, deliverable, assignees and trainee count."""
    if not len(task_df):
        return pd.DataFrame(
            columns=["task", "title", "session", "due", "deliverable", "assignees", "trainees"]
        )
    return (
        task_df.groupby("task", sort=False)
        .agg(
            title=("title", "first"),
            session=("session", "first"),
            due=("due", "first"),
            deliverable=("deliverable", "first"),
            assignees=("assignee", lambda s: "; ".join(dict.fromkeys(s))),
            trainees=("trainee", "nunique"),
        )
        .reset_index()
    )


def summary(course: Course | str | Path, cohort: str) -> CohortSummary:
    """Sessions by unit, hours, interactive share, deliberations present/missing and tasks of a cohort.

    Sessions are listed by date (then id), as a timetable reads.
    """
    course = as_course(course)
    c = course.cohort(cohort)
    sessions, present, missing = _sessions(course, cohort)
    share_table = interactive_share(course, cohort)
    total = share_table[share_table["unit"] == ALL].iloc[0]
    units = share_table[share_table["unit"] != ALL].copy()
    units.insert(
        2, "unit_name", [course.units[u].name if u in course.units else u for u in units["unit"]]
    )
    task_df, problems = read_tasks(course, cohort)
    problems += [p for p in share_problems(course) if p.where == t("where.cohort", cohort=cohort)]
    return CohortSummary(
        cohort=cohort,
        name=c.name,
        sessions=sessions,
        units=units.reset_index(drop=True),
        share=float(total["share"]) if total["hours"] else float("nan"),
        target=course.config.programme.interactive_target,
        deliberations_present=present,
        deliberations_missing=missing,
        tasks=_tasks_by_task(task_df),
        problems=problems,
    )
