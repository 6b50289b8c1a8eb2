"""Three-party pre-class deliberation (三方研议): records, history, form, parameters.

Before a class, the organisers (training office / party school), the teacher and
trainee representatives agree on what the class should respond to. The agreed
points are a session's ``deliberation`` parameter; a notebook may show them
(:func:`deliberation_banner`, :func:`show`), include optional ``module:NAME``
cells and ask the extra questions the parties agreed on.

Files, per cohort and session::

    cohorts/<cohort>/deliberations/<session>.toml           the current record
    cohorts/<cohort>/deliberations/<session>.history.jsonl  append-only versions

The TOML file is meant to be read (and may be edited) by people; every change
made through :func:`record_deliberation` (or the form, which calls it) appends
one line to the history: version, time, who, role and the fields changed with
their old and new values. A hand edit of the TOML is detected at the next save
and recorded as its own history entry, so the history never silently misses a
change. The format is described in ``docs/deliberation.md``.
"""

from __future__ import annotations

import contextlib
import fcntl
import html
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kit import kinds
from kit.course import (
    Course,
    CourseError,
    Problem,
    _pydantic_problems,
    as_course,
    inspect_course,
    read_toml,
)
from kit.kinds.base import QID_RE

Role = Literal["organiser", "teacher", "trainee-rep"]
ROLES: tuple[str, ...] = ("organiser", "teacher", "trainee-rep")

# Kinds of question the parties may add: those that make sense without a
# computed key (the registry's ``extra`` flag). A deliberation adds discussion
# prompts, not autograded items.
EXTRA_KINDS = kinds.names(extra=True)

QID = QID_RE.pattern

# What each party may change. The organisers broker the meeting and keep its
# minutes, so they may record anything; the teacher owns the direction and the
# content changes of the class; trainee representatives state expectations and
# questions. A role writing outside its remit is a user error, not a crash.
PARTY_FIELDS = (
    "teacher_direction",
    "trainee_expectations",
    "trainee_questions",
    "organiser_decisions",
)
AGREED_FIELDS = ("emphasis", "extra_questions", "modules", "time_split")
RECORD_FIELDS = (*PARTY_FIELDS, *AGREED_FIELDS, "agreed_at", "parties")
ROLE_FIELDS: dict[str, frozenset[str]] = {
    "organiser": frozenset(RECORD_FIELDS),
    "teacher": frozenset({"teacher_direction", *AGREED_FIELDS}),
    "trainee-rep": frozenset({"trainee_expectations", "trainee_questions"}),
}


# ---------------------------------------------------------------- models

_Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RubricItem(BaseModel):
    """One criterion of a hand-marked extra question."""

    model_config = _Strict
    text: str = Field(min_length=1)
    points: float = Field(0, ge=0)


class ExtraQuestion(BaseModel):
    """A question the parties agreed to add to the class.

    Extra questions have no computed key: ``choice``, ``multi``, ``text`` and
    ``rating`` are ungraded polls; ``essay``, ``observation`` and ``upload``
    are marked by hand against ``rubric`` (worth 0 points when it has none).
    """

    model_config = _Strict
    id: str = Field(pattern=QID)
    prompt: str = Field(min_length=1)
    kind: Literal[EXTRA_KINDS] = "essay"  # type: ignore[valid-type]
    options: list[str] = Field(default_factory=list)
    rubric: list[RubricItem] = Field(default_factory=list)

    @field_validator("options")
    @classmethod
    def _clean_options(cls, v: list[str]) -> list[str]:
        return [o.strip() for o in v if o.strip()]

    @model_validator(mode="after")
    def _fits_kind(self) -> ExtraQuestion:
        picks = kinds.get(self.kind).options_field == "options"
        if picks and len(self.options) < 2:
            raise ValueError(f"a {self.kind} question needs at least two options")
        if picks and len(set(self.options)) != len(self.options):
            raise ValueError("options must be different from each other")
        if self.rubric and not kinds.get(self.kind).manual:
            raise ValueError(f"a {self.kind} question is not marked by rubric; remove the rubric")
        return self


