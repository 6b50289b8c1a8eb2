"""Drill datasets a session's parameters name, looked up in the cohort folder, then the course."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kit.course import Course, as_course
from kit.messages import t
from kit.problems import CourseError, Problem


def _dataset_refs(params: dict[str, Any]) -> dict[str, Any]:
    """Dataset references in a session's params: ``dataset`` (one) or ``datasets`` (name → path)."""
    refs: dict[str, Any] = {}
    if "dataset" in params:
        refs["dataset"] = params["dataset"]
    if isinstance(params.get("datasets"), dict):
        refs.update(params["datasets"])
    elif "datasets" in params:
        refs["datasets"] = params["datasets"]
    return refs


def _resolve_dataset(course: Course, cohort_id: str, ref: Any) -> tuple[Path | None, str]:
    if not isinstance(ref, str) or not ref.strip():
        return None, t("dataset.not_a_path")
    root = course.root.resolve()
    for base in (course.cohort(cohort_id).folder, course.root):
        p = (base / ref).resolve()
        # A dataset ships with the course; a path that escapes it would not exist elsewhere.
        if p.is_file() and p.is_relative_to(root):
            return p, ""
    return None, t("dataset.not_found", ref=ref, cohort=cohort_id)


def session_datasets(
    course: Course | str | Path, cohort_id: str, session_id: str
) -> dict[str, Path]:
    """The drill datasets of a session, name → absolute path.

    A session's ``params`` (schedule.csv) name them: ``{"dataset": "data/x.csv"}``
    or ``{"datasets": {"calls": "data/calls.csv", ...}}``; a path is looked up
    in the cohort folder first, then in the course folder, so a cohort can
    carry its own variant of a course-wide dataset. Raises :class:`CourseError`
    when one is missing.
    """
    course = as_course(course)
    s = course.cohort(cohort_id).session(session_id)
    out, problems = {}, []
    for name, ref in _dataset_refs(s.params).items():
        path, why = _resolve_dataset(course, cohort_id, ref)
        if path is None:
            problems.append(_dataset_problem(course, cohort_id, session_id, name, why))
        else:
            out[name] = path
    if problems:
        raise CourseError(problems)
    return out


def _dataset_problem(
    course: Course, cohort_id: str, session_id: str, name: str, why: str
) -> Problem:
    return Problem(
        str(course.cohort(cohort_id).folder / "schedule.csv"),
        t("where.session", session=session_id),
        f"params.{name}",
        t("dataset.problem", why=why),
        t("dataset.problem_fix"),
    )


def session_dataset_problems(course: Course, cohort_id: str, session_id: str) -> list[Problem]:
    """Missing or unreadable drill datasets of one session."""
    problems = []
    s = course.cohort(cohort_id).session(session_id)
    for name, ref in _dataset_refs(s.params).items():
        path, why = _resolve_dataset(course, cohort_id, ref)
        if path is None:
            problems.append(_dataset_problem(course, cohort_id, session_id, name, why))
        elif path.suffix.lower() == ".csv":
            try:
                pd.read_csv(path, nrows=5, encoding="utf-8-sig")
            except (ValueError, UnicodeDecodeError) as e:
                why = t("dataset.bad_csv", ref=ref, error=e)
                problems.append(_dataset_problem(course, cohort_id, session_id, name, why))
    return problems


def dataset_problems(course: Course) -> list[Problem]:
    """Missing drill datasets across all cohorts (for ``casekit check``)."""
    return [
        p
        for cid, cohort in sorted(course.cohorts.items())
        for s in cohort.sessions
        for p in session_dataset_problems(course, cid, s.session)
    ]
