"""Editions of an executed notebook: the trainee's (solutions out, answer areas in, locks),
the records the build keeps (questions, keys, tests), and titles.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import nbformat

from kit.artifacts import MIME_KEY as KEY_MIME
from kit.artifacts import MIME_QUESTION as QUESTION_MIME
from kit.artifacts import MIME_REVEAL as REVEAL_MIME
from kit.artifacts import MIME_TEST as TEST_MIME
from kit.artifacts import MIME_WIDGET as WIDGET_MIME
from kit.artifacts import RecordedTest, edition_path
from kit.course import Course
from kit.kinds.base import KeyRecord, QuestionSpec
from kit.kinds.code import answer_stub
from kit.messages import t as say
from kit.notebooks.cells import (
    INSTRUCTOR_ONLY,
    checksum,
    modules_of,
    read_notebook,
    set_role,
    source,
    tags,
)

# ---------------------------------------------------------------- editions


def select_modules(nb: nbformat.NotebookNode, enabled: set[str]) -> nbformat.NotebookNode:
    """Drop ``module:NAME`` cells whose module the session does not enable."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not modules_of(c) or modules_of(c) & enabled]
    return nb


LOCKED_ROLES = {"question", "tests", "parameters", "locked"}
#: Roles whose code trainees need not read: they answer in the widget it declares.
SOURCE_HIDDEN_ROLES = {"question", "parameters"}
SOLUTION_BLOCK = re.compile(
    r"^([ \t]*)#+ *BEGIN SOLUTION.*?^[ \t]*#+ *END SOLUTION[^\n]*\n?", re.S | re.M
)


def _clean_outputs(outputs: list) -> list:
    keep = []
    for out in outputs:
        data = out.get("data")
        if data is not None:
            if KEY_MIME in data:
                continue
            if TEST_MIME in data and data[TEST_MIME].get("hidden"):
                continue
            data.pop(WIDGET_MIME, None)
            if not data:
                continue
        keep.append(out)
    return keep


@dataclass
class TraineeEdition:
    """What the trainee edition's cell handlers share: the words they write, the locks they take."""

    language: str
    placeholder: str  # for a markdown solution
    code_gap: str  # where a solution region was
    locks: dict[str, str] = field(default_factory=dict)  # cell id → checksum


def _answer_area(cell: Any, ed: TraineeEdition) -> None:
    """A code solution becomes the trainee's answer area."""
    stub = answer_stub(cell.metadata.casekit["question"], ed.language)
    if SOLUTION_BLOCK.search(source(cell)):
        # A scaffold around the solution regions (a signature, a docstring) is
        # the trainee's to complete; `...` keeps a function body valid Python.
        stub += SOLUTION_BLOCK.sub(r"\1" + ed.code_gap + "\n" + r"\1...\n", source(cell))
    cell.source = stub
    cell.outputs = []
    cell.execution_count = None


def _model_answer(cell: Any, ed: TraineeEdition) -> None:
    """A markdown solution becomes a placeholder."""
    # A markdown solution is a model answer for discussion: trainees answer through
    # questions (which are stored), so the placeholder must not invite typing here.
    cell.source = ed.placeholder
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None


def _visible_tests(cell: Any, ed: TraineeEdition) -> None:
    """Visible tests lose their outputs."""
    # They ran against the instructor's solution; a "passed" here would mislead.
    cell.outputs, cell.execution_count = [], None


def _without_solutions(cell: Any, ed: TraineeEdition) -> None:
    """Any other code cell: solution regions give way to a gap, and secret outputs go."""
    if cell.cell_type == "code":
        src = source(cell)
        if SOLUTION_BLOCK.search(src):
            cell.source = SOLUTION_BLOCK.sub(r"\1" + ed.code_gap + "\n", src)
            cell.outputs = []
        cell.outputs = _clean_outputs(cell.outputs)


