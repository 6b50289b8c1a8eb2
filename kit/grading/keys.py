"""What the instructor side knows about a session, read for grading: keys, specs, tests, locks.

Read from the keys file and the instructor edition the build wrote
(:mod:`kit.artifacts`), never from anything a trainee holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import nbformat

from kit import artifacts
from kit.course import Course, CourseError
from kit.messages import t as say


@dataclass
class SessionKeys:
    """What the instructor side knows about one session's notebook."""

    session: str
    questions: dict[str, dict[str, Any]]  # qid → spec (ordered as in the notebook)
    keys: dict[str, dict[str, Any]]  # qid → {"value", ...opts}
    locks: dict[str, str]  # cell id → sha256 of its source
    tests: list[dict[str, Any]]  # {"question","name","points","hidden"}
    instructor: nbformat.NotebookNode
    fingerprint: str
    parameters: dict[str, Any] | None = None
    reveal: str | None = None  # the session's reveal(...) setting


def load_keys(course: Course, cohort: str, session: str) -> SessionKeys:
    """Read the session's keys file and instructor edition, as the build wrote them."""
    paths = artifacts.build_paths(course, cohort, session)
    if not paths.keys.exists() or not paths.instructor.exists():
        raise CourseError.at(
            paths.keys if not paths.keys.exists() else paths.instructor,
            say("grade.keys_missing"),
            say("grade.keys_missing_fix", cohort=cohort),
        )
    raw, raw_bytes = artifacts.read_keys(paths.keys)
    nb_bytes = paths.instructor.read_bytes()
    nb = nbformat.reads(nb_bytes.decode("utf-8"), as_version=4)

    questions = {qid: dict(spec) for qid, spec in raw.specs().items()}
    keys: dict[str, dict[str, Any]] = dict(raw.keys)
    for qid, k in keys.items():
        # Rubric texts hidden from trainees (show_rubric=False) live with the key.
        texts = {str(r.get("id")): r for r in k.get("rubric") or [] if isinstance(r, dict)}
        for item in questions.get(qid, {}).get("rubric") or []:
            item.setdefault("text", texts.get(str(item["id"]), {}).get("text", item["id"]))
    tests: dict[tuple[str, str], dict[str, Any]] = {}
    for t in raw.tests:
        tests[(t["question"], t["name"])] = dict(t)  # "hidden" as the build recorded it
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
        raw.reveal,
    )
