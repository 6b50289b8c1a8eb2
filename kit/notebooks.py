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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import nbformat

from kit import kinds
from kit.artifacts import MIME_KEY as KEY_MIME
from kit.artifacts import MIME_QUESTION as QUESTION_MIME
from kit.artifacts import MIME_REVEAL as REVEAL_MIME
from kit.artifacts import MIME_TEST as TEST_MIME
from kit.artifacts import MIME_WIDGET as WIDGET_MIME
from kit.artifacts import REVEAL_WHEN, edition_path
from kit.course import Course, Problem
from kit.kinds.base import QID_RE as QID
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


# ---------------------------------------------------------------- checks
#
# One small function per rule an author can break, registered in the order its
# problems are reported, like the question kinds (nbgrader has one preprocessor per
# check). A rule looks at one thing: a cell, a question call, a reveal setting, a
# question asked, or the notebook; what it needs from the rest of the notebook (the
# first call to ask an id, the keys written) it reads from the notebook's facts.

T = TypeVar("T")
Rule = Callable[[T], Iterable[Problem]]


class Rules(Generic[T]):
    """The rules of one scope, by name, in the order their problems are reported."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self._rules: dict[str, Rule[T]] = {}

    def register(self, rule: Rule[T]) -> Rule[T]:
        """Add `rule` after the others (a decorator); two rules of one name are a mistake."""
        name = getattr(rule, "__name__", "")
        if not name or name in self._rules:
            raise ValueError(f"a {self.scope} rule needs a name of its own, not {name!r}")
        self._rules[name] = rule
        return rule

    def __iter__(self) -> Iterator[Rule[T]]:
        return iter(self._rules.values())

    def run(self, item: T) -> Iterator[Problem]:
        """Every problem the rules find in `item`, rule by rule."""
        for rule in self:
            yield from rule(item)


@dataclass
class NotebookFacts:
    """A notebook as the rules see it: its cells, and where each question is asked and keyed."""

    file: str
    offered: set[str] | None  # the modules a deliberation may enable; None: not checked
    cells: list[CellFacts] = field(default_factory=list)
    first: dict[str, Call] = field(default_factory=dict)  # question id → the call asking it first
    asked: dict[str, Call] = field(default_factory=dict)  # ... and the last, in order first asked
    keyed: list[tuple[str, int]] = field(default_factory=list)  # (question id, key cell index)
    key_modules: dict[str, set[str]] = field(default_factory=dict)  # id → modules of its key cell
    solves: dict[int, str | None] = field(default_factory=dict)  # solution cell → its question
    ungraded: set[str] = field(default_factory=set)  # ids asked with points=0
    last_tested: str | None = None  # the last tested question read so far

    def read(self, cell: nbformat.NotebookNode) -> None:
        """Take in the next cell: its questions, keys and solution when it is code."""
        t, src = frozenset(tags(cell)), source(cell)
        c = CellFacts(self, len(self.cells), cell.cell_type, t, src, modules_of(cell))
        self.cells.append(c)
        if c.type != "code":
            return
        self.ungraded |= _zero_point_questions(c.source)
        for kind, qid, line in question_calls(c.source):
            call = Call(c, line, kind, qid)
            c.calls.append(call)
            if call.asks:
                self.first.setdefault(qid, call)
                self.asked[qid] = call
                if kinds.get(kind).tested:
                    self.last_tested = qid
        if "key" in c.tags:
            self.keyed += [(k, c.index) for k in _key_ids(c.source)]
            self.key_modules.update({k: c.modules for k in _key_ids(c.source)})
        if "solution" in c.tags:
            self.solves[c.index] = self.last_tested


@dataclass(frozen=True, eq=False)
class CellFacts:
    """One cell as the rules see it."""

    nb: NotebookFacts = field(repr=False)
    index: int
    type: str
    tags: frozenset[str]
    source: str
    modules: set[str]  # its module:NAME tags
    calls: list[Call] = field(default_factory=list)  # its ask.<kind>(...) calls

    def problem(self, *args: Any, line: Any = None) -> Problem:
        """A problem of this cell (at `line` when given): ``Problem``'s arguments after where."""
        n = self.index + 1
        where = say("where.cell", n=n) if line is None else say("where.cell_line", n=n, line=line)
        return Problem(self.nb.file, where, *args)


