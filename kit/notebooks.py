"""Cell roles, editions and checksums: what an instructor's tags mean.

The authoring contract lives here. Tags decide a cell's role; the build asks
this module for the instructor and trainee editions of an executed notebook,
and for the questions, keys, tests and locks recorded in it. ``check_notebook``
enforces the contract statically, before anything runs.
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any, cast

import nbformat

from kit import kinds
from kit.artifacts import MIME_KEY as KEY_MIME
from kit.artifacts import MIME_QUESTION as QUESTION_MIME
from kit.artifacts import MIME_REVEAL as REVEAL_MIME
from kit.artifacts import MIME_TEST as TEST_MIME
from kit.artifacts import MIME_WIDGET as WIDGET_MIME
from kit.artifacts import REVEAL_WHEN, RecordedTest, edition_path
from kit.course import Course, Problem
from kit.kinds.base import QID_RE as QID
from kit.kinds.base import KeyRecord, QuestionSpec
from kit.kinds.code import answer_stub
from kit.messages import t as say

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
def _python(src: str) -> ast.Module | None:
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
    tree = _python(src)
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


def _zero_point_questions(src: str) -> set[str]:
    """Ids of questions asked with ``points=0``: ungraded, so they need no key."""
    tree = _python(src)
    found = set()
    for node in ast.walk(tree) if tree else []:
        if isinstance(node, ast.Call) and _is_ask(node) and node.args:
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


def _key_uses(src: str) -> list[tuple[str, int]]:
    """Calls of ``key(...)`` and ``key=`` keywords: places a key is written down."""
    tree = _python(src)
    if tree is None:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "key":
                found.append((say("nb.key_call"), node.lineno))
            for kw in node.keywords:
                if kw.arg in ("key", "answer", "solution") and _is_ask(node):
                    found.append((say("nb.key_argument", name=kw.arg), node.lineno))
    return found


def _reveal_settings(src: str) -> list[tuple[int, Any, bool]]:
    """``reveal(...)`` calls and ``key(..., reveal=...)`` arguments: (line, value, is a session call).

    The value is the literal written, or the ellipsis when it is not a literal
    (``check`` cannot know it, so it asks for one).
    """
    tree = _python(src)
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


def _is_ask(call: ast.Call) -> bool:
    f = call.func
    return isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "ask"


def _key_ids(src: str) -> list[str]:
    tree = _python(src)
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
        tree = _python(source(cell))
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


def check_notebook(path: Path, *, modules: set[str] | None = None) -> list[Problem]:
    """Check one notebook against the authoring contract; return every problem.

    ``modules`` are the module names a deliberation may enable; a
    ``module:NAME`` tag outside that set is reported when it is given.
    """
    nb, problems = read_notebook(path)
    if nb is None:
        return problems
    f = str(path)
    seen: dict[str, int] = {}
    asked: dict[str, str] = {}
    keyed: list[tuple[str, int]] = []
    n_params = 0
    last_code_q: str | None = None
    solved: set[str] = set()
    asked_modules: dict[str, set[str]] = {}
    ungraded: set[str] = set()
    key_modules: dict[str, set[str]] = {}
    for i, cell in enumerate(nb.cells):
        where = say("where.cell", n=i + 1)
        t = tags(cell)
        src = source(cell)
        for tag in sorted(t):
            if tag in TAGS or tag in FOREIGN_TAGS or MODULE_TAG.match(tag):
                continue
            hint = ", ".join(sorted(TAGS)) + ", module:NAME"
            problems.append(
                Problem(
                    f,
                    where,
                    "tags",
                    say("nb.unknown_tag", tag=tag),
                    say("course.use_one_of", options=hint),
                )
            )
        if "parameters" in t:
            n_params += 1
        if cell.cell_type != "code":
            if "solution" not in t and t & {"key", "tests", "hidden-tests"}:
                problems.append(
                    Problem(
                        f,
                        where,
                        "tags",
                        say(
                            "nb.tag_on_markdown",
                            tags="/".join(sorted(t & {"key", "tests", "hidden-tests"})),
                        ),
                        say("nb.tag_on_markdown_fix"),
                    )
                )
            continue
        if _python(src) is None:
            try:
                ast.parse(src)
            except SyntaxError as e:
                problems.append(
                    Problem(
                        f,
                        say("where.cell_line", n=i + 1, line=e.lineno),
                        "source",
                        say("nb.syntax", error=e.msg),
                        say("nb.syntax_fix"),
                    )
                )
        ungraded |= _zero_point_questions(src)
        for kind, qid, line in question_calls(src):
            loc = say("where.cell_line", n=i + 1, line=line)
            if kind not in kinds.registry:
                problems.append(
                    Problem(
                        f,
                        loc,
                        "question",
                        say("nb.unknown_kind", kind=kind),
                        say("course.use_one_of", options=", ".join(sorted(kinds.names()))),
                    )
                )
                continue
            if not isinstance(qid, str):
                problems.append(
                    Problem(
                        f,
                        loc,
                        "question id",
                        say("nb.qid_literal"),
                        say("nb.qid_literal_fix"),
                    )
                )
                continue
            if not QID.match(qid):
                problems.append(
                    Problem(
                        f,
                        loc,
                        "question id",
                        say("nb.qid_invalid", qid=qid),
                        say("nb.qid_invalid_fix"),
                    )
                )
            if qid in seen:
                problems.append(
                    Problem(
                        f,
                        loc,
                        "question id",
                        say("nb.qid_duplicate", qid=qid),
                        say("nb.qid_duplicate_fix", cell=seen[qid] + 1),
                    )
                )
            seen.setdefault(qid, i)
            asked[qid] = kind
            asked_modules[qid] = modules_of(cell)
            if kinds.get(kind).tested:
                last_code_q = qid
            if t & INSTRUCTOR_ONLY:
                problems.append(
                    Problem(
                        f,
                        loc,
                        "tags",
                        say("nb.question_instructor_only", qid=qid),
                        say("nb.question_instructor_only_fix"),
                    )
                )
        for line, value, session_call in _reveal_settings(src):
            loc = say("where.cell_line", n=i + 1, line=line)
            if value not in REVEAL_WHEN:
                shown = "…" if value is ... else repr(value)
                problems.append(
                    Problem(
                        f,
                        loc,
                        "reveal",
                        say("nb.reveal_value", value=shown),
                        say("course.use_one_of", options=", ".join(REVEAL_WHEN)),
                    )
                )
            if session_call and "key" not in t:
                problems.append(
                    Problem(f, loc, "reveal", say("nb.reveal_outside"), say("nb.key_outside_fix"))
                )
        if "key" in t:
            keyed += [(k, i) for k in _key_ids(src)]
            key_modules.update({k: modules_of(cell) for k in _key_ids(src)})
        else:
            for what, line in _key_uses(src):
                problems.append(
                    Problem(
                        f,
                        say("where.cell_line", n=i + 1, line=line),
                        "key",
                        say("nb.key_outside", what=what),
                        say("nb.key_outside_fix"),
                    )
                )
        if "solution" in t:
            if last_code_q is None:
                problems.append(
                    Problem(
                        f,
                        where,
                        "tags",
                        say("nb.solution_orphan"),
                        say("nb.solution_orphan_fix"),
                    )
                )
            else:
                solved.add(last_code_q)
        if modules is not None:
            for m in modules_of(cell) - modules:
                problems.append(
                    Problem(
                        f,
                        where,
                        "tags",
                        say("nb.module_unoffered", module=m),
                        say("nb.module_unoffered_fix"),
                        "warning",
                    )
                )
    if n_params == 0:
        problems.append(
            Problem(
                f,
                say("where.cell", n=1),
                "tags",
                say("nb.no_parameters"),
                say("nb.no_parameters_fix"),
            )
        )
    elif n_params > 1:
        problems.append(
            Problem(
                f,
                field="tags",
                message=say("nb.many_parameters"),
                fix=say("nb.many_parameters_fix"),
            )
        )
    for qid, i in keyed:
        if qid not in asked:
            problems.append(
                Problem(
                    f,
                    say("where.cell", n=i + 1),
                    "key",
                    say("nb.key_unknown_question", qid=qid),
                    say("nb.key_unknown_question_fix"),
                )
            )
    for qid, mods in key_modules.items():
        if qid in asked_modules and asked_modules[qid] != mods:
            want = ", ".join(f"module:{m}" for m in sorted(asked_modules[qid])) or say(
                "nb.no_module_tag"
            )
            problems.append(
                Problem(
                    f,
                    say("where.cell", n=dict(keyed)[qid] + 1),
                    "tags",
                    say("nb.key_module_mismatch", qid=qid),
                    say("nb.key_module_mismatch_fix", tags=want),
                    "warning",
                )
            )
    for qid, kind in asked.items():
        if kinds.get(kind).tested and qid not in solved:
            problems.append(
                Problem(
                    f,
                    say("where.cell", n=seen[qid] + 1),
                    "solution",
                    say("nb.no_solution", qid=qid),
                    say("nb.no_solution_fix"),
                    "warning",
                )
            )
        if kinds.get(kind).keyed and qid not in {k for k, _ in keyed} and qid not in ungraded:
            problems.append(
                Problem(
                    f,
                    say("where.cell", n=seen[qid] + 1),
                    "key",
                    say("nb.no_key", qid=qid),
                    say("nb.no_key_fix", qid=qid),
                    "warning",
                )
            )
    return problems


# ---------------------------------------------------------------- editions


def select_modules(nb: nbformat.NotebookNode, enabled: set[str]) -> nbformat.NotebookNode:
    """Drop ``module:NAME`` cells whose module the session does not enable."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not modules_of(c) or modules_of(c) & enabled]
    return nb


