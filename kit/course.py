"""Course files → validated models.

A course is a folder: ``course.toml``, ``catalog/*.csv``, ``cohorts/<id>/`` and
the notebooks in ``cases/`` and ``exercises/``. :func:`load_course` reads all of
it, validates every row with pydantic and checks the references between files.
Every problem names the file, the row (CSV line number as a spreadsheet shows
it) or key, the field, and what to do about it. Problems are collected, not
raised one by one, so an instructor sees them all in one go.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from kit.language import DEFAULT as DEFAULT_LANGUAGE
from kit.messages import EN, t
from kit.numbers import parse_number

# the problem types live in kit.problems; importable from here as they always were
from kit.problems import CourseError, Failure, Outcome, Problem, UserError  # noqa: F401
from kit.untrusted import id_problem

if TYPE_CHECKING:  # imported where tables are read: `casekit --help` needs no pandas
    import pandas as pd

DEFAULT_UNITS = [
    {"id": "red", "name": "理想信念", "colour": "#c0392b"},
    {"id": "green", "name": "经济建设", "colour": "#2e7d32"},
    {"id": "blue", "name": "社会治理", "colour": "#1565c0"},
    {"id": "gold", "name": "综合能力", "colour": "#b8860b"},
]


# ---------------------------------------------------------------- models

_Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Unit(BaseModel):
    model_config = _Strict
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    description: str = ""


class Programme(BaseModel):
    model_config = _Strict
    name: str
    language: Literal["zh", "en"] = DEFAULT_LANGUAGE
    interactive_target: float = Field(0.75, ge=0, le=1)
    year: int | None = None


class Defaults(BaseModel):
    model_config = _Strict
    cell_timeout: float = Field(60, gt=0)
    notebook_timeout: float = Field(600, gt=0)
    memory_mb: int = Field(2048, ge=128)


class GradebookConfig(BaseModel):
    model_config = _Strict
    url: str | None = None


class GradingConfig(BaseModel):
    model_config = _Strict
    late_penalty_per_day: float = Field(0.1, ge=0, le=1)
    late_penalty_cap: float = Field(0.5, ge=0, le=1)
    #: A due time without a zone is read in this zone (default: Beijing time for zh courses, else UTC).
    timezone: str | None = None
    # Trainee code gets tighter limits than the author's build: an infinite loop
    # should cost seconds per submission, not a minute.
    cell_timeout: float = Field(20, gt=0)
    notebook_timeout: float = Field(180, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:

        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(t("course.unknown_zone", zone=v)) from None
        return v


class CourseConfig(BaseModel):
    """The contents of ``course.toml``."""

    model_config = _Strict
    programme: Programme
    units: list[Unit] = Field(default_factory=lambda: [Unit(**u) for u in DEFAULT_UNITS])
    defaults: Defaults = Field(default_factory=Defaults)
    exchange: str = "exchange"
    gradebook: GradebookConfig = Field(default_factory=GradebookConfig)
    grading: GradingConfig = Field(default_factory=GradingConfig)

    @field_validator("units")
    @classmethod
    def _unique_units(cls, units: list[Unit]) -> list[Unit]:
        ids = [u.id for u in units]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(t("course.units_repeated", ids=", ".join(sorted(dup))))
        if not units:
            raise ValueError(t("course.no_units"))
        return units


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    #: the line a spreadsheet shows for this row (the header is line 1); 0 when not read from a file
    _line: int = PrivateAttr(0)

    @property
    def line(self) -> int:
        return self._line


class Faculty(_Row):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    kind: Literal["leader", "scholar", "model-worker"]
    title: str = ""
    unit: str = ""
    speciality: str = ""


class Site(_Row):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    category: Literal["red-heritage", "grassroots-governance", "clean-government", "transformation"]
    address: str = ""
    contact_role: str = ""
    unit: str = ""


class Reading(_Row):
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    author: str = ""
    unit: str = ""
    year: str = ""


class Method(_Row):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    interactive: bool


#: Ids of the course's tables (trainees, sessions, tasks): plain ASCII, as file names,
#: URLs and LMS grade files take them.
TABLE_ID = r"^[A-Za-z0-9_.-]+$"


def _names_a_folder(v: str) -> str:
    """`v` when it can name a folder (outbox, store, a trainee's own variant), as the one id
    check (:func:`kit.untrusted.id_problem`) says: "." and ".." would escape."""
    why = id_problem(v)
    if why:
        raise ValueError(t("course.id_folder", why=why))
    return v


#: A table id that names folders: what the hand-in and the exchange will take.
FolderId = Annotated[str, Field(min_length=1, pattern=TABLE_ID), AfterValidator(_names_a_folder)]


class Trainee(_Row):
    id: FolderId
    name: str = Field(min_length=1)
    department: str = ""
    township: str = ""
    group: str = ""
    email: str = ""  # optional; LMS grade files can identify trainees by it


class Session(_Row):
    session: FolderId
    notebook: str = Field(min_length=1)
    date: date
    teacher: str = Field(min_length=1)
    site: str = ""
    method: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    hours: float = Field(2.0, gt=0)
    mode: Literal["assessed", "practice"] = "assessed"
    due: datetime | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    #: ``cohort``: one variant for everyone; ``trainee``: each trainee's own data and keys.
    variants: Literal["cohort", "trainee"] = "cohort"

    @property
    def per_trainee(self) -> bool:
        """Whether each trainee gets a variant of their own (built from their own seed)."""
        return self.variants == "trainee"

    @field_validator("due", mode="before")
    @classmethod
    def _empty_due(cls, v: Any) -> Any:
        return None if v in ("", None) else v

    @field_validator("hours", mode="before")
    @classmethod
    def _empty_hours(cls, v: Any) -> Any:
        if v in ("", None):
            return 2.0
        try:  # as people type them (３, ２.５): the one number reader
            return parse_number(v)
        except ValueError:
            return v  # pydantic says it is not a number, with the row

    @field_validator("mode", mode="before")
    @classmethod
    def _empty_mode(cls, v: Any) -> Any:
        return "assessed" if v in ("", None) else v

    @field_validator("variants", mode="before")
    @classmethod
    def _empty_variants(cls, v: Any) -> Any:
        return "cohort" if v in ("", None) else v

    @field_validator("params", mode="before")
    @classmethod
    def _json_params(cls, v: Any) -> Any:
        if isinstance(v, str):
            if not v.strip():
                return {}
            try:
                v = json.loads(v)
            except json.JSONDecodeError as e:
                raise ValueError(t("course.params_json", error=e.msg, column=e.colno)) from None
        if not isinstance(v, dict):
            raise ValueError(t("course.params_object"))
        return v


class CohortConfig(BaseModel):
    model_config = _Strict
    name: str
    start: date | None = None
    end: date | None = None
    description: str = ""


@dataclass
class Cohort:
    id: str
    folder: Path
    config: CohortConfig
    roster: pd.DataFrame
    sessions: list[Session]
    #: sessions of schedule rows that could not be read: their own problem is reported, so a
    #: reference to one elsewhere (tasks, deliberations) is not a second one
    unreadable: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.config.name

    def by_date(self) -> list[Session]:
        """The sessions in the order they are taught: the order readers number them in (第N讲)."""
        return sorted(self.sessions, key=lambda s: (s.date, s.session))

    def number(self, session_id: str) -> int:
        """A session's place in :meth:`by_date`, from 1."""
        return next(i for i, s in enumerate(self.by_date(), 1) if s.session == session_id)

    def session(self, session_id: str) -> Session:
        for s in self.sessions:
            if s.session == session_id:
                return s
        known = ", ".join(s.session for s in self.sessions)
        raise CourseError(
            [
                Problem(
                    str(self.folder / "schedule.csv"),
                    field="session",
                    message=t("course.no_session", session=session_id, cohort=self.id),
                    fix=t("course.use_one_of", options=known),
                )
            ]
        )


@dataclass
class Course:
    """A loaded course. Tables are pandas DataFrames indexed by ``id``."""

    root: Path
    config: CourseConfig
    faculty: pd.DataFrame
    sites: pd.DataFrame
    readings: pd.DataFrame
    methods: pd.DataFrame
    cohorts: dict[str, Cohort] = field(default_factory=dict)

    @property
    def units(self) -> dict[str, Unit]:
        return {u.id: u for u in self.config.units}

    @property
    def language(self) -> str:
        return self.config.programme.language

    @property
    def zone(self) -> ZoneInfo:
        """The course's time zone: due times, receipts and stamps on pages are read and shown in it.

        ``[grading] timezone`` in course.toml, else Beijing time for a Chinese
        course, else UTC.
        """
        name = self.config.grading.timezone or ("Asia/Shanghai" if self.language == "zh" else "UTC")
        return ZoneInfo(name)

    def due_at(self, cohort_id: str, session_id: str) -> datetime | None:
        """A session's due time, zone-aware (a due time written without a zone is the course's)."""
        due = self.cohort(cohort_id).session(session_id).due
        if due is None:
            return None
        return due if due.tzinfo else due.replace(tzinfo=self.zone)

    def due_moment(self, cohort_id: str, session_id: str) -> datetime:
        """When a session counts as due: its due time, else the end of its class day (course zone)."""
        due = self.due_at(cohort_id, session_id)
        if due is not None:
            return due
        day = self.cohort(cohort_id).session(session_id).date
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def exchange_dir(self) -> Path:
        return (self.root / self.config.exchange).resolve()

    def notebooks(self) -> list[Path]:
        """Every case and exercise notebook of the course, sorted."""
        found: list[Path] = []
        for folder in ("cases", "exercises"):
            found += sorted((self.root / folder).glob("*.ipynb"))
        return found

    def cohort(self, cohort_id: str) -> Cohort:
        if cohort_id not in self.cohorts:
            known = ", ".join(sorted(self.cohorts)) or t("common.none")
            raise CourseError(
                [
                    Problem(
                        str(self.root / "cohorts"),
                        message=t("course.no_cohort", cohort=cohort_id),
                        fix=t("course.no_cohort_fix", known=known),
                    )
                ]
            )
        return self.cohorts[cohort_id]

    def session_parameters(
        self, cohort_id: str, session_id: str, trainee: str | None = None
    ) -> dict[str, Any]:
        """Everything papermill injects into one session's notebook.

        For a session with a variant per trainee (``variants = trainee``),
        ``trainee`` names whose variant: its ``seed`` is a stable hash of the
        cohort and the trainee, and ``trainee`` is injected too; without one
        (or for a session with one variant) the cohort's reference variant,
        whose ``seed`` is the cohort's (and ``trainee`` is None where variants
        are per trainee).
        """
        cohort = self.cohort(cohort_id)
        s = cohort.session(session_id)
        unit = self.units[s.unit]
        teacher = _record(self.faculty, s.teacher)
        site = _record(self.sites, s.site) if s.site else None
        params: dict[str, Any] = {
            "cohort": cohort.id,
            "cohort_name": cohort.name,
            "session": s.session,
            "date": s.date.isoformat(),
            "unit": unit.id,
            "unit_name": unit.name,
            "unit_colour": unit.colour,
            "method": s.method,
            "teacher": teacher,
            "site": site,
            "mode": s.mode,
            "seed": stable_seed(cohort.id),
            "deliberation": {},
        }
        params.update(s.params)
        params.update(self.variant_parameters(cohort_id, session_id, trainee))
        return params

    def variant_parameters(
        self, cohort_id: str, session_id: str, trainee: str | None
    ) -> dict[str, Any]:
        """What sets a trainee's own variant apart from the cohort's reference: ``trainee``, ``seed``.

        Empty for a session everyone shares; ``{"trainee": None}`` for the
        reference variant of a session with a variant per trainee.
        """
        cohort = self.cohort(cohort_id)
        s = cohort.session(session_id)
        if not s.per_trainee:
            return {}
        if trainee is None:
            return {"trainee": None}
        # from the schedule's own seed when it sets one, so changing it reshuffles every variant
        return {
            "trainee": trainee,
            "seed": stable_seed(f"{s.params.get('seed', cohort.id)}/{trainee}"),
        }


def _record(table: pd.DataFrame, key: str) -> dict[str, Any]:
    row = table.loc[key].to_dict()
    return {"id": key, **row}


def stable_seed(text: str) -> int:
    """A seed derived from a cohort id (or ``cohort/trainee``): stable across runs and machines."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % (2**31)


# ---------------------------------------------------------------- loading


def _pydantic_message(e: Any) -> str:
    """Pydantic's message, explained in the current language where the catalogue knows its type."""
    key = f"pydantic.{e['type']}"
    if key not in EN:
        return str(e["msg"])
    if e["type"] == "value_error":  # our own validators' text, already in the current language
        return t(key, msg=(e.get("ctx") or {}).get("error", e["msg"]))
    # what the author wrote, not pydantic's English: one message in one language
    ctx = e.get("ctx") or {}
    limit = next((ctx[k] for k in ("gt", "ge", "lt", "le") if k in ctx), "")
    return t(key, value=e.get("input"), limit=limit)


def _pydantic_problems(
    err: ValidationError, file: str, where: str = "", fix: str = ""
) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = _pydantic_message(e)
        if e["type"] == "extra_forbidden":
            msg, fix_ = t("course.unknown_key"), t("course.unknown_key_fix")
        elif e["type"] == "missing":
            msg, fix_ = t("course.missing_field"), t("course.add_it")
        else:
            fix_ = fix
        if e["type"] == "literal_error":
            fix_ = t("course.use_literal", expected=(e.get("ctx") or {}).get("expected", ""))
            msg = t("course.not_allowed", value=e.get("input"))
        out.append(Problem(file, where, loc, msg, fix_))
    return out


def read_toml(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    """Parse a TOML file; a syntax error becomes a problem with its line."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(
            Problem(str(path), message=t("course.file_missing"), fix=t("course.create_it"))
        )
    except tomllib.TOMLDecodeError as e:
        problems.append(
            Problem(
                str(path),
                t("where.line", n=getattr(e, "lineno", "?")),
                "",
                t("course.bad_toml", error=e),
                t("course.bad_toml_fix"),
            )
        )
    except UnicodeDecodeError:
        problems.append(Problem(str(path), message=t("course.not_utf8"), fix=t("course.save_utf8")))
    return None


def _read_csv(
    path: Path, model: type[_Row], problems: list[Problem], *, required: bool
) -> pd.DataFrame | None:
    """The CSV as text cells, or None when it cannot be a table of `model`.

    That is when it is missing, unreadable, or lacks a column `model`
    requires; each is a problem, except a missing file that is not `required`.
    """
    import pandas as pd

    cols = list(model.model_fields)
    if not path.exists():
        if required:
            problems.append(
                Problem(
                    str(path),
                    message=t("course.file_missing"),
                    fix=t("course.create_with_header", header=",".join(cols)),
                )
            )
        return None
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        problems.append(
            Problem(
                str(path),
                message=t("course.bad_csv", error=e),
                fix=t("course.bad_csv_fix"),
            )
        )
        return None
    missing = [c for c in cols if c not in df.columns and model.model_fields[c].is_required()]
    if missing:
        problems.append(
            Problem(
                str(path),
                t("where.row", n=1),
                ",".join(missing),
                t("course.column_missing"),
                t("course.header_must", header=",".join(cols)),
            )
        )
        return None
    return df


def read_table(
    path: Path,
    model: type[_Row],
    problems: list[Problem],
    *,
    required: bool = True,
    rejected: set[str] | None = None,
) -> tuple[pd.DataFrame, list[Any]]:
    """Read a CSV into a DataFrame indexed by its first column, validating each row.

    Rows that fail validation are reported (with the line number a spreadsheet
    shows) and left out of the table, so later checks still run on the rest;
    ``rejected`` collects their ids (first column), so that no later check
    reports them again as unknown.
    """
    import pandas as pd

    cols = list(model.model_fields)
    empty = pd.DataFrame(columns=cols).set_index(cols[0])
    df = _read_csv(path, model, problems, required=required)
    if df is None:
        return empty, []
    rows, good, key = [], [], cols[0]
    seen: dict[str, int] = {}
    for i, rec in enumerate(df.to_dict("records")):
        line = t("where.row", n=i + 2)
        try:
            obj = model.model_validate(rec)
        except ValidationError as e:
            problems.extend(_pydantic_problems(e, str(path), line))
            if rejected is not None and str(rec.get(key) or "").strip():
                rejected.add(str(rec[key]).strip())
            continue
        obj._line = i + 2
        ident = getattr(obj, key)
        if ident in seen:
            problems.append(
                Problem(
                    str(path),
                    line,
                    key,
                    t("course.duplicate_id", key=key, ident=ident),
                    t("course.duplicate_id_fix", row=seen[ident]),
                )
            )
            continue
        seen[ident] = i + 2
        rows.append((i + 2, obj))
        good.append(obj.model_dump(mode="json"))
    table = pd.DataFrame(good, columns=cols).set_index(key) if good else empty
    return table, rows


def _load(root: Path) -> tuple[Course | None, list[Problem]]:
    problems: list[Problem] = []
    root = Path(root)
    if not root.is_dir():
        return None, [
            Problem(
                str(root),
                message=t("course.folder_not_found"),
                fix=t("course.folder_not_found_fix"),
            )
        ]
    raw = read_toml(root / "course.toml", problems)
    if raw is None:
        return None, problems
    try:
        config = CourseConfig.model_validate(raw)
    except ValidationError as e:
        return None, problems + _pydantic_problems(e, str(root / "course.toml"))

    cat = root / "catalog"
    faculty, _ = read_table(cat / "faculty.csv", Faculty, problems)
    sites, _ = read_table(cat / "sites.csv", Site, problems)
    readings, _ = read_table(cat / "readings.csv", Reading, problems, required=False)
    methods, _ = read_table(cat / "methods.csv", Method, problems)
    course = Course(root, config, faculty, sites, readings, methods)

    unit_ids = set(course.units)
    for name, table in (("faculty.csv", faculty), ("sites.csv", sites), ("readings.csv", readings)):
        for ident, unit in table["unit"].items():
            if unit and unit not in unit_ids:
                problems.append(
                    Problem(
                        str(cat / name),
                        t("where.id", id=ident),
                        "unit",
                        t("course.unknown_unit", unit=unit),
                        t("course.use_one_of", options=", ".join(sorted(unit_ids))),
                    )
                )

    cohorts_dir = root / "cohorts"
    for folder in sorted(p for p in cohorts_dir.glob("*") if p.is_dir()):
        cohort = _load_cohort(course, folder, problems)
        if cohort:
            course.cohorts[cohort.id] = cohort
    return course, problems


def _load_cohort(course: Course, folder: Path, problems: list[Problem]) -> Cohort | None:
    raw = read_toml(folder / "cohort.toml", problems)
    if raw is None:
        return None
    try:
        config = CohortConfig.model_validate(raw)
    except ValidationError as e:
        problems.extend(_pydantic_problems(e, str(folder / "cohort.toml")))
        return None
    roster, _ = read_table(folder / "roster.csv", Trainee, problems)
    sched_path = folder / "schedule.csv"
    unreadable: set[str] = set()
    _, sessions = read_table(sched_path, Session, problems, rejected=unreadable)
    f = str(sched_path)
    for line, s in sessions:
        where = t("where.row_session", n=line, session=s.session)
        refs = [
            ("teacher", s.teacher, course.faculty.index, "catalog/faculty.csv"),
            ("method", s.method, course.methods.index, "catalog/methods.csv"),
            ("unit", s.unit, list(course.units), "course.toml [[units]]"),
        ]
        if s.site:
            refs.append(("site", s.site, course.sites.index, "catalog/sites.csv"))
        for fld, value, known, source in refs:
            if value not in known:
                problems.append(
                    Problem(
                        f,
                        where,
                        fld,
                        t("course.unknown_ref", field=fld, value=value),
                        t("course.unknown_ref_fix", source=source),
                    )
                )
        nb = course.root / s.notebook
        if not nb.is_file():
            problems.append(
                Problem(
                    f,
                    where,
                    "notebook",
                    t("course.notebook_not_found", notebook=s.notebook),
                    t("course.notebook_not_found_fix"),
                )
            )
    readable = [s for _, s in sessions]
    unreadable -= {s.session for s in readable}
    return Cohort(folder.name, folder, config, roster, readable, frozenset(unreadable))


def load_course(root: Path | str) -> Course:
    """Load and validate a course folder; raise :class:`CourseError` listing every problem."""
    course, problems = _load(Path(root))
    errors = [p for p in problems if p.severity == "error"]
    if errors or course is None:
        raise CourseError(problems)
    return course


def as_course(course: Course | Path | str) -> Course:
    """A loaded course: ``course`` itself, or the course folder it names, loaded and validated."""
    return course if isinstance(course, Course) else load_course(course)


def inspect_course(root: Path | str) -> tuple[Course | None, list[Problem]]:
    """Load what can be loaded and return it with every problem found (for ``check``)."""
    return _load(Path(root))
