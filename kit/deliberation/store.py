"""Reading and recording deliberations: the TOML record and its append-only history.

Files, per cohort and session (paths in :mod:`kit.artifacts`)::

    cohorts/<cohort>/deliberations/<session>.toml           the current record
    cohorts/<cohort>/deliberations/<session>.history.jsonl  append-only versions
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kit.artifacts import history_path, record_path
from kit.course import Course, _pydantic_problems, as_course
from kit.deliberation.checks import record_problems
from kit.deliberation.model import (
    PARTY_FIELDS,
    RECORD_FIELDS,
    ROLE_FIELDS,
    ROLES,
    Deliberation,
    Role,
    parse_record,
)
from kit.messages import t
from kit.problems import CourseError, Problem


def load_deliberation(course: Course, cohort_id: str, session_id: str) -> Deliberation | None:
    """The session's record, ``None`` when there is none; :class:`CourseError` when malformed."""
    course.cohort(cohort_id).session(session_id)  # unknown cohort/session → CourseError
    path = record_path(course, cohort_id, session_id)
    if not path.exists():
        return None
    record, problems = parse_record(path)
    if record is None:
        raise CourseError(problems)
    return record


def session_inputs(course: Course | str | Path, cohort_id: str, session_id: str) -> dict[str, Any]:
    """The ``deliberation`` parameter of a session: ``{}`` when none was recorded.

    Keys (all present when a record exists): ``teacher_direction`` (str),
    ``trainee_expectations``, ``trainee_questions``, ``organiser_decisions``,
    ``emphasis``, ``modules`` (lists of str), ``extra_questions`` (list of
    ``{"id", "prompt", "kind", "options", "points"}``), ``time_split``
    (activity → minutes), ``agreed_at``, ``updated_at`` (ISO or None),
    ``updated_by``, ``version`` (int) and ``parties``
    (``{"organisers": [..], "teacher": id, "trainee_reps": [ids]}``).
    Raises :class:`CourseError` if the record is malformed: a build must not
    silently run a class without the points its parties agreed on.
    """
    course = as_course(course)
    record = load_deliberation(course, cohort_id, session_id)
    return {} if record is None else record.inputs()


def history(course: Course | str | Path, cohort_id: str, session_id: str) -> list[dict[str, Any]]:
    """Every history entry of a session's record, oldest first."""
    course = as_course(course)
    path = history_path(course, cohort_id, session_id)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def _toml_str(s: str) -> str:
    if "\n" in s:
        # Multi-line basic string: readable in an editor, which is the point of TOML here.
        body = s.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")
        body = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04X}", body)
        return '"""\n' + body + '"""'
    out = json.dumps(s, ensure_ascii=False)
    return out.replace("\x7f", "\\u007F")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, list):
        if not v:
            return "[]"
        items = [_toml_value(x) for x in v]
        one = "[" + ", ".join(items) + "]"
        if len(one) <= 80 and "\n" not in one:
            return one
        return "[\n" + "".join(f"    {i},\n" for i in items) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k, ensure_ascii=False)


def dumps_record(record: Deliberation, cohort_id: str = "", session_id: str = "") -> str:
    """The record as TOML, in a fixed, commented, human-readable layout."""
    d = record.model_dump(mode="json", exclude_none=True)
    lines = [
        f"# casekit deliberation record — cohort {cohort_id}, session {session_id}",
        "# Written by casekit; history in the .history.jsonl file beside it.",
    ]
    for k in ("version", "updated_at", "updated_by", "agreed_at"):
        if k in d:
            lines.append(f"{k} = {_toml_value(d[k])}")
    lines.append("\n# the parties' inputs")
    for k in PARTY_FIELDS:
        lines.append(f"{k} = {_toml_value(d[k])}")
    lines.append("\n# agreed changes to the class")
    for k in ("emphasis", "modules", "time_split"):
        lines.append(f"{k} = {_toml_value(d[k])}")
    lines.append("\n[parties]")
    for k, v in d["parties"].items():
        lines.append(f"{k} = {_toml_value(v)}")
    for q in d["extra_questions"]:
        lines.append("\n[[extra_questions]]")
        for k, v in q.items():
            lines.append(f"{k} = {_toml_value(v)}")
    text = "\n".join(lines) + "\n"
    # Our writer is small; make sure it never writes something that reads back differently.
    if Deliberation.model_validate(tomllib.loads(text)) != record:
        raise AssertionError("deliberation TOML does not round-trip")  # pragma: no cover
    return text


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _append_line(path: Path, entry: dict[str, Any]) -> None:
    # O_APPEND: one write per entry, never truncating what is there.
    line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    # Two organisers saving the same session at once must not lose an entry.
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# what a save stamps on the record, left out when comparing what the parties agreed
_STAMP = {"version", "updated_at", "updated_by"}


