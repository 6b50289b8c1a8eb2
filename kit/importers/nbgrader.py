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
from pathlib import Path
from typing import Any

from kit.course import CourseError, Problem
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
    source,
    tagged,
    test_cell,
    write_imported,
)
from kit.messages import t as say

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


def convert(
    nb: Any, *, name: str, rel_source: str, language: str
) -> tuple[Any, list[Note], dict[str, str]]:
    """One nbgrader source notebook → (casekit notebook, notes, {qid: kind})."""

    def say_in(key: str) -> str:  # generated content speaks the course's language
        return say(key, language)

    cells = nb.cells
    notes: list[Note] = []
    taken: set[str] = set()
    qids: dict[str, str] = {}  # grade_id → question id
    kinds: dict[str, str] = {}  # question id → kind
    owners = _owners(cells)
    points_of: dict[int, float] = {}
    for t, a in owners.items():
        points_of[a] = points_of.get(a, 0.0) + float(meta(cells[t]).get("points") or 0)
    out = header_cells(name, language)

    def qid_for(i: int, cell: Any) -> str:
        gid = str(meta(cell).get("grade_id") or f"cell-{i + 1}")
        q = question_id(gid, taken, f"q{i + 1}")
        qids[gid] = q
        return q

    answer_qid: dict[int, str] = {}
    for i, cell in enumerate(cells):
        r = role(cell)
        where = cell_where(i, cell)
        for tag in dropped_tags(cell):
            notes.append(Note(where, say("import.tag_dropped", tag=tag)))
        if r == "answer":
            qid = answer_qid.get(i) or qid_for(i, cell)
            answer_qid[i] = qid
            kinds[qid] = "code"
            fallback = say_in("import.code_prompt")
            prompt = prompt_from(cells, i, fallback)
            pts = num(points_of.get(i, 0))
            out.append(tagged("code", f"ask.code({qid!r}, {prompt!r}, points={pts!r})"))
            out.append(copy_cell(cell, "solution", drop=("nbgrader",)))
            if i not in points_of:
                notes.append(Note(where, say("import.nbgrader.untested"), lost=False))
        elif r == "manual":
            qid = qid_for(i, cell)
            kinds[qid] = "essay"
            pts = num(meta(cell).get("points") or 0)
            fallback = say_in("import.answer_prompt")
            prompt = prompt_from(cells, i, fallback)
            text = say_in("import.by_hand")
            rubric = [
                {"id": "points", "text": f"{text} ({meta(cell).get('grade_id')})", "points": pts}
            ]
            out.append(tagged("code", f"ask.essay({qid!r}, {prompt!r}, rubric={rubric!r})"))
            model = say_in("import.model_answer")
            if cell.get("cell_type") == "code":
                out.append(copy_cell(cell, "teaching-note", drop=("nbgrader",)))
                notes.append(
                    Note(
                        where,
                        say("import.nbgrader.manual_code"),
                        lost=False,
                    )
                )
            else:
                out.append(
                    tagged("markdown", f"**{model}（{qid}）**\n\n{source(cell)}", "teaching-note")
                )
        elif r == "task":
            qid = qid_for(i, cell)
            kinds[qid] = "essay"
            pts = num(meta(cell).get("points") or 0)
            text = source(cell)
            scheme = "\n".join(m.strip() for m in MARK_SCHEME.findall(text))
            shown = MARK_SCHEME.sub("", text).strip() or text
            out.append(tagged("markdown", shown, "locked", like=cell))
            prompt = say_in("import.nbgrader.task_prompt")
            if scheme:
                rubric = [{"id": "scheme", "points": pts}]
                out.append(
                    tagged(
                        "code",
                        f"ask.essay({qid!r}, {prompt!r}, rubric={rubric!r}, show_rubric=False)",
                    )
                )
                out.append(
                    tagged(
                        "code",
                        f"key({qid!r}, None, rubric={[{'id': 'scheme', 'text': scheme}]!r})",
                        "key",
                    )
                )
            else:
                label = say_in("import.by_hand")
                rubric = [
                    {
                        "id": "points",
                        "text": f"{label} ({meta(cell).get('grade_id')})",
                        "points": pts,
                    }
                ]
                out.append(tagged("code", f"ask.essay({qid!r}, {prompt!r}, rubric={rubric!r})"))
            notes.append(
                Note(
                    where,
                    say("import.nbgrader.task"),
                    lost=False,
                )
            )
        elif r == "tests":
            code = source(cell)
            gid = str(meta(cell).get("grade_id") or f"tests-{i + 1}")
            pts = num(meta(cell).get("points") or 0)
            if i not in owners:
                out.append(copy_cell(cell, "locked", drop=("nbgrader",)))
                notes.append(Note(where, say("import.nbgrader.orphan_tests", points=pts)))
                continue
            if owners[i] not in answer_qid:  # the owner comes later: its id now, in notebook order
                owner = cells[owners[i]]
                gid_of_owner = str(meta(owner).get("grade_id"))
                answer_qid[owners[i]] = qids.get(gid_of_owner) or qid_for(owners[i], owner)
            qid = answer_qid[owners[i]]
            if AUTOTEST.search(code):
                notes.append(Note(where, say("import.nbgrader.autotest")))
            if ends_in_expression(HIDDEN_MARK.sub("", code)):
                notes.append(
                    Note(
                        where,
                        say("import.nbgrader.expression"),
                        lost=False,
                    )
                )
            if HIDDEN.search(code):
                visible = HIDDEN.sub("", code)
                if _sans_comments(visible).strip():
                    out.append(
                        tagged(
                            "code",
                            test_cell(qid, f"{gid} (visible part)", 0, visible),
                            "tests",
                            like=cell,
                        )
                    )
                out.append(
                    tagged(
                        "code", test_cell(qid, gid, pts, HIDDEN_MARK.sub("", code)), "hidden-tests"
                    )
                )
            else:
                out.append(tagged("code", test_cell(qid, gid, pts, code), "tests", like=cell))
        elif r == "locked":
            out.append(copy_cell(cell, "locked", drop=("nbgrader",)))
        else:
            out.append(copy_cell(cell, drop=("nbgrader",)))
    # answers whose owner was named by a test above keep that id; fill in the kinds
    record = {
        "tool": TOOL,
        "source": rel_source,
        "notebook": Path(rel_source).stem,
        "questions": qids,
        "kinds": {gid: kinds.get(q, "code") for gid, q in qids.items()},
    }
    return new_notebook(nb, out, record), notes, kinds


def _name(assignment: str, stem: str) -> str:
    base = f"{assignment}-{stem}" if assignment else stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-") or "imported"


def import_path(path: Path, *, out_dir: Path, language: str, force: bool) -> ImportResult:
    """Import one nbgrader source notebook, or every notebook of an assignment folder."""
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
