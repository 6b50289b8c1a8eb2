"""Issue-based tasks (课题) of a cohort, assigned to trainees or roster groups: ``tasks.csv``."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field, field_validator

from kit.course import TABLE_ID, Course, _Row, as_course, read_table
from kit.messages import t as say
from kit.problems import CourseError, Problem


class Task(_Row):
    """One row of ``cohorts/<id>/tasks.csv``."""

    task: str = Field(min_length=1, pattern=TABLE_ID)
    title: str = Field(min_length=1)
    session: str = ""
    assignee: str = Field(min_length=1)
    due: datetime | None = None
    deliverable: str = ""

    @field_validator("due", mode="before")
    @classmethod
    def _due(cls, v: Any) -> Any:
        if v in ("", None):
            return None
        # A bare date means the end of that day: trainees read "due 3 May" as "by the evening".
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()):
            return v.strip() + "T23:59:00"
        return v


TASK_COLUMNS = [
    "task",
    "title",
    "session",
    "assignee",
    "group",
    "trainee",
    "trainee_name",
    "due",
    "deliverable",
]


def _assignees(value: str) -> list[str]:
    # Several assignees in one cell: "group:第一课题组; au07" (; ； or , separated).
    return [a.strip() for a in re.split(r"[;；,，]", value) if a.strip()]


def read_tasks(course: Course, cohort_id: str) -> tuple[pd.DataFrame, list[Problem]]:
    """The tasks of a cohort, one row per task and trainee, and every problem found (never raises)."""
    cohort = course.cohort(cohort_id)
    path = cohort.folder / "tasks.csv"
    problems: list[Problem] = []
    _, rows = read_table(path, Task, problems, required=False)
    roster = cohort.roster
    groups: dict[str, list[str]] = {}
    for tid, g in roster["group"].items():
        if g:
            groups.setdefault(g, []).append(tid)
    sessions = {s.session for s in cohort.sessions}
    out = []
    for line, t in rows:
        where = say("where.row_task", n=line, task=t.task)
        if t.session and t.session not in sessions and t.session not in cohort.unreadable:
            problems.append(
                Problem(
                    str(path),
                    where,
                    "session",
                    say("tasks.unknown_session", session=t.session),
                    say("course.use_one_of", options=", ".join(sorted(sessions))),
                )
            )
        for a in _assignees(t.assignee):
            if a.startswith(("group:", "组:", "组：")):
                g = re.split(r"[:：]", a, maxsplit=1)[1].strip()
                members = groups.get(g)
                if not members:
                    known = ", ".join(sorted(groups)) or say("tasks.no_groups")
                    problems.append(
                        Problem(
                            str(path),
                            where,
                            "assignee",
                            say("tasks.unknown_group", group=g),
                            say("tasks.unknown_group_fix", groups=known),
                        )
                    )
                    continue
            elif a in roster.index:
                g, members = "", [a]
            else:
                problems.append(
                    Problem(
                        str(path),
                        where,
                        "assignee",
                        say("tasks.unknown_trainee", trainee=a),
                        say("tasks.unknown_trainee_fix"),
                    )
                )
                continue
            for m in members:
                out.append(
                    {
                        "task": t.task,
                        "title": t.title,
                        "session": t.session,
                        "assignee": a,
                        "group": g,
                        "trainee": m,
                        "trainee_name": roster.loc[m, "name"],
                        "due": pd.Timestamp(t.due) if t.due else pd.NaT,
                        "deliverable": t.deliverable,
                    }
                )
    df = pd.DataFrame(out, columns=TASK_COLUMNS).drop_duplicates(["task", "trainee"])
    return df.reset_index(drop=True), problems


def tasks(course: Course | str | Path, cohort_id: str) -> pd.DataFrame:
    """A cohort's issue-based tasks (课题), one row per task and trainee.

    Reads ``cohorts/<id>/tasks.csv`` (``task,title,session,assignee,due,deliverable``;
    absent → no tasks). ``assignee`` is a trainee id or ``group:<name>`` of the
    roster's ``group`` column, several separated by ``;``. Groups are expanded
    to their members; the ``group`` column keeps the group name so a mark can
    be given to the whole group. Raises :class:`CourseError` on unknown
    trainees, groups or sessions.
    """
    course = as_course(course)
    df, problems = read_tasks(course, cohort_id)
    if [p for p in problems if p.severity == "error"]:
        raise CourseError(problems)
    return df


def group_members(course: Course | str | Path, cohort_id: str, group: str) -> list[str]:
    """Trainee ids of a roster group (``[]`` if no such group)."""
    roster = as_course(course).cohort(cohort_id).roster
    return [str(t) for t in roster.index[roster["group"] == group]]


def task_problems(course: Course) -> list[Problem]:
    """Problems in every cohort's ``tasks.csv`` (for ``casekit check``)."""
    problems = []
    for cid in sorted(course.cohorts):
        problems += read_tasks(course, cid)[1]
    return problems