class Parties(BaseModel):
    """Who took part: organisers by name, the teacher's faculty id, the trainee reps' ids."""

    model_config = _Strict
    organisers: list[str] = Field(default_factory=list)
    teacher: str = ""
    trainee_reps: list[str] = Field(default_factory=list)


def _lines(v: Any) -> Any:
    # A single string is accepted where a list is expected: people write
    # emphasis = "应急处置" as often as emphasis = ["应急处置"].
    if isinstance(v, str):
        return [v] if v.strip() else []
    if isinstance(v, list):
        return [
            x.strip() if isinstance(x, str) else x
            for x in v
            if not (isinstance(x, str) and not x.strip())
        ]
    return v


class Deliberation(BaseModel):
    """The current record of one session's deliberation (the TOML file)."""

    model_config = _Strict
    version: int = Field(0, ge=0)
    updated_at: datetime | None = None
    updated_by: str = ""
    agreed_at: datetime | None = None
    teacher_direction: str = ""
    trainee_expectations: list[str] = Field(default_factory=list)
    trainee_questions: list[str] = Field(default_factory=list)
    organiser_decisions: list[str] = Field(default_factory=list)
    emphasis: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)
    time_split: dict[str, float] = Field(default_factory=dict)
    parties: Parties = Field(default_factory=Parties)
    extra_questions: list[ExtraQuestion] = Field(default_factory=list)

    @field_validator(
        "trainee_expectations",
        "trainee_questions",
        "organiser_decisions",
        "emphasis",
        "modules",
        mode="before",
    )
    @classmethod
    def _list_of_lines(cls, v: Any) -> Any:
        return _lines(v)

    @field_validator("time_split")
    @classmethod
    def _positive_minutes(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, m in v.items() if m < 0]
        if bad:
            raise ValueError(f"minutes must not be negative: {', '.join(bad)}")
        return v

    @field_validator("extra_questions")
    @classmethod
    def _unique_ids(cls, v: list[ExtraQuestion]) -> list[ExtraQuestion]:
        ids = [q.id for q in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"question ids must be unique, repeated: {', '.join(dup)}")
        return v

    def inputs(self) -> dict[str, Any]:
        """The ``deliberation`` parameter dict (JSON-safe) a notebook receives."""
        return self.model_dump(mode="json")


# ---------------------------------------------------------------- files


def deliberations_dir(course: Course, cohort_id: str) -> Path:
    """The folder holding a cohort's deliberation records."""
    return course.cohort(cohort_id).folder / "deliberations"


def record_path(course: Course, cohort_id: str, session_id: str) -> Path:
    """Where a session's deliberation record lives (it may not exist)."""
    return deliberations_dir(course, cohort_id) / f"{session_id}.toml"


def history_path(course: Course, cohort_id: str, session_id: str) -> Path:
    """The append-only history beside a session's record."""
    return deliberations_dir(course, cohort_id) / f"{session_id}.history.jsonl"


def _parse(path: Path) -> tuple[Deliberation | None, list[Problem]]:
    problems: list[Problem] = []
    raw = read_toml(path, problems)
    if raw is None:
        return None, problems
    try:
        return Deliberation.model_validate(raw), problems
    except ValidationError as e:
        return None, _pydantic_problems(e, str(path))


def load_deliberation(course: Course, cohort_id: str, session_id: str) -> Deliberation | None:
    """The session's record, ``None`` when there is none; :class:`CourseError` when malformed."""
    course.cohort(cohort_id).session(session_id)  # unknown cohort/session → CourseError
    path = record_path(course, cohort_id, session_id)
    if not path.exists():
        return None
    record, problems = _parse(path)
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


# ---------------------------------------------------------------- TOML writing


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