def _check_change(f: str, by: str, role: Role | str, changes: dict[str, Any]) -> None:
    """Refuse a save by an unknown role, by nobody, of unknown fields, or of another role's fields."""
    if role not in ROLES:
        raise CourseError(
            [
                Problem(
                    f,
                    field="role",
                    message=t("delib_save.unknown_role", role=role),
                    fix=t("course.use_one_of", options=", ".join(ROLES)),
                )
            ]
        )
    if not str(by).strip():
        raise CourseError(
            [Problem(f, field="by", message=t("delib_save.no_by"), fix=t("delib_save.no_by_fix"))]
        )
    unknown = sorted(set(changes) - set(RECORD_FIELDS))
    if unknown:
        raise CourseError(
            [
                Problem(
                    f,
                    field=k,
                    message=t("delib_save.unknown_field"),
                    fix=t("delib_save.unknown_field_fix", fields=", ".join(RECORD_FIELDS)),
                )
                for k in unknown
            ]
        )
    refused = sorted(set(changes) - ROLE_FIELDS[role])
    if refused:
        raise CourseError(
            [
                Problem(
                    f,
                    field=k,
                    message=t("delib_save.refused", role=role, field=k),
                    fix=t(
                        "delib_save.refused_fix",
                        role=role,
                        fields=", ".join(sorted(ROLE_FIELDS[role])),
                    ),
                )
                for k in refused
            ]
        )


def _check_version(f: str, current: Deliberation, expected_version: int | None) -> None:
    """Refuse a save made on a version someone else has saved over since."""
    if expected_version is not None and current.version != expected_version:
        raise CourseError(
            [
                Problem(
                    f,
                    field="version",
                    message=t(
                        "delib_save.conflict",
                        who=current.updated_by or t("delib_save.someone"),
                        expected=expected_version,
                        version=current.version,
                    ),
                    fix=t("delib_save.conflict_fix"),
                )
            ]
        )


def _note_hand_edit(
    course: Course, cohort_id: str, session_id: str, current: Deliberation, base: dict[str, Any]
) -> None:
    """Append the record as it is now when it differs from the last history entry.

    Someone edited the TOML by hand since the last save: keep that in the history too.
    """
    entries = history(course, cohort_id, session_id)
    empty = Deliberation().model_dump(mode="json", exclude=_STAMP)
    prev = entries[-1].get("record", {}) if entries else empty
    if record_path(course, cohort_id, session_id).exists() and prev != base:
        _append_line(
            history_path(course, cohort_id, session_id),
            {
                "version": current.version,
                "at": _now().isoformat(),
                "by": "(edited by hand)",
                "role": "",
                "changes": _diff(prev, base),
                "record": base,
            },
        )


def _validated(merged: dict[str, Any], f: str) -> Deliberation:
    """The record with the changes merged in; a CourseError when its fields do not validate."""
    try:
        return Deliberation.model_validate(merged)
    except ValidationError as e:
        raise CourseError(_pydantic_problems(e, f)) from None


def _check_record(
    course: Course, cohort_id: str, session_id: str, candidate: Deliberation, f: str
) -> None:
    """Refuse a record with an error against the course (unknown modules, trainees, ...)."""
    problems = [
        p
        for p in record_problems(course, cohort_id, session_id, candidate, f)
        if p.severity == "error"
    ]
    if problems:
        raise CourseError(problems)


def record_deliberation(
    course: Course | str | Path,
    cohort_id: str,
    session_id: str,
    *,
    by: str,
    role: Role | str,
    expected_version: int | None = None,
    **changes: Any,
) -> Path:
    """Record changes to a session's deliberation and append them to its history.

    ``by`` names who made the change (a person, or a trainee id for a trainee
    representative) and ``role`` is ``organiser``, ``teacher`` or
    ``trainee-rep``; each role may change only its own fields (see
    ``ROLE_FIELDS``). ``changes`` are fields of the record (``teacher_direction``,
    ``trainee_expectations``, ``trainee_questions``, ``organiser_decisions``,
    ``emphasis``, ``modules``, ``time_split``, ``extra_questions``,
    ``agreed_at``, ``parties``); each replaces the field's value. Pass
    ``expected_version`` (the version you read) to refuse the save if someone
    else saved in between. A save that changes nothing adds no version.
    Returns the record's path; raises :class:`CourseError` on any problem.
    """
    course = as_course(course)
    cohort = course.cohort(cohort_id)
    cohort.session(session_id)
    path = record_path(course, cohort_id, session_id)
    f = str(path)
    _check_change(f, by, role, changes)

    with _locked(path.parent):
        current = load_deliberation(course, cohort_id, session_id) or Deliberation()
        _check_version(f, current, expected_version)
        base = current.model_dump(mode="json", exclude=_STAMP)
        _note_hand_edit(course, cohort_id, session_id, current, base)
        candidate = _validated({**current.model_dump(), **changes}, f)
        after = candidate.model_dump(mode="json", exclude=_STAMP)
        diff = _diff(base, after)
        if not diff:
            return path
        _check_record(course, cohort_id, session_id, candidate, f)
        now = _now()
        new = candidate.model_copy(
            update={"version": current.version + 1, "updated_at": now, "updated_by": str(by)}
        )
        _atomic_write(path, dumps_record(new, cohort_id, session_id))
        _append_line(
            history_path(course, cohort_id, session_id),
            {
                "version": new.version,
                "at": now.isoformat(),
                "by": str(by),
                "role": role,
                "changes": diff,
                "record": after,
            },
        )
    return path


def _diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: {"old": old.get(k), "new": new.get(k)}
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    }
