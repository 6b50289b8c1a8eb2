"""What an instructor's tags mean and what a notebook's cells say, read without running them.

Tags decide a cell's role (``role_from_tags``, ``cell_role``, ``annotate``); the
static readers find the questions asked, keys written and reveal settings in a
cell's source; ``read_notebook`` opens a notebook or says why it cannot.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import nbformat

from kit import kinds
from kit.messages import t as say
from kit.problems import Problem

#: Tags an author may use; ``module:NAME`` is matched separately.
TAGS = {
    "parameters": "papermill's parameters cell: defaults for what the build injects",
    "solution": "the instructor's answer; trainees get an answer area instead",
    "key": "records answer keys with key(...); instructor only",
    "teaching-note": "timing plan, board plan, key points; instructor only",
    "tests": "visible tests for a code question; locked",
    "hidden-tests": "tests trainees never see; run at grading",
    "locked": "trainees may not change this cell; changes are flagged at grading",
    "raises-exception": "the cell is expected to raise; execution goes on",
}
#: Tags other tools put there; allowed but not ours.
FOREIGN_TAGS = {"injected-parameters", "remove-input", "remove-output", "remove-cell", "hide-input"}
INSTRUCTOR_ONLY = {"key", "teaching-note", "hidden-tests"}
MODULE_TAG = re.compile(r"^module:([a-z0-9][a-z0-9_-]*)$")
KINDS = set(kinds.names())


def tags(cell: dict) -> set[str]:
    """The cell's tags as a set."""
    return set(cell.get("metadata", {}).get("tags", []) or [])


def source(cell: dict) -> str:
    """A cell's source as one string."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def checksum(text: str) -> str:
    """Checksum of a cell's source, insensitive to trailing white space."""
    norm = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return hashlib.sha256(norm.encode()).hexdigest()


def modules_of(cell: dict) -> set[str]:
    return {m.group(1) for t in tags(cell) if (m := MODULE_TAG.match(t))}


# ---------------------------------------------------------------- static reading


@functools.lru_cache(maxsize=512)
def python_tree(src: str) -> ast.Module | None:
    # Remembered: check reads each cell's tree four ways (questions, keys, points, key ids),
    # and a cohort's sessions share notebooks. The trees are only walked, never changed.
    # IPython magics and shell escapes are not Python; blank them so the rest parses.
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def question_calls(src: str) -> list[tuple[str, Any, int]]:
    """``(kind, qid, line)`` for every ``ask.<kind>(...)`` call in the source."""
    tree = python_tree(src)
    if tree is None:
        return []
    out = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "ask"
        ):
            qid = (
                node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            )
            out.append((node.func.attr, qid, node.lineno))
    return out


def zero_point_questions(src: str) -> set[str]:
    """Ids of questions asked with ``points=0``: ungraded, so they need no key."""
    tree = python_tree(src)
    found = set()
    for node in ast.walk(tree) if tree else []:
        if isinstance(node, ast.Call) and is_ask(node) and node.args:
            qid = node.args[0]
            for kw in node.keywords:
                if (
                    kw.arg == "points"
                    and isinstance(kw.value, ast.Constant)
                    and kw.value.value == 0
                    and isinstance(qid, ast.Constant)
                    and isinstance(qid.value, str)
                ):
                    found.add(qid.value)
    return found


def key_uses(src: str) -> list[tuple[str, int]]:
    """Calls of ``key(...)`` and ``key=`` keywords: places a key is written down."""
    tree = python_tree(src)
    if tree is None:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "key":
                found.append((say("nb.key_call"), node.lineno))
            for kw in node.keywords:
                if kw.arg in ("key", "answer", "solution") and is_ask(node):
                    found.append((say("nb.key_argument", name=kw.arg), node.lineno))
    return found


def reveal_settings(src: str) -> list[tuple[int, Any, bool]]:
    """``reveal(...)`` calls and ``key(..., reveal=...)`` arguments: (line, value, is a session call).

    The value is the literal written, or the ellipsis when it is not a literal
    (``check`` cannot know it, so it asks for one).
    """
    tree = python_tree(src)
    found = []
    for node in ast.walk(tree) if tree else []:
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "reveal":
            arg = node.args[0] if node.args else None
            value = arg.value if isinstance(arg, ast.Constant) else ...
            found.append((node.lineno, value, True))
        elif node.func.id == "key":
            for kw in node.keywords:
                if kw.arg == "reveal":
                    value = kw.value.value if isinstance(kw.value, ast.Constant) else ...
                    found.append((node.lineno, value, False))
    return found


