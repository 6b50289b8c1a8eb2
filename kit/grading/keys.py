"""What the instructor side knows about a session, read for grading: keys, specs, tests, locks.

Read from the keys file and the instructor edition the build wrote
(:mod:`kit.artifacts`), never from anything a trainee holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nbformat

from kit import artifacts
from kit.artifacts import RecordedTest
from kit.course import Course
from kit.kinds.base import KeyRecord, QuestionSpec
from kit.messages import t as say
from kit.problems import CourseError

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class SessionKeys:
    """What the instructor side knows about one session's notebook."""

    session: str
    questions: dict[str, QuestionSpec]  # qid → spec (ordered as in the notebook)
    keys: dict[str, KeyRecord]  # qid → {"value", ...opts}
    locks: dict[str, str]  # cell id → sha256 of its source
    tests: list[RecordedTest]  # {"question","name","points","hidden"}
    instructor: nbformat.NotebookNode
    fingerprint: str
    parameters: dict[str, Any] | None = None
    variant: str | None = None  # the trainee whose own variant this is; None: the cohort's
    reveal: str | None = None  # the session's reveal(...) setting


def load_keys(course: Course, cohort: str, session: str, trainee: str | None = None) -> SessionKeys:
    """Read the session's keys file and instructor edition, as the build wrote them.

    With ``trainee``: the variant that trainee works on, their own for a
    session with a variant per trainee (its keys, its instructor edition, its
    parameters, which the code runner passes on to the author's tests), else
    the cohort's. Cache by :func:`kit.artifacts.variant_of`, not by trainee.
    """
    paths = artifacts.build_paths(course, cohort, session, trainee)
    if not paths.keys.exists() or not paths.instructor.exists():
        raise CourseError.at(
            paths.keys if not paths.keys.exists() else paths.instructor,
            say("grade.keys_missing"),
            say("grade.keys_missing_fix", cohort=cohort),
        )
    raw, raw_bytes = artifacts.read_keys(paths.keys)
    nb_bytes = paths.instructor.read_bytes()
    nb = nbformat.reads(nb_bytes.decode("utf-8"), as_version=4)

    questions = {qid: spec.copy() for qid, spec in raw.specs().items()}
    keys = dict(raw.keys)
    for qid, k in keys.items():
        # Rubric texts hidden from trainees (show_rubric=False) live with the key.
        texts = {str(r.get("id")): r for r in k.get("rubric") or [] if isinstance(r, dict)}
        spec = questions.get(qid)
        for item in (spec.get("rubric") if spec else None) or []:
            given = texts.get(str(item["id"]))
            item.setdefault("text", given.get("text", item["id"]) if given else item["id"])
    tests: dict[tuple[str, str], RecordedTest] = {}
    for t in raw.tests:
        tests[(t["question"], t["name"])] = t.copy()  # "hidden" as the build recorded it
    fp = hashlib.sha256(raw_bytes + b"\0" + nb_bytes).hexdigest()
    return SessionKeys(
        session,
        questions,
        keys,
        dict(raw.locks),
        list(tests.values()),
        nb,
        fp,
        raw.parameters,
        raw.variant,
        raw.reveal,
    )


def rubric_of(spec: QuestionSpec) -> dict[str, float]:
    """Criterion id → its points, in rubric order."""
    return {str(r["id"]): float(r.get("points", 0)) for r in spec.get("rubric") or []}


def with_criterion_max(course: Course, cohort: str, marks: pd.DataFrame) -> pd.DataFrame:
    """`marks` (gradebook rows) with ``max_points``: each criterion's points in its rubric (NaN if unknown)."""
    full: dict[tuple[str, str, str], float] = {}
    for session in marks["session"].unique() if len(marks) else []:
        try:
            keys = load_keys(course, cohort, session)
        except CourseError:  # a session no longer built: the points alone
            continue
        for qid, spec in keys.questions.items():
            for cid, pts in rubric_of(spec).items():
                full[(session, qid, cid)] = pts
    marks = marks.copy()
    marks["max_points"] = [
        full.get((s, q, c), float("nan"))
        for s, q, c in zip(marks["session"], marks["question"], marks["criterion"], strict=True)
    ]
    return marks
