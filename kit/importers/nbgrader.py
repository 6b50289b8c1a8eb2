"""nbgrader's format: source assignments in, submitted notebooks in.

nbgrader keeps everything in cell metadata (``metadata.nbgrader``, schema
version 3): ``solution``, ``grade``, ``locked``, ``task``, ``grade_id`` and
``points``. The cell kinds of its "Create Assignment" toolbar map to casekit
as follows:

=========================  =======================================================
nbgrader                   casekit
=========================  =======================================================
autograded answer          ``ask.code`` + the cell tagged ``solution`` (its
                           ``### BEGIN/END SOLUTION`` regions keep the scaffold)
autograder tests           a ``tests`` cell: one ``@test`` worth the cell's points;
                           with ``### BEGIN/END HIDDEN TESTS`` a ``hidden-tests``
                           cell holds the whole cell (the points) and the
                           ``tests`` cell the visible part (0 points, for feedback)
manually graded answer     ``ask.essay`` with one rubric item of the cell's points;
                           the model answer becomes a ``teaching-note``
manually graded task       the task text (locked) + ``ask.essay``; a
                           ``=== BEGIN/END MARK SCHEME ===`` becomes the hidden
                           rubric text in a ``key`` cell
read-only                  ``locked``
=========================  =======================================================

Tests belong to the nearest autograded answer above them (the first one
below when none is above); the code question is worth the sum of its tests'
points, so totals are nbgrader's. The import records which ``grade_id``
became which question id; students' submitted notebooks are read through
that record (:mod:`kit.importers.nbgrader_submissions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.importers import (
    META_KEY,
    ImportResult,
    Note,
    copy_beside,
    copy_cell,
    dropped_tags,
    ends_in_expression,
    header_cells,
    new_notebook,
    num,
    prompt_from,
    question_id,
    read_source,
    refuse_overwrite,
    tagged,
    test_cell,
    write_imported,
)
from kit.messages import t as say
from kit.notebooks import source
from kit.problems import CourseError, Problem

TOOL = "nbgrader"
HIDDEN = re.compile(
    r"^[ \t]*#+ *BEGIN HIDDEN TESTS.*?^[ \t]*#+ *END HIDDEN TESTS[^\n]*\n?", re.S | re.M
)
HIDDEN_MARK = re.compile(r"^[ \t]*#+ *(BEGIN|END) HIDDEN TESTS[^\n]*\n?", re.M)
MARK_SCHEME = re.compile(r"=== *BEGIN MARK SCHEME *===(.*?)=== *END MARK SCHEME *===\n?", re.S)
AUTOTEST = re.compile(r"^\s*#+ *(HASHED )?AUTOTEST\b", re.M)
# What nbgrader's generate_assignment leaves in an answer cell (ClearSolutions' defaults).
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"


def meta(cell: Any) -> dict[str, Any]:
    m = (cell.get("metadata") or {}).get("nbgrader")
    return m if isinstance(m, dict) else {}


def role(cell: Any) -> str:
    """answer | manual | task | tests | locked | plain, from the cell's nbgrader flags."""
    m = meta(cell)
    if m.get("task"):
        return "task"
    if m.get("solution") and m.get("grade"):
        return "manual"
    if m.get("solution"):
        return "answer" if cell.get("cell_type") == "code" else "manual"
    if m.get("grade"):
        return "tests" if cell.get("cell_type") == "code" else "locked"
    if m.get("locked"):
        return "locked"
    return "plain"


def is_nbgrader(nb: dict[str, Any]) -> bool:
    """A notebook written by or for nbgrader: some cell carries a grade_id."""
    return any(isinstance(c, dict) and meta(c).get("grade_id") for c in nb.get("cells") or [])


def cell_where(i: int, cell: Any) -> str:
    gid = meta(cell).get("grade_id")
    where = say("where.cell", n=i + 1)
    return say("import.where_grade_id", where=where, gid=gid) if gid else where


def _owners(cells: list[Any]) -> dict[int, int]:
    """Test cell index → index of the autograded answer it grades."""
    answers = [i for i, c in enumerate(cells) if role(c) == "answer"]
    owners = {}
    for i, c in enumerate(cells):
        if role(c) != "tests" or not answers:
            continue
        above = [a for a in answers if a < i]
        owners[i] = above[-1] if above else answers[0]
    return owners


def _sans_comments(code: str) -> str:
    return "\n".join(
        ln for ln in code.splitlines() if ln.strip() and not ln.strip().startswith("#")
    )


@dataclass
class _Import:
    """One notebook's conversion as it walks the cells: what is written, noted and named."""

    cells: list[Any]
    language: str
    out: list[Any]
    owners: dict[int, int]  # test cell index → index of the answer it grades
    points_of: dict[int, float]  # answer cell index → the sum of its tests' points
    notes: list[Note] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    qids: dict[str, str] = field(default_factory=dict)  # grade_id → question id
    kinds: dict[str, str] = field(default_factory=dict)  # question id → kind
    answer_qid: dict[int, str] = field(default_factory=dict)  # answer cell index → question id

    def say_in(self, key: str) -> str:  # generated content speaks the course's language
        return say(key, self.language)

    def qid_for(self, i: int, cell: Any) -> str:
        """A new question id for the cell, from its grade_id, recorded as the grade_id's."""
        gid = str(meta(cell).get("grade_id") or f"cell-{i + 1}")
        q = question_id(gid, self.taken, f"q{i + 1}")
        self.qids[gid] = q
        return q

    def note(self, where: str, message: str, *, lost: bool = True) -> None:
        self.notes.append(Note(where, message, lost=lost))