@dataclass(frozen=True, eq=False)
class Call:
    """One ``ask.<kind>(id, ...)`` call of a code cell."""

    cell: CellFacts
    line: int
    kind: str
    qid: Any  # the literal id; None when it is not a literal

    @property
    def asks(self) -> bool:
        """Whether it asks a question: a kind casekit knows, with a literal id."""
        return self.kind in kinds.registry and isinstance(self.qid, str)


@dataclass(frozen=True, eq=False)
class Reveal:
    """A ``reveal(...)`` call (for the session) or a ``key(..., reveal=...)`` argument."""

    cell: CellFacts
    line: int
    value: Any  # the literal written; ... when it is not one
    session: bool


CELL_RULES: Rules[CellFacts] = Rules("cell")  # every cell, in order
CODE_RULES: Rules[CellFacts] = Rules("code cell")  # then, for a code cell
CALL_RULES: Rules[Call] = Rules("question call")  # each ask.<kind>(...) of a code cell
REVEAL_RULES: Rules[Reveal] = Rules("reveal")  # each reveal setting of a code cell
NOTEBOOK_RULES: Rules[NotebookFacts] = Rules("notebook")  # after the cells
QUESTION_RULES: Rules[Call] = Rules("question")  # each question asked (its last call), after
RULES = (CELL_RULES, CODE_RULES, CALL_RULES, REVEAL_RULES, NOTEBOOK_RULES, QUESTION_RULES)


def check_notebook(path: Path, *, modules: set[str] | None = None) -> list[Problem]:
    """Check one notebook against the authoring contract; return every problem.

    ``modules`` are the module names a deliberation may enable; a
    ``module:NAME`` tag outside that set is reported when it is given.
    Problems come cell by cell, then for the notebook, in the rules' order.
    """
    nb, problems = read_notebook(path)
    if nb is None:
        return problems
    facts = NotebookFacts(str(path), modules)
    for cell in nb.cells:
        facts.read(cell)
    for c in facts.cells:
        problems += CELL_RULES.run(c)
        problems += CODE_RULES.run(c) if c.type == "code" else []
    return problems + list(NOTEBOOK_RULES.run(facts))


@CELL_RULES.register
def _known_tags(cell: CellFacts) -> Iterator[Problem]:
    """Every tag is casekit's, another tool's, or ``module:NAME``."""
    hint = ", ".join(sorted(TAGS)) + ", module:NAME"
    for tag in sorted(cell.tags):
        if not (tag in TAGS or tag in FOREIGN_TAGS or MODULE_TAG.match(tag)):
            yield cell.problem(
                "tags", say("nb.unknown_tag", tag=tag), say("course.use_one_of", options=hint)
            )


@CELL_RULES.register
def _code_tags_on_code(cell: CellFacts) -> Iterator[Problem]:
    """``key``, ``tests`` and ``hidden-tests`` tag code cells (or a markdown solution)."""
    wrong = "/".join(sorted(cell.tags & {"key", "tests", "hidden-tests"}))
    if cell.type != "code" and "solution" not in cell.tags and wrong:
        yield cell.problem(
            "tags", say("nb.tag_on_markdown", tags=wrong), say("nb.tag_on_markdown_fix")
        )


@CODE_RULES.register
def _python_syntax(cell: CellFacts) -> Iterator[Problem]:
    """A code cell is Python, IPython magics and shell escapes aside."""
    if _python(cell.source) is None:
        try:
            ast.parse(cell.source)
        except SyntaxError as e:
            yield cell.problem(
                "source", say("nb.syntax", error=e.msg), say("nb.syntax_fix"), line=e.lineno
            )


@CODE_RULES.register
def _question_calls(cell: CellFacts) -> Iterator[Problem]:
    """Each ``ask.<kind>(...)`` of the cell keeps the question-call rules, call by call."""
    for call in cell.calls:
        yield from CALL_RULES.run(call)


