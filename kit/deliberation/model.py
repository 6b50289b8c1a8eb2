"""The deliberation record: who may change what, and the validated model of the TOML file."""

from __future__ import annotations

from datetime import datetime
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
from kit.course import _pydantic_problems, read_toml
from kit.kinds.base import QID_RE
from kit.messages import t
from kit.problems import Problem

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
            raise ValueError(t("delib_model.options", kind=self.kind))
        if picks and len(set(self.options)) != len(self.options):
            raise ValueError(t("delib_model.options_unique"))
        if self.rubric and not kinds.get(self.kind).manual:
            raise ValueError(t("delib_model.no_rubric", kind=self.kind))
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
            raise ValueError(t("delib_model.negative", keys=", ".join(bad)))
        return v

    @field_validator("extra_questions")
    @classmethod
    def _unique_ids(cls, v: list[ExtraQuestion]) -> list[ExtraQuestion]:
        ids = [q.id for q in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(t("delib_model.repeated", ids=", ".join(dup)))
        return v

    def inputs(self) -> dict[str, Any]:
        """The ``deliberation`` parameter dict (JSON-safe) a notebook receives."""
        return self.model_dump(mode="json")


def parse_record(path: Path) -> tuple[Deliberation | None, list[Problem]]:
    """A record read from its TOML file, or None and the problems found (located by key)."""
    problems: list[Problem] = []
    raw = read_toml(path, problems)
    if raw is None:
        return None, problems
    try:
        return Deliberation.model_validate(raw), problems
    except ValidationError as e:
        return None, _pydantic_problems(e, str(path))