def _set_role(cell: dict, **meta: Any) -> None:
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
            _set_role(cell, role="question", questions=ids)
            for kind, qid, _ in qs:
                if kind in kinds.registry and kinds.get(kind).tested:
                    last_code_q = qid
            continue
        role = role_from_tags(tags(cell), cell.cell_type)
        if role == "answer" and last_code_q:
            _set_role(cell, role="answer", question=last_code_q)
        elif role == "answer":
            _set_role(cell, role="answer-text")
        elif role:
            _set_role(cell, role=role)
    return nb


LOCKED_ROLES = {"question", "tests", "parameters", "locked"}
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
    locks: dict[str, str] = {}
    cells = []
    # A markdown solution is a model answer for discussion: trainees answer through
    # questions (which are stored), so the placeholder must not invite typing here.
    placeholder = say("edition.model_answer_placeholder", language)
    code_gap = say("edition.code_gap", language)
    for cell in out.cells:
        t = tags(cell)
        if "injected-parameters" in t:  # papermill adds it after annotate() ran
            _set_role(cell, role="parameters")
        role = cell.get("metadata", {}).get("casekit", {}).get("role")
        if t & INSTRUCTOR_ONLY:
            continue
        if role == "answer":
            qid = cell.metadata.casekit["question"]
            stub = answer_stub(qid, language)
            if SOLUTION_BLOCK.search(source(cell)):
                # A scaffold around the solution regions (a signature, a docstring) is
                # the trainee's to complete; `...` keeps a function body valid Python.
                stub += SOLUTION_BLOCK.sub(r"\1" + code_gap + "\n" + r"\1...\n", source(cell))
            cell.source = stub
            cell.outputs = []
            cell.execution_count = None
        elif role == "answer-text":
            cell.source = placeholder
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        elif role == "tests":
            # They ran against the instructor's solution; a "passed" here would mislead.
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "code":
            src = source(cell)
            if SOLUTION_BLOCK.search(src):
                cell.source = SOLUTION_BLOCK.sub(r"\1" + code_gap + "\n", src)
                cell.outputs = []
            cell.outputs = _clean_outputs(cell.outputs)
        if role in LOCKED_ROLES:
            digest = checksum(source(cell))
            cell.metadata.casekit["lock"] = digest
            locks[cell.get("id", "")] = digest
            # JupyterLab honours these: a locked cell cannot be typed into or deleted
            # by accident (tampering is still detected by the checksum).
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
        if role in ("question", "parameters"):
            # Officials answer in the widget; the code that declares it is noise to them.
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
        cells.append(cell)
    out.cells = cells
    out.metadata.pop("widgets", None)
    out.metadata.setdefault("casekit", {})["edition"] = "trainee"
    return out, locks


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
