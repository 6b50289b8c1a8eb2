"""Checks of deliberation records against the course (for ``casekit check`` and every save)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kit.artifacts import deliberations_dir
from kit.course import Course, inspect_course
from kit.deliberation.model import Deliberation, parse_record
from kit.messages import t
from kit.notebooks import source
from kit.problems import Problem


def notebook_modules(course: Course, notebook: str) -> set[str]:
    """The optional module names a notebook offers (its ``module:NAME`` cell tags)."""
    return _notebook_scan(course.root / notebook)[0]


def _notebook_scan(path: Path) -> tuple[set[str], set[str]]:
    """(module names, question ids asked) of a notebook; empty when unreadable."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set(), set()
    modules, qids = set(), set()
    for cell in nb.get("cells", []):
        for tag in cell.get("metadata", {}).get("tags", []) or []:
            if isinstance(tag, str) and tag.startswith("module:"):
                modules.add(tag.split(":", 1)[1])
        if cell.get("cell_type") == "code":
            qids.update(re.findall(r"\bask\.\w+\(\s*['\"]([^'\"]+)['\"]", source(cell)))
    return modules, qids


def record_problems(
    course: Course, cohort_id: str, session_id: str, record: Deliberation, file: str
) -> list[Problem]:
    """Reference checks of a parsed record against the course."""
    problems: list[Problem] = []
    cohort = course.cohorts[cohort_id]
    s = cohort.session(session_id)
    offered, asked = _notebook_scan(course.root / s.notebook)
    for m in record.modules:
        if m not in offered:
            known = ", ".join(sorted(offered)) or t("delib_check.no_modules")
            problems.append(
                Problem(
                    file,
                    "modules",
                    "modules",
                    t("delib_check.unknown_module", module=m, notebook=s.notebook),
                    t("course.use_one_of", options=known),
                )
            )
    for i, q in enumerate(record.extra_questions):
        if q.id in asked:
            problems.append(
                Problem(
                    file,
                    f"extra_questions[{i}]",
                    "id",
                    t("delib_check.qid_taken", qid=q.id, notebook=s.notebook),
                    t("delib_check.qid_taken_fix"),
                )
            )
    p = record.parties
    if p.teacher and p.teacher not in course.faculty.index:
        problems.append(
            Problem(
                file,
                "[parties]",
                "teacher",
                t("delib_check.unknown_teacher", teacher=p.teacher),
                t("delib_check.unknown_teacher_fix"),
            )
        )
    elif p.teacher and p.teacher != s.teacher:
        problems.append(
            Problem(
                file,
                "[parties]",
                "teacher",
                t("delib_check.other_teacher", teacher=p.teacher, expected=s.teacher),
                t("delib_check.other_teacher_fix"),
                severity="warning",
            )
        )
    for rep in p.trainee_reps:
        if rep not in cohort.roster.index:
            problems.append(
                Problem(
                    file,
                    "[parties]",
                    "trainee_reps",
                    t("delib_check.unknown_rep", trainee=rep, cohort=cohort_id),
                    t("delib_check.unknown_rep_fix"),
                )
            )
    total = sum(record.time_split.values())
    if total > s.hours * 60 + 1e-9:
        problems.append(
            Problem(
                file,
                "time_split",
                "time_split",
                t("delib_check.too_long", total=total, hours=s.hours, minutes=s.hours * 60),
                t("delib_check.too_long_fix"),
                severity="warning",
            )
        )
    return problems


def session_problems(course: Course, cohort_id: str, session_id: str) -> list[Problem]:
    """Every problem of one session's deliberation record (none when it has no record)."""
    path = deliberations_dir(course, cohort_id) / f"{session_id}.toml"
    if not path.is_file():
        return []
    record, found = parse_record(path)
    if record is not None:
        found += record_problems(course, cohort_id, session_id, record, str(path))
    return found


def offered_modules(course: Course) -> set[str]:
    """Every module name some session may enable: its deliberation's ``modules`` or its params' ``modules``.

    ``casekit check`` warns about a ``module:NAME`` cell outside this set (it
    would never be included with the records as they stand). Malformed
    records are skipped here; :func:`check_deliberations` reports them.
    """
    found: set[str] = set()
    for cohort in course.cohorts.values():
        for s in cohort.sessions:
            mods = s.params.get("modules") or []
            if isinstance(mods, list):
                found.update(str(m) for m in mods)
        folder = deliberations_dir(course, cohort.id)
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            record, _ = parse_record(path)
            if record is not None:
                found.update(record.modules)
    return found


def check_deliberations(course: Course | str | Path) -> list[Problem]:
    """Every problem of every deliberation record of a course (for ``casekit check``).

    Finds malformed files (syntax and field errors located by key), records for
    sessions not in the schedule, modules the session's notebook does not offer,
    extra question ids that clash with the notebook's, unknown parties and
    history files that are not valid JSON lines.
    """
    if not isinstance(course, Course):
        loaded, problems = inspect_course(course)
        if loaded is None:
            return problems
        course = loaded
    problems = []
    for cohort_id, cohort in sorted(course.cohorts.items()):
        folder = deliberations_dir(course, cohort.id)
        if not folder.is_dir():
            continue
        sessions = {s.session for s in cohort.sessions}
        for path in sorted(folder.glob("*.toml")):
            f = str(path)
            if path.stem in cohort.unreadable:
                continue  # its schedule row is reported; its deliberation waits for the row
            if path.stem not in sessions:
                problems.append(
                    Problem(
                        f,
                        message=t("delib_check.no_session", session=path.stem, cohort=cohort_id),
                        fix=t("delib_check.no_session_fix", sessions=", ".join(sorted(sessions))),
                    )
                )
                continue
            problems += session_problems(course, cohort_id, path.stem)
        for path in sorted(folder.glob("*.history.jsonl")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    json.loads(line)
                except ValueError:
                    problems.append(
                        Problem(
                            str(path),
                            t("where.line", n=n),
                            message=t("delib_check.bad_history"),
                            fix=t("delib_check.bad_history_fix"),
                        )
                    )
    return problems
