"""``check_notebook``: the authoring contract, enforced before anything runs.

One small function per rule an author can break, registered in the order its
problems are reported (see the registries below).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import nbformat

from kit import kinds
from kit.artifacts import REVEAL_WHEN
from kit.kinds.base import QID_RE as QID
from kit.messages import t as say
from kit.notebooks.cells import (
    FOREIGN_TAGS,
    INSTRUCTOR_ONLY,
    MODULE_TAG,
    TAGS,
    key_ids,
    key_uses,
    modules_of,
    python_tree,
    question_calls,
    read_notebook,
    reveal_settings,
    source,
    tags,
    zero_point_questions,
)
from kit.problems import Problem

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
        self.ungraded |= zero_point_questions(c.source)
        for kind, qid, line in question_calls(c.source):
            call = Call(c, line, kind, qid)
            c.calls.append(call)
            if call.asks:
                self.first.setdefault(qid, call)
                self.asked[qid] = call
                if kinds.get(kind).tested:
                    self.last_tested = qid
        if "key" in c.tags:
            ids = key_ids(c.source)
            self.keyed += [(k, c.index) for k in ids]
            self.key_modules.update({k: c.modules for k in ids})
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
    if python_tree(cell.source) is None:
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
    for line, value, session in reveal_settings(cell.source):
        yield from REVEAL_RULES.run(Reveal(cell, line, value, session))


@CODE_RULES.register
def _keys_in_key_cells(cell: CellFacts) -> Iterator[Problem]:
    """A key is written only in a ``key`` cell, which trainees never get."""
    for what, line in key_uses(cell.source) if "key" not in cell.tags else []:
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