def _points(cell: Any) -> int | float:
    return num(meta(cell).get("points") or 0)


def _tested_points(cells: list[Any], owners: dict[int, int]) -> dict[int, float]:
    """Answer cell index → the sum of the points of the tests that grade it."""
    points_of: dict[int, float] = {}
    for t, a in owners.items():
        points_of[a] = points_of.get(a, 0.0) + float(meta(cells[t]).get("points") or 0)
    return points_of


def _by_hand(imp: _Import, cell: Any, pts: int | float) -> list[dict[str, Any]]:
    """The one-item rubric of a manually graded cell: its points, marked by hand."""
    text = f"{imp.say_in('import.by_hand')} ({meta(cell).get('grade_id')})"
    return [{"id": "points", "text": text, "points": pts}]


def _essay(qid: str, prompt: str, rubric: list[dict[str, Any]], *, show_rubric: bool = True) -> Any:
    hide = "" if show_rubric else ", show_rubric=False"
    return tagged("code", f"ask.essay({qid!r}, {prompt!r}, rubric={rubric!r}{hide})")


def _answer(imp: _Import, i: int, cell: Any, where: str) -> None:
    """An autograded answer: ``ask.code`` worth its tests' points, the cell its solution."""
    qid = imp.answer_qid.get(i) or imp.qid_for(i, cell)
    imp.answer_qid[i] = qid
    imp.kinds[qid] = "code"
    prompt = prompt_from(imp.cells, i, imp.say_in("import.code_prompt"))
    pts = num(imp.points_of.get(i, 0))
    imp.out.append(tagged("code", f"ask.code({qid!r}, {prompt!r}, points={pts!r})"))
    imp.out.append(copy_cell(cell, "solution", drop=("nbgrader",)))
    if i not in imp.points_of:
        imp.note(where, say("import.nbgrader.untested"), lost=False)


def _manual(imp: _Import, i: int, cell: Any, where: str) -> None:
    """A manually graded answer: ``ask.essay`` of its points; the model answer a teaching note."""
    qid = imp.qid_for(i, cell)
    imp.kinds[qid] = "essay"
    prompt = prompt_from(imp.cells, i, imp.say_in("import.answer_prompt"))
    imp.out.append(_essay(qid, prompt, _by_hand(imp, cell, _points(cell))))
    if cell.get("cell_type") == "code":
        imp.out.append(copy_cell(cell, "teaching-note", drop=("nbgrader",)))
        imp.note(where, say("import.nbgrader.manual_code"), lost=False)
    else:
        model = imp.say_in("import.model_answer")
        text = f"**{model}（{qid}）**\n\n{source(cell)}"
        imp.out.append(tagged("markdown", text, "teaching-note"))


def _task(imp: _Import, i: int, cell: Any, where: str) -> None:
    """A manually graded task: its text locked, then ``ask.essay``; a mark scheme stays hidden."""
    qid = imp.qid_for(i, cell)
    imp.kinds[qid] = "essay"
    pts = _points(cell)
    text = source(cell)
    scheme = "\n".join(m.strip() for m in MARK_SCHEME.findall(text))
    shown = MARK_SCHEME.sub("", text).strip() or text
    imp.out.append(tagged("markdown", shown, "locked", like=cell))
    prompt = imp.say_in("import.nbgrader.task_prompt")
    if scheme:
        imp.out.append(_essay(qid, prompt, [{"id": "scheme", "points": pts}], show_rubric=False))
        rubric = [{"id": "scheme", "text": scheme}]
        imp.out.append(tagged("code", f"key({qid!r}, None, rubric={rubric!r})", "key"))
    else:
        imp.out.append(_essay(qid, prompt, _by_hand(imp, cell, pts)))
    imp.note(where, say("import.nbgrader.task"), lost=False)


def _owner_qid(imp: _Import, i: int) -> str:
    """The question id of the answer test cell ``i`` grades, named now if it comes later."""
    a = imp.owners[i]
    if a not in imp.answer_qid:  # the owner comes later: its id now, in notebook order
        owner = imp.cells[a]
        imp.answer_qid[a] = imp.qids.get(str(meta(owner).get("grade_id"))) or imp.qid_for(a, owner)
    return imp.answer_qid[a]


