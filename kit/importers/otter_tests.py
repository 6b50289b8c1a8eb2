"""otter-grader's test cases as casekit ``@test`` cells, graded as otter grades them.

One otter test cell is one test case. Its points come from otter's rule
(``resolve_points``); a hidden case becomes a ``hidden-tests`` cell.

* OK-format (the default): the case is the doctest otter builds — the
  cell's statements as ``>>>`` lines, the cell's output in the master
  notebook (stdout, stderr and the shown value, as otter reads them) as what
  the last line must show — run by ``kit.importers.doctests.run_doctest``.
* exception-based (``tests: ok_format: false``): the ``test_*`` function,
  called with the notebook's names by its parameter names (``env``: all of
  them), as otter calls it.

A case's ``failure_message`` is what the trainee reads when it fails.
``all_or_nothing`` makes one test worth the question's points that passes
only when every case passes (hidden when any case is); the visible cases
stay as tests worth 0, for the trainee's feedback.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from kit.importers import num, tagged, test_cell

#: the cell otter-imported notebooks with OK-format tests run before their tests
DOCTEST_IMPORT = "from kit.importers.doctests import run_doctest"


@dataclass
class Case:
    """One otter test case as read from the master."""

    index: int  # the master's cell index
    cell: Any
    code: str  # without its test config and HIDDEN line
    hidden: bool
    points: float | None  # as written (None: otter's rule decides)
    success: str | None = None
    failure: str | None = None


def resolve_points(question: Any, cases: list[Any]) -> list[float]:
    """Each test case's points by otter's documented rule (question points vs case points)."""
    n = len(cases)
    if n == 0:
        return []
    if isinstance(question, list):
        return [float(p) for p in question] + [0.0] * (n - len(question))
    given = [c for c in cases if c is not None]
    unspecified = n - len(given)
    if question is None:
        if given and any(float(p) for p in given):
            return [float(c) if c is not None else 0.0 for c in cases]
        if given:  # every specified case is worth 0: the question is worth 1
            return (
                [float(c) if c is not None else 1.0 / unspecified for c in cases]
                if unspecified
                else [0.0] * n
            )
        return [1.0 / n] * n
    q = float(question)
    if given:
        rest = (q - sum(float(p) for p in given)) / unspecified if unspecified else 0.0
        return [float(c) if c is not None else rest for c in cases]
    return [q / n] * n


def is_hidden_line(line: str) -> bool:
    """otter's rule: a first line that is a comment naming ``hidden`` hides the case."""
    return line.lstrip().startswith("#") and re.search(r"\bhidden\b", line, re.I) is not None


def stored_output(cell: Any) -> str | None:
    """What an OK-format test cell showed in the master (streams + shown value), or None if never run."""
    outs = cell.get("outputs") or []
    if not outs and cell.get("execution_count") is None:
        return None
    text = ""
    for o in outs:  # as otter assign reads it: every stream, then the text/plain of results
        t = o.get("text", "")
        text += "".join(t) if isinstance(t, list) else t
        shown = (o.get("data") or {}).get("text/plain")
        if shown:
            text += "".join(shown) if isinstance(shown, list) else shown
    return text


def _without_annotations(tree: ast.Module) -> ast.Module:
    """Type annotations of arguments and returns dropped, as otter assign drops them."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
        elif isinstance(node, ast.arg):
            node.annotation = None
    return tree


def doctest_text(code: str, output: str) -> str | None:
    """The doctest otter builds from a test cell and its stored output; None when it is not Python."""
    try:
        tree = _without_annotations(ast.parse(code))
    except SyntaxError:
        return None
    lines: list[str] = []
    for line in ast.unparse(tree).split("\n"):
        if not line:
            continue
        cont = line.startswith((" ", "\t")) or re.match(
            r"^(except[\s\w]*:|elif |else:|finally:)", line
        )
        if lines and lines[-1].rstrip().endswith("\\"):
            cont = True
        lines.append(("... " if cont else ">>> ") + line)
    return "\n".join(lines + output.split("\n"))


def ok_test(name: str, code: str, output: str | None) -> str:
    """An OK-format case as test code: otter's doctest, or (never run) "its last expression is true"."""
    if output is not None:
        text = doctest_text(code, output)
        if text is not None:
            return f"run_doctest({name!r}, {text!r}, globals())\n"
        return code
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return code
    last = tree.body[-1]
    lines = code.splitlines()
    head = "\n".join(lines[: last.lineno - 1])
    expr = "\n".join(lines[last.lineno - 1 : last.end_lineno]).strip()
    return f"{head}\nassert ({expr}), {'expected a true result'!r}\n"


