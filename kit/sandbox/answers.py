"""What an answer is to the grader: the names a solution sets, and how running one can fail.

* ``answer_names`` reads the instructor's solution cell: the names it binds
  or changes are the names whose values cross from the trainee's box to the
  judge (``kit.sandbox.judge``).
* ``RunFailure`` / ``FailureKind`` are the typed causes a run of trainee code
  reports (syntax error at a line, exception, timeout, memory, exit, crash,
  an answer that cannot be checked, ...): the feedback page translates the
  kind, nothing greps messages.
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from kit.execution.shell import CellTimeoutError

__all__ = [
    "FailureKind",
    "Name",
    "RunFailure",
    "TestOutcome",
    "answer_names",
    "defines_callables",
    "failure_of",
]

DETAIL_CAP = 500


# ----------------------------------------------------------------------------- failures


class FailureKind(StrEnum):
    """Why (part of) a trainee's code did not give a checkable answer."""

    SYNTAX = "syntax"  # the answer does not parse (line)
    ERROR = "error"  # it raised an exception (type, line)
    TIMEOUT = "timeout"  # a cell ran past the cell timeout, or the box stopped answering
    MEMORY = "memory"  # it ran out of its memory bound
    EXIT = "exit"  # it called sys.exit() / os._exit() or otherwise ended its process
    CRASHED = "crashed"  # its process was killed (signal, CPU or process limit)
    UNCHECKABLE = "uncheckable"  # a value of a type that cannot be checked
    RUN_TIMEOUT = "run-timeout"  # the whole submission ran past its time
    UNREADABLE = "unreadable"  # the hand-in itself cannot be read (no code ran)
    # The grader's own trouble (sandbox, the instructor's notebook): not the trainee's
    # fault.  Its detail is for the instructor; a trainee should read only that
    # grading failed (it may name cells of the instructor edition).
    GRADER = "grader"

    @property
    def by_submission(self) -> bool:
        """Whether the submission caused it: recorded once as the trainee's, never retried.

        Every kind but ``GRADER``; a value too large to decode (a pickle bomb)
        is ``UNCHECKABLE``, so it is the submission's too.
        """
        return self is not FailureKind.GRADER


class TestOutcome(StrEnum):
    """How one author test of a code answer ended (what a page says about it, by kind)."""

    __test__ = False  # not a pytest class

    PASSED = "passed"
    FAILED = "failed"  # its assertion failed: the message is the author's
    UNANSWERED = "unanswered"  # the question was not answered
    NOT_RUN = "not-run"  # no record: the code stopped first (the typed failures say why)
    RAISED = "raised"  # the tests cell raised: the message is the exception


@dataclass(frozen=True)
class RunFailure:
    """One typed cause, for the feedback page: which question, which cell (1-based), which line."""

    kind: FailureKind
    question: str | None = None
    cell: int | None = None  # 1-based position in the instructor edition
    line: int | None = None
    detail: str = ""  # plain text, e.g. "NameError: name 'x' is not defined"

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (what crosses between processes)."""
        d = asdict(self)
        d["kind"] = str(self.kind)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> RunFailure | None:
        """Validate a dict from a box; None when it is not a well-formed failure."""
        if not isinstance(d, dict):
            return None
        try:
            kind = FailureKind(str(d.get("kind")))
        except ValueError:
            return None
        q, cell, line = d.get("question"), d.get("cell"), d.get("line")
        return cls(
            kind,
            q[:200] if isinstance(q, str) else None,
            cell if type(cell) is int else None,
            line if type(line) is int else None,
            str(d.get("detail") or "")[:DETAIL_CAP] if isinstance(d.get("detail"), str) else "",
        )


def failure_of(exc: BaseException, *, question: str | None, cell: int | None) -> RunFailure:
    """The typed failure for an exception raised by an answer cell."""
    detail = f"{type(exc).__name__}: {exc}"[:DETAIL_CAP]
    if isinstance(exc, SyntaxError):
        return RunFailure(FailureKind.SYNTAX, question, cell, exc.lineno, detail)
    if isinstance(exc, CellTimeoutError):
        return RunFailure(FailureKind.TIMEOUT, question, cell, cell_line(exc), detail)
    if isinstance(exc, MemoryError):
        return RunFailure(FailureKind.MEMORY, question, cell, cell_line(exc), "MemoryError")
    if isinstance(exc, SystemExit):
        return RunFailure(FailureKind.EXIT, question, cell, cell_line(exc), detail)
    return RunFailure(FailureKind.ERROR, question, cell, cell_line(exc), detail)


def cell_line(exc: BaseException) -> int | None:
    """The line of the answer cell where ``exc`` was raised (innermost frame of the cell)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(("<ipython-input-", "<cell ")):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# ----------------------------------------------------------------------------- what an answer binds