#: How the trainee edition turns a cell, by role; any other cell keeps its code without solutions.
TRAINEE_CELLS: dict[str, Callable[[Any, TraineeEdition], None]] = {
    "answer": _answer_area,
    "answer-text": _model_answer,
    "tests": _visible_tests,
}


def _lock(cell: Any, locks: dict[str, str]) -> None:
    digest = checksum(source(cell))
    cell.metadata.casekit["lock"] = digest
    locks[cell.get("id", "")] = digest
    # JupyterLab honours these: a locked cell cannot be typed into or deleted
    # by accident (tampering is still detected by the checksum).
    cell.metadata["editable"] = False
    cell.metadata["deletable"] = False


def _trainee_cell(cell: Any, ed: TraineeEdition) -> bool:
    """Turn one cell for the trainee edition by its role; False when trainees do not get it."""
    if "injected-parameters" in tags(cell):  # papermill adds it after annotate() ran
        set_role(cell, role="parameters")
    if tags(cell) & INSTRUCTOR_ONLY:
        return False
    role = cell.get("metadata", {}).get("casekit", {}).get("role")
    TRAINEE_CELLS.get(role, _without_solutions)(cell, ed)
    if role in LOCKED_ROLES:
        _lock(cell, ed.locks)
    if role in SOURCE_HIDDEN_ROLES:
        cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    return True


def trainee_edition(
    nb: nbformat.NotebookNode, *, language: str = "zh"
) -> tuple[nbformat.NotebookNode, dict[str, str]]:
    """Make the trainee edition of an executed, annotated notebook.

    Returns the notebook and the locks (cell id → checksum) for the keys file.
    Keys, hidden tests and teaching notes are removed with their outputs;
    solutions become answer areas; widget state and the trainee-invisible
    metadata go.
    """
    out = copy.deepcopy(nb)
    placeholder = say("edition.model_answer_placeholder", language)
    ed = TraineeEdition(language, placeholder, say("edition.code_gap", language))
    out.cells = [cell for cell in out.cells if _trainee_cell(cell, ed)]
    out.metadata.pop("widgets", None)
    out.metadata.setdefault("casekit", {})["edition"] = "trainee"
    return out, ed.locks


def records(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """Questions, keys and tests as recorded in an executed instructor edition."""
    questions: dict[str, QuestionSpec] = {}
    keys: dict[str, KeyRecord] = {}
    tests: list[RecordedTest] = []
    answer_cells: dict[str, str] = {}
    reveal = None
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("casekit", {})
        if meta.get("role") == "answer":
            answer_cells[meta["question"]] = cell.get("id", "")
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if QUESTION_MIME in data:
                spec = cast(QuestionSpec, dict(data[QUESTION_MIME]))
                spec["cell"] = i
                questions[spec["id"]] = spec
            if KEY_MIME in data:
                rec = cast(KeyRecord, dict(data[KEY_MIME]))
                keys[rec["id"]] = rec
            if TEST_MIME in data:
                role = meta.get("role")
                # the cell's role decides: a hidden-tests cell runs its @test like any other
                hidden = bool(data[TEST_MIME].get("hidden")) or role == "hidden-tests"
                test = {**data[TEST_MIME], "hidden": hidden, "cell": i, "role": role}
                tests.append(cast(RecordedTest, test))
            if REVEAL_MIME in data:
                reveal = data[REVEAL_MIME].get("reveal")
    return {
        "questions": list(questions.values()),
        "keys": keys,
        "tests": tests,
        "answer_cells": answer_cells,
        "reveal": reveal,
    }


def title_of(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first markdown heading, or ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in source(cell).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


def session_title(course: Course, cohort: str, session: str) -> str:
    """A session's title: the first heading of its built edition, else of its source notebook."""
    s = course.cohort(cohort).session(session)
    for path in (
        edition_path(course, cohort, session, "trainee"),
        course.root / s.notebook,
    ):
        nb, _ = read_notebook(path) if path.exists() else (None, [])
        if nb is not None:
            return title_of(nb, session)
    return session