def exception_test(code: str) -> str:
    """An exception-based case: its test functions, each called with the notebook's names."""
    kept = "\n".join(ln for ln in code.splitlines() if not re.search(r"#\s*IGNORE\s*$", ln))
    try:
        tree = ast.parse(kept)
    except SyntaxError:
        return kept
    calls = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            args = ", ".join(
                f"{a.arg}=globals()" if a.arg == "env" else f"{a.arg}=globals().get({a.arg!r})"
                for a in node.args.args
            )
            calls.append(f"{node.name}({args})")
    return kept + "\n" + "\n".join(calls) + "\n"


def with_failure_message(body: str, message: str | None) -> str:
    """``body`` that fails with the author's message (then what went wrong) when it fails."""
    if not message:
        return body
    return (
        "try:\n"
        + textwrap.indent(body.rstrip("\n") or "pass", "    ")
        + "\nexcept Exception as _ck_error:\n"
        + f"    raise AssertionError({message!r} + '\\n' + str(_ck_error)) from None\n"
    )


def case_body(case: Case, name: str, ok_format: bool) -> str:
    """The test code of one case, its failure message included."""
    if ok_format:
        body = ok_test(name, case.code, stored_output(case.cell))
    else:
        body = exception_test(case.code)
    return with_failure_message(body, case.failure)


def test_cells(
    qid: str,
    qname: str,
    cases: list[Case],
    points: list[float],
    *,
    ok_format: bool,
    all_or_nothing: bool,
) -> list[Any]:
    """The casekit test cells of one otter question."""
    names = [f"{qname} - {n}" for n in range(1, len(cases) + 1)]
    bodies = [case_body(c, nm, ok_format) for c, nm in zip(cases, names, strict=True)]
    out = []
    if all_or_nothing and len(cases) > 1:
        for c, nm, body in zip(cases, names, bodies, strict=True):
            if not c.hidden:  # feedback only: the points are in the whole test below
                out.append(tagged("code", test_cell(qid, nm, 0, body), "tests", like=c.cell))
        whole = "\n".join(
            f"def _ck_case_{i}():\n" + textwrap.indent(b.rstrip("\n") or "pass", "    ") + "\n"
            for i, b in enumerate(bodies, 1)
        ) + "".join(f"_ck_case_{i}()\n" for i in range(1, len(bodies) + 1))
        tag = "hidden-tests" if any(c.hidden for c in cases) else "tests"
        total = num(sum(points))
        out.append(tagged("code", test_cell(qid, f"{qname} - all", total, whole), tag))
        return out
    for c, nm, body, p in zip(cases, names, bodies, points, strict=True):
        tag = "hidden-tests" if c.hidden else "tests"
        out.append(tagged("code", test_cell(qid, nm, p, body), tag, like=c.cell))
    return out


def read_case(
    index: int, cell: Any, hidden: bool | None, config: dict[str, Any], code: str
) -> Case:
    """A case from a test cell: ``hidden`` from the format (None: from its first line), then its config."""
    lines = code.strip("\n").splitlines()
    if hidden is None:
        hidden = bool(lines) and is_hidden_line(lines[0])
        if hidden:
            code = "\n".join(lines[1:])
    hidden = bool(config.get("hidden", hidden))
    pts = config.get("points")
    return Case(
        index,
        cell,
        code,
        hidden,
        float(pts) if isinstance(pts, int | float) else None,
        _text(config.get("success_message")),
        _text(config.get("failure_message")),
    )


def _text(x: Any) -> str | None:
    return str(x) if x not in (None, "") else None


__all__ = [
    "DOCTEST_IMPORT",
    "Case",
    "case_body",
    "doctest_text",
    "exception_test",
    "is_hidden_line",
    "read_case",
    "resolve_points",
    "stored_output",
    "test_cells",
]