@dataclass(frozen=True)
class Name:
    """A name an answer cell sets: ``weak`` when only a method call suggests it changes."""

    name: str
    weak: bool = False


def answer_names(source: str) -> list[Name]:
    """Names the instructor's solution binds or changes at top level, in order.

    Assignment targets, the bases of subscript/attribute assignment
    (``ledger["x"] = ...`` changes ``ledger``), augmented assignment, ``del``,
    ``def``/``class``, ``for``/``with`` targets, imports and walrus targets,
    also inside top-level ``if``/``for``/``while``/``with``/``try`` blocks;
    a statement that calls a method on a name (``df.sort_values(...,
    inplace=True)``) marks that name *weak*: it crosses only when its value
    is plain data.
    """
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        code = TransformerManager().transform_cell(source)
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    bindings = _Bindings()
    bindings.block(tree.body)
    return [Name(n, w) for n, w in bindings.found.items()]


def _base(node: ast.AST) -> str | None:
    """The name at the root of ``a.b[c].d``, if it is one."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class _Bindings:
    """The names top-level statements bind or change: a ``visit_<statement>`` per kind, as in `ast.NodeVisitor`."""

    def __init__(self) -> None:
        self.found: dict[str, bool] = {}  # name -> weak

    def strong(self, n: str) -> None:
        self.found[n] = False

    def weak(self, n: str) -> None:
        self.found.setdefault(n, True)

    def target(self, t: ast.AST) -> None:
        if isinstance(t, ast.Name):
            self.strong(t.id)
        elif isinstance(t, ast.Tuple | ast.List):
            for e in t.elts:
                self.target(e)
        elif isinstance(t, ast.Starred):
            self.target(t.value)
        elif isinstance(t, ast.Attribute | ast.Subscript) and (b := _base(t)):
            self.strong(b)

    def walrus(self, node: ast.AST) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr):
                self.target(sub.target)

    def block(self, stmts: list[ast.stmt]) -> None:
        for s in stmts:
            seen = getattr(self, f"visit_{type(s).__name__}", None)
            if seen is not None:
                seen(s)

    def visit_Assign(self, s: ast.Assign) -> None:
        for t in s.targets:
            self.target(t)
        self.walrus(s.value)

    def visit_AnnAssign(self, s: ast.AnnAssign | ast.AugAssign) -> None:
        self.target(s.target)

    visit_AugAssign = visit_AnnAssign

    def visit_Delete(self, s: ast.Delete) -> None:
        for t in s.targets:
            self.target(t)

    def visit_FunctionDef(self, s: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.strong(s.name)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Import(self, s: ast.Import | ast.ImportFrom) -> None:
        for a in s.names:
            if a.name != "*":
                self.strong(a.asname or a.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_For(self, s: ast.For | ast.AsyncFor) -> None:
        self.target(s.target)
        self.block(s.body + s.orelse)

    visit_AsyncFor = visit_For

    def visit_With(self, s: ast.With | ast.AsyncWith) -> None:
        for item in s.items:
            if item.optional_vars is not None:
                self.target(item.optional_vars)
        self.block(s.body)

    visit_AsyncWith = visit_With

    def visit_If(self, s: ast.If | ast.While) -> None:
        self.walrus(s.test)
        self.block(s.body + s.orelse)

    visit_While = visit_If

    def visit_Try(self, s: ast.Try) -> None:
        for h in s.handlers:
            if h.name:
                self.strong(h.name)
            self.block(h.body)
        self.block(s.body + s.orelse + s.finalbody)

    def visit_Expr(self, s: ast.Expr) -> None:
        self.walrus(s.value)
        if isinstance(s.value, ast.Call) and isinstance(s.value.func, ast.Attribute):
            if b := _base(s.value.func):
                self.weak(b)


def defines_callables(source: str) -> bool:
    """True when a solution defines a function, class or lambda (its tests will call it)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return True  # unknown: keep the careful path
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    return any(isinstance(node, kinds) for node in ast.walk(tree))
