"""What a test asks of a trainee's answer that the judge cannot give: said by ``casekit check``.

The judge (``kit.sandbox.judge``) keeps a test's meaning for data, functions,
generators, instances, closures, prints, random state, files and figures
reached through the solution's names.  A few things a test can do in a
notebook still mean something else in the judge, because the trainee's
objects stay in their box and only stand-ins reach the test
(``kit.sandbox.proxies``).  This module finds them in the tests cells, so the author
hears it while writing the test, not on grading day:

* ``type(x)`` of an answer (it is the stand-in's type; ``isinstance`` works);
* catching an exception class the solution defines (``except MyError``,
  ``pytest.raises(MyError)``): the trainee's exception reaches the judge as
  a built-in one or a failed call;
* reading the trainee's code itself (``inspect.getsource``, ``__code__``,
  ``__closure__``, ``__globals__``);
* pyplot's current figure (``plt.gca()``, ``plt.gcf()``): the trainee drew
  in their box; read the figure through the names the solution binds.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from kit.messages import t
from kit.problems import Problem
from kit.sandbox.answers import answer_names

__all__ = ["crossing_problems"]

_CODE_ATTRS = {"__code__", "__closure__", "__globals__"}
_CURRENT_FIGURE = {"gca", "gcf", "get_fignums"}


def crossing_problems(path: Path, nb: Any) -> list[Problem]:
    """One warning per test (or tests cell) that asks for something that cannot cross."""
    from kit import notebooks as nbs

    names: set[str] = set()
    classes: set[str] = set()
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and "solution" in nbs.tags(cell):
            src = nbs.source(cell)
            names |= {n.name for n in answer_names(src)}
            classes |= _classes(src)
    out = []
    for i, cell in enumerate(nb.cells):
        tags = nbs.tags(cell)
        if cell.get("cell_type") != "code" or not tags & {"tests", "hidden-tests"}:
            continue
        try:
            tree = ast.parse(nbs.source(cell))
        except SyntaxError:
            continue  # check_notebook reports it
        for test, reason in _findings(tree, names, classes):
            out.append(
                Problem(
                    str(path),
                    t("where.cell", n=i + 1),
                    "tests",
                    t("check.cannot_cross", test=test, reason=t(f"check.cross_{reason}")),
                    t("check.cannot_cross_fix"),
                    severity="warning",
                )
            )
    return out


def _classes(src: str) -> set[str]:
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return set()
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}


def _findings(tree: ast.Module, names: set[str], classes: set[str]) -> list[tuple[str, str]]:
    """(test name, reason key) pairs, one per test and reason."""
    found: dict[tuple[str, str], None] = {}
    for test, node in _nodes_by_test(tree):
        reason = _reason(node, names, classes)
        if reason:
            found[(test, reason)] = None
    return list(found)


def _nodes_by_test(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    """Every node, with the name of the ``@test`` it belongs to (the cell's code: "")."""
    out: list[tuple[str, ast.AST]] = []
    for stmt in tree.body:
        name = _test_name(stmt) if isinstance(stmt, ast.FunctionDef) else None
        out += [(name or "", node) for node in ast.walk(stmt)]
    return out


def _test_name(fn: ast.FunctionDef) -> str | None:
    for dec in fn.decorator_list:
        if isinstance(dec, ast.Call) and isinstance(dec.func, ast.Name) and dec.func.id == "test":
            for kw in dec.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    return str(kw.value.value)
            return fn.name
    return None


def _reason(node: ast.AST, names: set[str], classes: set[str]) -> str | None:
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Name) and f.id == "type" and _mentions(node.args, names):
            return "type"
        if isinstance(f, ast.Attribute) and f.attr == "getsource":
            return "code"
        if isinstance(f, ast.Attribute) and f.attr in _CURRENT_FIGURE:
            return "figure"
        if isinstance(f, ast.Attribute) and f.attr in ("raises", "assertRaises"):
            if _mentions(node.args[:1], classes):
                return "exception"
    if isinstance(node, ast.ExceptHandler) and node.type is not None:
        if _mentions([node.type], classes):
            return "exception"
    if isinstance(node, ast.Attribute) and node.attr in _CODE_ATTRS:
        if _mentions([node.value], names):
            return "code"
    return None


def _mentions(nodes: list[ast.expr], names: set[str]) -> bool:
    return any(isinstance(sub, ast.Name) and sub.id in names for n in nodes for sub in ast.walk(n))