@CODE_RULES.register
def _reveal_settings_of(cell: CellFacts) -> Iterator[Problem]:
    """Each reveal setting of the cell keeps the reveal rules, setting by setting."""
    for line, value, session in _reveal_settings(cell.source):
        yield from REVEAL_RULES.run(Reveal(cell, line, value, session))


@CODE_RULES.register
def _keys_in_key_cells(cell: CellFacts) -> Iterator[Problem]:
    """A key is written only in a ``key`` cell, which trainees never get."""
    for what, line in _key_uses(cell.source) if "key" not in cell.tags else []:
        yield cell.problem(
            "key", say("nb.key_outside", what=what), say("nb.key_outside_fix"), line=line
        )


@CODE_RULES.register
def _solution_after_question(cell: CellFacts) -> Iterator[Problem]:
    """A code ``solution`` cell comes after the code question it answers."""
    if cell.index in cell.nb.solves and cell.nb.solves[cell.index] is None:
        yield cell.problem("tags", say("nb.solution_orphan"), say("nb.solution_orphan_fix"))


@CODE_RULES.register
def _modules_offered(cell: CellFacts) -> Iterator[Problem]:
    """A ``module:NAME`` tag names a module a deliberation may enable (when those are known)."""
    offered = cell.nb.offered
    for m in cell.modules - offered if offered is not None else set():
        why, fix = say("nb.module_unoffered", module=m), say("nb.module_unoffered_fix")
        yield cell.problem("tags", why, fix, "warning")


@CALL_RULES.register
def _known_kind(call: Call) -> Iterator[Problem]:
    """A question's kind is one casekit knows."""
    if call.kind not in kinds.registry:
        known = say("course.use_one_of", options=", ".join(sorted(kinds.names())))
        yield call.cell.problem(
            "question", say("nb.unknown_kind", kind=call.kind), known, line=call.line
        )


@CALL_RULES.register
def _literal_id(call: Call) -> Iterator[Problem]:
    """A question's id is a literal string, so that check and the build can read it."""
    if call.kind in kinds.registry and not isinstance(call.qid, str):
        why, fix = say("nb.qid_literal"), say("nb.qid_literal_fix")
        yield call.cell.problem("question id", why, fix, line=call.line)


@CALL_RULES.register
def _valid_id(call: Call) -> Iterator[Problem]:
    """A question's id has the shape of ``QID_RE``."""
    if call.asks and not QID.match(call.qid):
        why, fix = say("nb.qid_invalid", qid=call.qid), say("nb.qid_invalid_fix")
        yield call.cell.problem("question id", why, fix, line=call.line)


@CALL_RULES.register
def _unique_id(call: Call) -> Iterator[Problem]:
    """No two questions of a notebook share an id."""
    first = call.cell.nb.first.get(call.qid) if call.asks else None
    if first is not None and first is not call:
        why = say("nb.qid_duplicate", qid=call.qid)
        fix = say("nb.qid_duplicate_fix", cell=first.cell.index + 1)
        yield call.cell.problem("question id", why, fix, line=call.line)


@CALL_RULES.register
def _question_shown(call: Call) -> Iterator[Problem]:
    """A question is not asked in a cell trainees never get."""
    if call.asks and call.cell.tags & INSTRUCTOR_ONLY:
        why = say("nb.question_instructor_only", qid=call.qid)
        fix = say("nb.question_instructor_only_fix")
        yield call.cell.problem("tags", why, fix, line=call.line)


@REVEAL_RULES.register
def _reveal_value(r: Reveal) -> Iterator[Problem]:
    """A reveal setting is one of ``REVEAL_WHEN``, written as a literal."""
    if r.value not in REVEAL_WHEN:
        why = say("nb.reveal_value", value="…" if r.value is ... else repr(r.value))
        fix = say("course.use_one_of", options=", ".join(REVEAL_WHEN))
        yield r.cell.problem("reveal", why, fix, line=r.line)