def _tests(imp: _Import, i: int, cell: Any, where: str) -> None:
    """Autograder tests: one ``@test`` of the cell's points for the answer it grades."""
    code = source(cell)
    gid = str(meta(cell).get("grade_id") or f"tests-{i + 1}")
    pts = _points(cell)
    if i not in imp.owners:
        imp.out.append(copy_cell(cell, "locked", drop=("nbgrader",)))
        imp.note(where, say("import.nbgrader.orphan_tests", points=pts))
        return
    qid = _owner_qid(imp, i)
    if AUTOTEST.search(code):
        imp.note(where, say("import.nbgrader.autotest"))
    if ends_in_expression(HIDDEN_MARK.sub("", code)):
        imp.note(where, say("import.nbgrader.expression"), lost=False)
    if HIDDEN.search(code):
        _hidden_tests(imp, cell, qid, gid, pts, code)
    else:
        imp.out.append(tagged("code", test_cell(qid, gid, pts, code), "tests", like=cell))


def _hidden_tests(imp: _Import, cell: Any, qid: str, gid: str, pts: int | float, code: str) -> None:
    """With hidden regions: the visible part as feedback (0 points), the whole cell hidden."""
    visible = HIDDEN.sub("", code)
    if _sans_comments(visible).strip():
        shown = test_cell(qid, f"{gid} (visible part)", 0, visible)
        imp.out.append(tagged("code", shown, "tests", like=cell))
    whole = test_cell(qid, gid, pts, HIDDEN_MARK.sub("", code))
    imp.out.append(tagged("code", whole, "hidden-tests"))


def _locked(imp: _Import, i: int, cell: Any, where: str) -> None:
    """A read-only cell (or graded markdown that is not an answer): locked."""
    imp.out.append(copy_cell(cell, "locked", drop=("nbgrader",)))


def _plain(imp: _Import, i: int, cell: Any, where: str) -> None:
    """Any other cell, as it is."""
    imp.out.append(copy_cell(cell, drop=("nbgrader",)))


#: How each nbgrader cell role (:func:`role`) becomes casekit cells.
CONVERTERS: dict[str, Callable[[_Import, int, Any, str], None]] = {
    "answer": _answer,
    "manual": _manual,
    "task": _task,
    "tests": _tests,
    "locked": _locked,
    "plain": _plain,
}


def convert(
    nb: Any, *, name: str, rel_source: str, language: str
) -> tuple[Any, list[Note], dict[str, str]]:
    """One nbgrader source notebook → (casekit notebook, notes, {qid: kind})."""
    cells = nb.cells
    owners = _owners(cells)
    imp = _Import(
        cells, language, header_cells(name, language), owners, _tested_points(cells, owners)
    )
    for i, cell in enumerate(cells):
        where = cell_where(i, cell)
        for tag in dropped_tags(cell):
            imp.note(where, say("import.tag_dropped", tag=tag))
        CONVERTERS[role(cell)](imp, i, cell, where)
    record = {
        "tool": TOOL,
        "source": rel_source,
        "notebook": Path(rel_source).stem,
        "questions": imp.qids,
        "kinds": {gid: imp.kinds.get(q, "code") for gid, q in imp.qids.items()},
    }
    return new_notebook(nb, imp.out, record), imp.notes, imp.kinds


def _name(assignment: str, stem: str) -> str:
    base = f"{assignment}-{stem}" if assignment else stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-") or "imported"


def _sources(path: Path) -> tuple[list[Path], str]:
    """The notebooks to import from ``path`` and their assignment's name ("" when none)."""
    if path.is_dir():
        sources = sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
        if not sources:
            raise CourseError(
                [
                    Problem(
                        str(path),
                        message=say("import.nbgrader.no_notebooks"),
                        fix=say("import.nbgrader.no_notebooks_fix"),
                    )
                ]
            )
        assignment = path.name
    else:
        sources = [path]
        assignment = path.parent.name if path.parent.name not in ("", ".") else ""
    return sources, assignment


def import_path(path: Path, *, out_dir: Path, language: str, force: bool) -> ImportResult:
    """Import one nbgrader source notebook, or every notebook of an assignment folder."""
    sources, assignment = _sources(path)
    res = ImportResult()
    problems = []
    converted = []
    for src in sources:
        nb = read_source(src)
        if not is_nbgrader(nb):
            problems.append(
                Problem(
                    str(src),
                    message=say("import.nbgrader.not_nbgrader"),
                    fix=say("import.nbgrader.not_nbgrader_fix"),
                )
            )
            continue
        name = _name(assignment, src.stem)
        rel = f"{assignment}/{src.name}" if assignment else src.name
        casekit_nb, notes, kinds = convert(nb, name=name, rel_source=rel, language=language)
        casekit_nb.metadata["casekit"][META_KEY]["assignment"] = assignment
        converted.append((name, casekit_nb, notes, kinds))
    if problems:
        raise CourseError(problems)  # nothing written: every notebook converts, or none is
    refuse_overwrite(out_dir, [c[0] for c in converted], force=force)
    shared: list[Note] = []
    if path.is_dir():
        # data beside the notebooks: grading links what sits beside the session notebook
        res.written += copy_beside(path, out_dir, shared)
    for name, casekit_nb, notes, kinds in converted:
        write_imported(res, out_dir, name, casekit_nb, notes + shared, kinds, force=force)
    return res