def is_ask(call: ast.Call) -> bool:
    f = call.func
    return isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "ask"


def key_ids(src: str) -> list[str]:
    tree = python_tree(src)
    ids = []
    for node in ast.walk(tree) if tree else []:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "key"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            ids.append(node.args[0].value)
    return ids


def names_read(nb: nbformat.NotebookNode) -> set[str]:
    """Every variable name a code cell of the notebook reads (its parameters cell excepted)."""
    found: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" in tags(cell):
            continue
        tree = python_tree(source(cell))
        for node in ast.walk(tree) if tree else []:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                found.add(node.id)
    return found


def read_notebook(path: Path) -> tuple[nbformat.NotebookNode | None, list[Problem]]:
    """Read a notebook; an unreadable one becomes a problem, never a traceback."""
    f = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(f, message=say("nb.not_found"), fix=say("nb.not_found_fix"))]
    except UnicodeDecodeError:
        return None, [Problem(f, message=say("course.not_utf8"), fix=say("nb.resave"))]
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        return None, [
            Problem(
                f,
                say("where.line", n=e.lineno),
                message=say("nb.bad_json", error=e.msg),
                fix=say("nb.bad_json_fix"),
            )
        ]
    try:
        nb = nbformat.from_dict(raw)
        if nb.get("nbformat", 0) < 4:
            nb = nbformat.convert(nb, 4)
        nbformat.validate(nb)
    except (nbformat.ValidationError, AttributeError, KeyError, TypeError) as e:
        msg = getattr(e, "message", str(e))
        return None, [
            Problem(
                f,
                message=say("nb.invalid", error=msg),
                fix=say("nb.invalid_fix"),
            )
        ]
    return nb, []


def set_role(cell: dict, **meta: Any) -> None:
    cell.setdefault("metadata", {}).setdefault("casekit", {}).update(meta)


def role_from_tags(tags_: set[str], cell_type: str) -> str:
    """A cell's role as its tags alone say (questions and code answers need the source too)."""
    if "solution" in tags_:
        return "answer" if cell_type == "code" else "answer-text"
    for tag in ("hidden-tests", "tests", "key", "teaching-note"):
        if tag in tags_:
            return tag
    if "parameters" in tags_ or "injected-parameters" in tags_:
        return "parameters"
    return "locked" if "locked" in tags_ else ""


def casekit_meta(cell: Any) -> dict[str, Any]:
    """The ``metadata.casekit`` record the build wrote on a cell (``{}`` when none)."""
    m = (cell.get("metadata") or {}).get("casekit") or {}
    return m if isinstance(m, dict) else {}


def cell_role(cell: Any) -> str:
    """The role of a cell: as the build recorded it, else as its tags say."""
    return casekit_meta(cell).get("role") or role_from_tags(tags(cell), cell.get("cell_type", ""))


def annotate(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Record each cell's role (and question id) in its metadata; used by both editions."""
    last_code_q = None
    for cell in nb.cells:
        qs = question_calls(source(cell)) if cell.cell_type == "code" else []
        if qs:
            ids = [q for _, q, _ in qs if isinstance(q, str)]
            set_role(cell, role="question", questions=ids)
            for kind, qid, _ in qs:
                if kind in kinds.registry and kinds.get(kind).tested:
                    last_code_q = qid
            continue
        role = role_from_tags(tags(cell), cell.cell_type)
        if role == "answer" and last_code_q:
            set_role(cell, role="answer", question=last_code_q)
        elif role == "answer":
            set_role(cell, role="answer-text")
        elif role:
            set_role(cell, role=role)
    return nb


def notebook_at(path: Path) -> nbformat.NotebookNode | None:
    """The notebook at `path` (None when unreadable), read once while it is unchanged.

    ``check`` reads every notebook for its intent, its tests' crossings and every
    scheduled session's parameters; validating it each time doubled its time.
    Shared: callers read it and never change it.
    """
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return _read(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _read(path: str, mtime_ns: int, size: int) -> nbformat.NotebookNode | None:
    nb, _ = read_notebook(Path(path))
    return nb