# ---------------------------------------------------------------- checks


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
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        if cell.get("cell_type") == "code":
            qids.update(re.findall(r"\bask\.\w+\(\s*['\"]([^'\"]+)['\"]", src))
    return modules, qids


def _record_problems(
    course: Course, cohort_id: str, session_id: str, record: Deliberation, file: str
) -> list[Problem]:
    """Reference checks of a parsed record against the course."""
    problems: list[Problem] = []
    cohort = course.cohorts[cohort_id]
    s = cohort.session(session_id)
    offered, asked = _notebook_scan(course.root / s.notebook)
    for m in record.modules:
        if m not in offered:
            known = ", ".join(sorted(offered)) or "none (tag optional cells module:NAME)"
            problems.append(
                Problem(
                    file,
                    "modules",
                    "modules",
                    f"unknown module {m!r}: {s.notebook} has no cell tagged module:{m}",
                    f"use one of: {known}",
                )
            )
    for i, q in enumerate(record.extra_questions):
        if q.id in asked:
            problems.append(
                Problem(
                    file,
                    f"extra_questions[{i}]",
                    "id",
                    f"question id {q.id!r} is already asked in {s.notebook}",
                    "choose another id, e.g. prefix it with delib-",
                )
            )
    p = record.parties
    if p.teacher and p.teacher not in course.faculty.index:
        problems.append(
            Problem(
                file,
                "[parties]",
                "teacher",
                f"unknown teacher {p.teacher!r}",
                "use a faculty id from catalog/faculty.csv",
            )
        )
    elif p.teacher and p.teacher != s.teacher:
        problems.append(
            Problem(
                file,
                "[parties]",
                "teacher",
                f"teacher {p.teacher!r} is not the session's teacher {s.teacher!r}",
                "check schedule.csv or the record",
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
                    f"unknown trainee {rep!r} in cohort {cohort_id}",
                    "use ids from roster.csv",
                )
            )
    total = sum(record.time_split.values())
    if total > s.hours * 60 + 1e-9:
        problems.append(
            Problem(
                file,
                "time_split",
                "time_split",
                f"{total:g} minutes planned but the session has {s.hours:g} h ({s.hours * 60:g} min)",
                "shorten the split or change hours in schedule.csv",
                severity="warning",
            )
        )
    return problems


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
        folder = cohort.folder / "deliberations"
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            record, _ = _parse(path)
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
        folder = cohort.folder / "deliberations"
        if not folder.is_dir():
            continue
        sessions = {s.session for s in cohort.sessions}
        for path in sorted(folder.glob("*.toml")):
            f = str(path)
            if path.stem not in sessions:
                problems.append(
                    Problem(
                        f,
                        message=f"no session {path.stem!r} in cohort {cohort_id}",
                        fix=f"rename the file to <session>.toml, one of: {', '.join(sorted(sessions))}",
                    )
                )
                continue
            record, found = _parse(path)
            problems += found
            if record is not None:
                problems += _record_problems(course, cohort_id, path.stem, record, f)
        for path in sorted(folder.glob("*.history.jsonl")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    json.loads(line)
                except ValueError:
                    problems.append(
                        Problem(
                            str(path),
                            f"line {n}",
                            message="not a JSON line",
                            fix="history is written by casekit; restore it from version control",
                        )
                    )
    return problems


# ---------------------------------------------------------------- recording


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def record_deliberation(
    course: Course | str | Path,
    cohort_id: str,
    session_id: str,
    *,
    by: str,
    role: Role,
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
    if role not in ROLES:
        raise CourseError(
            [
                Problem(
                    f,
                    field="role",
                    message=f"unknown role {role!r}",
                    fix=f"use one of: {', '.join(ROLES)}",
                )
            ]
        )
    if not str(by).strip():
        raise CourseError(
            [
                Problem(
                    f, field="by", message="who made the change is required", fix="pass by='name'"
                )
            ]
        )
    unknown = sorted(set(changes) - set(RECORD_FIELDS))
    if unknown:
        raise CourseError(
            [
                Problem(
                    f, field=k, message="unknown field", fix=f"fields: {', '.join(RECORD_FIELDS)}"
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
                    message=f"a {role} may not change {k}",
                    fix=f"a {role} may change: {', '.join(sorted(ROLE_FIELDS[role]))}; ask the organisers",
                )
                for k in refused
            ]
        )

    with _locked(path.parent):
        hist = history_path(course, cohort_id, session_id)
        current = load_deliberation(course, cohort_id, session_id) or Deliberation()
        if expected_version is not None and current.version != expected_version:
            raise CourseError(
                [
                    Problem(
                        f,
                        field="version",
                        message=f"changed by {current.updated_by or 'someone'} since you read version {expected_version} (now {current.version})",
                        fix="reload the record and make your change again",
                    )
                ]
            )
        entries = history(course, cohort_id, session_id)
        base = current.model_dump(mode="json", exclude={"version", "updated_at", "updated_by"})
        empty = Deliberation().model_dump(
            mode="json", exclude={"version", "updated_at", "updated_by"}
        )
        prev = entries[-1].get("record", {}) if entries else empty
        if path.exists() and prev != base:
            # Someone edited the TOML by hand since the last save: keep that in the history too.
            _append_line(
                hist,
                {
                    "version": current.version,
                    "at": _now().isoformat(),
                    "by": "(edited by hand)",
                    "role": "",
                    "changes": _diff(prev, base),
                    "record": base,
                },
            )
        merged = {**current.model_dump(), **changes}
        try:
            candidate = Deliberation.model_validate(merged)
        except ValidationError as e:
            raise CourseError(_pydantic_problems(e, f)) from None
        after = candidate.model_dump(mode="json", exclude={"version", "updated_at", "updated_by"})
        diff = _diff(base, after)
        if not diff:
            return path
        problems = [
            p
            for p in _record_problems(course, cohort_id, session_id, candidate, f)
            if p.severity == "error"
        ]
        if problems:
            raise CourseError(problems)
        now = _now()
        new = candidate.model_copy(
            update={"version": current.version + 1, "updated_at": now, "updated_by": str(by)}
        )
        _atomic_write(path, dumps_record(new, cohort_id, session_id))
        _append_line(
            hist,
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


# ---------------------------------------------------------------- rendering

_TEXT = {
    "zh": {
        "title": "本课回应的学员关切",
        "notes_title": "三方研议 · 教师备课要点",
        "none": "本课未记录三方研议（组织方、授课教师、学员代表）。课程按原稿进行。",
        "none_fix": "课前研议后用 `record_deliberation` 或研议表单记录，再重新构建。",
        "direction": "教师教学方向",
        "expectations": "学员期望",
        "questions": "学员问题",
        "decisions": "组织方决定",
        "emphasis": "重点加强",
        "extra": "新增讨论题",
        "modules": "增加的教学模块",
        "split": "时间安排（分钟）",
        "parties": "参与方",
        "organisers": "组织方",
        "teacher": "教师",
        "reps": "学员代表",
        "agreed": "商定于",
        "version": "版本",
    },
    "en": {
        "title": "What this class responds to",
        "notes_title": "Deliberation — notes for the teacher",
        "none": "No three-party deliberation (organisers, teacher, trainee representatives) was recorded for this session. The class runs as authored.",
        "none_fix": "Record one with `record_deliberation` or the deliberation form before class, then rebuild.",
        "direction": "Teacher's direction",
        "expectations": "Trainees' expectations",
        "questions": "Trainees' questions",
        "decisions": "Organisers' decisions",
        "emphasis": "Emphasis",
        "extra": "Added questions",
        "modules": "Added modules",
        "split": "Time split (minutes)",
        "parties": "Parties",
        "organisers": "organisers",
        "teacher": "teacher",
        "reps": "trainee representatives",
        "agreed": "agreed",
        "version": "version",
    },
}


def _md(text: Any) -> str:
    """Escape free text for a markdown cell: no HTML, no accidental markup."""
    s = html.escape(str(text), quote=False)
    s = re.sub(r"([\\`*_\[\]#|~])", r"\\\1", s)
    return " ".join(s.split())  # one line: a newline would end the blockquote item


def deliberation_banner(
    inputs: dict[str, Any],
    language: str = "zh",
    *,
    audience: Literal["instructor", "trainee", "notes"] = "instructor",
) -> str:
    """Markdown for a cell at the top of an edition, from :func:`session_inputs`.

    ``instructor``: everything the parties agreed, or — when there is no
    deliberation — a plain statement that none was recorded, so a teacher
    never mistakes an unprepared class for a prepared one.
    ``trainee``: what the class responds to (expectations, questions,
    emphasis, added questions); ``""`` when there is nothing to show.
    ``notes``: only what the trainee banner leaves out (direction, decisions,
    modules, time split, parties), for a ``teaching-note`` cell beside the
    trainee banner; the same "none recorded" statement when there is none.
    """
    t = _TEXT.get(language, _TEXT["en"])
    if not inputs:
        if audience == "trainee":
            return ""
        return f"> **⚠ {t['none']}**\n>\n> {t['none_fix']}\n"
    public = audience in ("instructor", "trainee")
    private = audience in ("instructor", "notes")
    split = inputs.get("time_split") or {}
    items: list[tuple[str, list[str]]] = []
    if private and inputs.get("teacher_direction"):
        items.append((t["direction"], [inputs["teacher_direction"]]))
    if public:
        items.append((t["expectations"], inputs.get("trainee_expectations", [])))
        items.append((t["questions"], inputs.get("trainee_questions", [])))
    if private:
        items.append((t["decisions"], inputs.get("organiser_decisions", [])))
    if public:
        items.append((t["emphasis"], inputs.get("emphasis", [])))
        items.append((t["extra"], [q["prompt"] for q in inputs.get("extra_questions", [])]))
    if private:
        items.append((t["modules"], inputs.get("modules", [])))
        items.append((t["split"], [f"{k} {v:g}" for k, v in split.items()]))
    items = [(label, vals) for label, vals in items if vals]
    if audience == "trainee" and not items:
        return ""
    out = [f"> ### {t['title'] if public else t['notes_title']}", ">"]
    for label, vals in items:
        out.append(f"> **{label}**")
        out.append(">")
        out += [f"> - {_md(v)}" for v in vals]
        out.append(">")
    if private:
        p = inputs.get("parties") or {}
        who = []
        if p.get("organisers"):
            who.append(f"{t['organisers']}: {', '.join(map(_md, p['organisers']))}")
        if p.get("teacher"):
            who.append(f"{t['teacher']}: {_md(p['teacher'])}")
        if p.get("trainee_reps"):
            who.append(f"{t['reps']}: {', '.join(map(_md, p['trainee_reps']))}")
        meta = []
        if who:
            meta.append(f"{t['parties']} — " + "; ".join(who))
        if inputs.get("agreed_at"):
            meta.append(f"{t['agreed']} {_md(inputs['agreed_at'])}")
        meta.append(f"{t['version']} {inputs.get('version', 0)}")
        out.append("> <small>" + " · ".join(meta) + "</small>")
    while out and out[-1] == ">":
        out.pop()
    return "\n".join(out) + "\n"


_ESSAY_RUBRIC = {"zh": "回应了本课研议的关切", "en": "responds to the agreed concern"}


def extra_questions_source(inputs: dict[str, Any], language: str = "zh") -> str:
    """Python source of a code cell that asks the agreed extra questions (``""`` if none).

    It uses the authoring API only, so the questions are real, stored and
    collected answers like any other. An essay without a rubric gets one
    zero-point criterion (the API requires a rubric; a discussion prompt is
    not scored).
    """
    qs = inputs.get("extra_questions") or []
    if not qs:
        return ""
    lines = ["from kit.questions import ask", ""]
    for q in qs:
        kind = q.get("kind", "essay")
        k = kinds.get(kind)
        args = [repr(q["id"]), repr(q["prompt"])]
        rubric = [{"text": r["text"], "points": r.get("points", 0)} for r in q.get("rubric") or []]
        if k.options_field == "options":
            args += [f"options={q.get('options', [])!r}", "points=0"]
        elif k.keyed:
            args.append("points=0")  # a poll: no key, no points
        elif k.manual:
            if k.requires_rubric:
                rubric = rubric or [
                    {"text": _ESSAY_RUBRIC.get(language, _ESSAY_RUBRIC["en"]), "points": 0}
                ]
            if rubric:
                args.append(f"rubric={rubric!r}")
        lines.append(f"display(ask.{kind}({', '.join(args)}))")
    return "\n".join(lines) + "\n"


def deliberation_cells(inputs: dict[str, Any], language: str = "zh") -> list[Any]:
    """Cells a build inserts into a session's source notebook before it runs.

    Insert them right after the ``parameters`` cell (:func:`insert_cells` does):

    1. a markdown box "what this class responds to" for everyone (no tag, so
       both editions and the trainee handout carry it) — when there is
       something to show;
    2. a markdown cell tagged ``teaching-note`` with what only the instructor
       sees: the teacher's direction, the organisers' decisions, modules, time
       split, parties — or, with no deliberation, the plain statement that none
       was recorded;
    3. a code cell asking the agreed extra questions — when there are any.

    Each cell carries ``metadata.casekit.role == "deliberation"``.
    """
    import nbformat

    cells = []
    public = deliberation_banner(inputs, language, audience="trainee")
    if public:
        cells.append(nbformat.v4.new_markdown_cell(public))
    notes = deliberation_banner(inputs, language, audience="notes")
    note_cell = nbformat.v4.new_markdown_cell(notes)
    note_cell.metadata["tags"] = ["teaching-note"]
    cells.append(note_cell)
    src = extra_questions_source(inputs, language)
    if src:
        cells.append(nbformat.v4.new_code_cell(src))
    for cell in cells:
        cell.metadata["casekit"] = {"role": "deliberation"}
    return cells


def insert_cells(nb: Any, inputs: dict[str, Any], language: str = "zh") -> Any:
    """Insert :func:`deliberation_cells` after the ``parameters`` cell (at the top if none); returns ``nb``."""
    at = next(
        (
            i + 1
            for i, c in enumerate(nb.cells)
            if "parameters" in (c.get("metadata", {}).get("tags") or [])
        ),
        0,
    )
    nb.cells[at:at] = deliberation_cells(inputs, language)
    return nb


def show(deliberation: dict[str, Any], language: str = "zh", *, audience: str = "trainee") -> Any:
    """Display the "what this class responds to" box inside a notebook.

    Call it in a code cell with the ``deliberation`` parameter; it displays
    nothing for a trainee when there was no deliberation.
    """
    from IPython.display import Markdown, display

    text = deliberation_banner(deliberation, language, audience=audience)  # type: ignore[arg-type]
    if text:
        display(Markdown(text))


# ---------------------------------------------------------------- form


def _split_lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _parse_split(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in re.split(r"[,，;；\n]", text):
        if not part.strip():
            continue
        k, sep, v = part.partition("=")
        if not sep:
            k, sep, v = part.rpartition(" ")
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise ValueError(f"time split {part.strip()!r}: write activity=minutes") from None
    return out


def _parse_questions(text: str) -> list[dict[str, Any]]:
    """Lines ``id | prompt`` or ``id | kind | prompt`` (choice: ``| options: a; b``)."""
    out = []
    for line in _split_lines(text):
        parts = [p.strip() for p in line.split("|")]
        q: dict[str, Any] = {"id": parts[0]}
        rest = parts[1:]
        if rest and rest[-1].startswith(("options:", "选项:", "选项：")):
            q["options"] = [
                o.strip()
                for o in re.split(r"[;；]", rest.pop().split(":", 1)[-1].split("：", 1)[-1])
            ]
        if len(rest) >= 2 and rest[0] in EXTRA_KINDS:
            q["kind"] = rest.pop(0)
        q["prompt"] = " | ".join(rest)
        out.append(q)
    return out


def _format_questions(qs: list[dict[str, Any]]) -> str:
    lines = []
    for q in qs:
        line = f"{q['id']} | {q.get('kind', 'essay')} | {q['prompt']}"
        if q.get("options"):
            line += " | options: " + "; ".join(q["options"])
        lines.append(line)
    return "\n".join(lines)


def deliberation_form(
    course: Course | str | Path,
    cohort_id: str,
    session_id: str,
    *,
    by: str = "",
    role: Role = "organiser",
    language: str | None = None,
) -> Any:
    """An ipywidgets form that edits a session's deliberation through :func:`record_deliberation`.

    Returns a :class:`DeliberationForm` (a ``VBox``): put it last in a cell.
    Lists are one item per line; time split is ``activity=minutes, …``; extra
    questions are ``id | kind | prompt`` per line. Fields a role may not change
    are disabled. Only fields that differ from the loaded record are saved.
    """
    return _form_class()(
        as_course(course), cohort_id, session_id, by=by, role=role, language=language
    )


_FORM_CLASS: type | None = None


def _form_class() -> type:
    # ipywidgets is imported only when a form is made: build and check do not need it.
    global _FORM_CLASS
    if _FORM_CLASS is None:
        _FORM_CLASS = _make_form_class()
    return _FORM_CLASS


def _make_form_class() -> type:
    import ipywidgets as w

    labels = {
        "zh": {
            "by": "记录人",
            "role": "角色",
            "teacher_direction": "教师教学方向",
            "trainee_expectations": "学员期望（每行一条）",
            "trainee_questions": "学员问题（每行一条）",
            "organiser_decisions": "组织方决定（每行一条）",
            "emphasis": "重点加强（每行一条）",
            "modules": "增加模块",
            "time_split": "时间（活动=分钟, …）",
            "extra_questions": "新增题（id | 类型 | 题干）",
            "save": "保存",
            "saved": "已保存，版本",
            "nochange": "没有改动",
        },
        "en": {
            "by": "By",
            "role": "Role",
            "teacher_direction": "Teacher's direction",
            "trainee_expectations": "Expectations (one a line)",
            "trainee_questions": "Questions (one a line)",
            "organiser_decisions": "Decisions (one a line)",
            "emphasis": "Emphasis (one a line)",
            "modules": "Add modules",
            "time_split": "Time split (activity=min, …)",
            "extra_questions": "Extra questions (id | kind | prompt)",
            "save": "Save",
            "saved": "Saved, version",
            "nochange": "Nothing changed",
        },
    }

    class Form(w.VBox):
        """The deliberation form: ``fields`` (name → widget), ``save_button``, ``status``."""

        def __init__(
            self,
            course: Course,
            cohort_id: str,
            session_id: str,
            *,
            by: str,
            role: str,
            language: str | None,
        ):
            self.course, self.cohort_id, self.session_id = course, cohort_id, session_id
            lang = language or course.language
            self.t = labels.get(lang, labels["en"])
            session = course.cohort(cohort_id).session(session_id)
            offered = sorted(notebook_modules(course, session.notebook))
            lay = w.Layout(width="95%")
            style = {"description_width": "14em"}
            self.by = w.Text(value=by, description=self.t["by"], style=style)
            self.role = w.Dropdown(
                options=list(ROLES), value=role, description=self.t["role"], style=style
            )
            self.fields: dict[str, Any] = {
                "teacher_direction": w.Textarea(
                    description=self.t["teacher_direction"], layout=lay, style=style
                ),
                "trainee_expectations": w.Textarea(
                    description=self.t["trainee_expectations"], layout=lay, style=style
                ),
                "trainee_questions": w.Textarea(
                    description=self.t["trainee_questions"], layout=lay, style=style
                ),
                "organiser_decisions": w.Textarea(
                    description=self.t["organiser_decisions"], layout=lay, style=style
                ),
                "emphasis": w.Textarea(description=self.t["emphasis"], layout=lay, style=style),
                "modules": w.SelectMultiple(
                    options=offered, description=self.t["modules"], style=style
                ),
                "time_split": w.Text(description=self.t["time_split"], layout=lay, style=style),
                "extra_questions": w.Textarea(
                    description=self.t["extra_questions"], layout=lay, style=style
                ),
            }
            self.save_button = w.Button(
                description=self.t["save"], button_style="primary", icon="save"
            )
            self.status = w.HTML()
            self.save_button.on_click(lambda _b: self.save())
            self.role.observe(lambda _c: self._enable(), names="value")
            title = w.HTML(
                f"<b>{html.escape(course.cohort(cohort_id).name)} · {html.escape(session_id)}</b>"
            )
            super().__init__(
                [title, self.by, self.role, *self.fields.values(), self.save_button, self.status]
            )
            self.load()

        def _enable(self) -> None:
            allowed = ROLE_FIELDS[self.role.value]
            for name, widget in self.fields.items():
                widget.disabled = name not in allowed

        def _values(self) -> dict[str, Any]:
            f = self.fields
            return {
                "teacher_direction": f["teacher_direction"].value.strip(),
                "trainee_expectations": _split_lines(f["trainee_expectations"].value),
                "trainee_questions": _split_lines(f["trainee_questions"].value),
                "organiser_decisions": _split_lines(f["organiser_decisions"].value),
                "emphasis": _split_lines(f["emphasis"].value),
                "modules": list(f["modules"].value),
                "time_split": _parse_split(f["time_split"].value),
                "extra_questions": _parse_questions(f["extra_questions"].value),
            }

        def load(self) -> None:
            """(Re)read the record into the widgets."""
            rec = load_deliberation(self.course, self.cohort_id, self.session_id) or Deliberation()
            d = rec.inputs()
            f = self.fields
            f["teacher_direction"].value = d["teacher_direction"]
            for k in (
                "trainee_expectations",
                "trainee_questions",
                "organiser_decisions",
                "emphasis",
            ):
                f[k].value = "\n".join(d[k])
            f["modules"].value = tuple(m for m in d["modules"] if m in f["modules"].options)
            f["time_split"].value = ", ".join(f"{k}={v:g}" for k, v in d["time_split"].items())
            f["extra_questions"].value = _format_questions(d["extra_questions"])
            self.version = rec.version
            self._loaded = self._values()
            self._enable()

        def save(self) -> Path | None:
            """Write the changed fields; show the outcome in ``status``."""
            try:
                now = self._values()
                changes = {k: v for k, v in now.items() if v != self._loaded[k]}
                if not changes:
                    self.status.value = html.escape(self.t["nochange"])
                    return None
                path = record_deliberation(
                    self.course,
                    self.cohort_id,
                    self.session_id,
                    by=self.by.value,
                    role=self.role.value,
                    expected_version=self.version,
                    **changes,
                )
            except (CourseError, ValueError) as e:
                msgs = e.problems if isinstance(e, CourseError) else [e]
                self.status.value = "<br>".join(
                    f'<span style="color:#b00020">{html.escape(str(m))}</span>' for m in msgs
                )
                return None
            self.load()
            self.status.value = f"{html.escape(self.t['saved'])} {self.version}"
            return path

    return Form


def __getattr__(name: str) -> Any:
    if name == "DeliberationForm":
        return _form_class()
    raise AttributeError(name)