@REVEAL_RULES.register
def _reveal_in_key_cell(r: Reveal) -> Iterator[Problem]:
    """``reveal(...)`` for the session is written in a ``key`` cell, like the keys."""
    if r.session and "key" not in r.cell.tags:
        why, fix = say("nb.reveal_outside"), say("nb.key_outside_fix")
        yield r.cell.problem("reveal", why, fix, line=r.line)


@NOTEBOOK_RULES.register
def _one_parameters_cell(nb: NotebookFacts) -> Iterator[Problem]:
    """A notebook has exactly one ``parameters`` cell."""
    n = sum("parameters" in c.tags for c in nb.cells)
    if n == 0:
        why, fix = say("nb.no_parameters"), say("nb.no_parameters_fix")
        yield Problem(nb.file, say("where.cell", n=1), "tags", why, fix)
    elif n > 1:
        why, fix = say("nb.many_parameters"), say("nb.many_parameters_fix")
        yield Problem(nb.file, field="tags", message=why, fix=fix)


@NOTEBOOK_RULES.register
def _keys_of_questions(nb: NotebookFacts) -> Iterator[Problem]:
    """A key names a question the notebook asks."""
    for qid, i in nb.keyed:
        if qid not in nb.asked:
            why, fix = say("nb.key_unknown_question", qid=qid), say("nb.key_unknown_question_fix")
            yield nb.cells[i].problem("key", why, fix)


@NOTEBOOK_RULES.register
def _key_modules_match(nb: NotebookFacts) -> Iterator[Problem]:
    """A key has its question's module tags, so a session that enables one enables both."""
    for qid, mods in nb.key_modules.items():
        asked = nb.asked[qid].cell.modules if qid in nb.asked else None
        if asked is not None and asked != mods:
            want = ", ".join(f"module:{m}" for m in sorted(asked)) or say("nb.no_module_tag")
            why = say("nb.key_module_mismatch", qid=qid)
            fix = say("nb.key_module_mismatch_fix", tags=want)
            yield nb.cells[dict(nb.keyed)[qid]].problem("tags", why, fix, "warning")


@NOTEBOOK_RULES.register
def _questions(nb: NotebookFacts) -> Iterator[Problem]:
    """Each question asked keeps the question rules, question by question."""
    for call in nb.asked.values():
        yield from QUESTION_RULES.run(call)


@QUESTION_RULES.register
def _solution_given(q: Call) -> Iterator[Problem]:
    """A tested (code) question has a ``solution`` cell after it."""
    if kinds.get(q.kind).tested and q.qid not in set(q.cell.nb.solves.values()):
        why, fix = say("nb.no_solution", qid=q.qid), say("nb.no_solution_fix")
        yield q.cell.nb.first[q.qid].cell.problem("solution", why, fix, "warning")


@QUESTION_RULES.register
def _key_given(q: Call) -> Iterator[Problem]:
    """A keyed question has a key, unless it is worth no points."""
    nb = q.cell.nb
    if kinds.get(q.kind).keyed and q.qid not in {k for k, _ in nb.keyed} | nb.ungraded:
        why, fix = say("nb.no_key", qid=q.qid), say("nb.no_key_fix", qid=q.qid)
        yield nb.first[q.qid].cell.problem("key", why, fix, "warning")


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
        _set_role(cell, role="parameters")
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
    questions: dict[str, dict] = {}
    keys: dict[str, dict] = {}
    tests: list[dict] = []
    answer_cells: dict[str, str] = {}
    reveal = None
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("casekit", {})
        if meta.get("role") == "answer":
            answer_cells[meta["question"]] = cell.get("id", "")
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if QUESTION_MIME in data:
                spec = dict(data[QUESTION_MIME])
                spec["cell"] = i
                questions[spec["id"]] = spec
            if KEY_MIME in data:
                rec = dict(data[KEY_MIME])
                keys[rec["id"]] = rec
            if TEST_MIME in data:
                role = meta.get("role")
                # the cell's role decides: a hidden-tests cell runs its @test like any other
                hidden = bool(data[TEST_MIME].get("hidden")) or role == "hidden-tests"
                tests.append({**data[TEST_MIME], "hidden": hidden, "cell": i, "role": role})
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
