"""The shape of kit/: layers that only import downward, no import cycles, imports at the top.

The layer rule is written down at the top of docs/architecture.md; this test is
its enforcement. Every import counts, including those inside functions (they
used to hide a 14-module knot); only ``if TYPE_CHECKING:`` imports, which never
run, are left out.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "kit"

# Bottom to top: a module may import its own layer and the layers below it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("kit", "kit.problems", "kit.messages", "kit.language", "kit.numbers",
                    "kit.untrusted", "kit.import_costs")),
    ("course", ("kit.course", "kit.artifacts", "kit.access", "kit.ownership", "kit.exchange",
                "kit.kernel_state")),
    ("kinds", ("kit.kinds", "kit.notebooks", "kit.intent")),
    ("pages", ("kit.pages",)),
    ("workbook", ("kit.workbook", "kit.questions")),
    ("execution", ("kit.execution", "kit.engines")),
    ("sandbox", ("kit.sandbox",)),
    ("importers", ("kit.importers",)),
    ("grading", ("kit.grading", "kit.gradebook")),
    ("marking", ("kit.marking",)),
    ("live", ("kit.live",)),
    ("hub", ("kit.hub",)),
    ("programme", ("kit.deliberation", "kit.programme")),
    ("build", ("kit.builder", "kit.trial")),
    ("cli", ("kit.cli", "kit.__main__")),
]  # fmt: skip

# A function-level import stays only to defer one of these (each costs a command
# that does not need it a noticeable part of a second, or starts threads), or a
# kit module that imports one of them at its top.
HEAVY = {
    "IPython", "comm", "distributed", "ipywidgets", "jinja2", "matplotlib", "nbclient",
    "nbconvert", "nbformat", "numpy", "openpyxl", "pandas", "papermill", "playwright",
    "psycopg", "pydantic", "pygments", "rich", "sqlalchemy", "tornado", "traitlets", "typer",
    "yaml", "bs4", "nh3", "jupyterhub", "voila", "pypdf",
}  # fmt: skip


@dataclass(frozen=True)
class Import:
    target: str  # the module imported (a kit module, or a top-level package name)
    line: int
    in_function: bool


def _modules() -> dict[str, Path]:
    out = {}
    for p in KIT.rglob("*.py"):
        name = ".".join(p.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


MODULES = _modules()


def _module_level(tree: ast.Module) -> set[int]:
    """ids of the statements that run at import (the body, and inside top-level if/try)."""
    seen: set[int] = set()
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        seen.add(id(node))
        if isinstance(node, ast.If | ast.Try):
            todo += node.body + node.orelse + getattr(node, "finalbody", [])
            for h in getattr(node, "handlers", []):
                todo += h.body
    return seen


def _type_checking_only(tree: ast.Module) -> set[int]:
    out: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for b in node.body for n in ast.walk(b)}
    return out


def _kit_targets(dotted: str, importer: str) -> list[str]:
    """The kit modules a dotted import runs: ``kit.a.b.name`` → ``kit.a``, ``kit.a.b``.

    Importing a submodule runs its packages' ``__init__`` too, except those
    the importer is inside of (they are already running).
    """
    parts = dotted.split(".")
    found = []
    for i in range(2, len(parts) + 1):
        m = ".".join(parts[:i])
        if m in MODULES and m != importer and not importer.startswith(m + "."):
            found.append(m)
    return found


@cache
def imports_of(name: str) -> tuple[Import, ...]:
    path = MODULES[name]
    tree = ast.parse(path.read_text("utf-8"))
    top, skip = _module_level(tree), _type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + [base]
                ).strip(".")
            dotted = [f"{base}.{a.name}" for a in node.names] or [base]
        else:
            dotted = [a.name for a in node.names]
        for d in dotted:
            targets = _kit_targets(d, name) if d.split(".")[0] == "kit" else [d.split(".")[0]]
            found += [Import(t, node.lineno, id(node) not in top) for t in targets]
    return tuple(found)


def layer_of(name: str) -> int:
    best, rank = "", -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (name == p or name.startswith(p + ".")) and len(p) > len(best):
                best, rank = p, i
    return rank


def test_every_module_has_a_layer() -> None:
    assert not [m for m in MODULES if layer_of(m) < 0], (
        "add them to LAYERS (and the map in docs/architecture.md)"
    )


def test_layers_only_import_downward() -> None:
    upward = [
        f"{m}:{i.line} ({LAYERS[layer_of(m)][0]}) imports {i.target} ({LAYERS[layer_of(i.target)][0]})"
        for m in MODULES
        for i in imports_of(m)
        if i.target in MODULES and layer_of(i.target) > layer_of(m)
    ]
    assert not upward, "move what both sides need down a layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    graph = {m: {i.target for i in imports_of(m) if i.target in MODULES} for m in MODULES}
    cycles: list[str] = []
    done: set[str] = set()

    # depth first, once per module: an import back into the path being walked closes a
    # cycle, of any length (a graph without such an edge has none)
    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycles.append(" → ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in done:
                visit(nxt, [*path, nxt])
        done.add(node)

    for m in sorted(graph):
        if m not in done:
            visit(m, [m])
    assert not cycles, "\n".join(sorted(cycles)[:20])


@cache
def _pulls_heavy(name: str) -> bool:
    """Whether importing kit module `name` imports one of HEAVY (at module level, transitively)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for i in imports_of(m):
            if i.in_function:
                continue
            if i.target in HEAVY:
                return True
            if i.target in MODULES:
                todo.append(i.target)
    return False


def _heavy(target: str) -> bool:
    return target in HEAVY or (target in MODULES and _pulls_heavy(target))


def test_function_level_imports_only_defer_heavy_modules() -> None:
    """Everything else is imported at the top, where a reader sees what a module depends on."""
    statements: dict[tuple[str, int], list[str]] = {}
    for m in MODULES:
        for i in imports_of(m):
            if i.in_function:
                statements.setdefault((m, i.line), []).append(i.target)
    hidden = [
        f"{m}:{line} imports {', '.join(targets)} inside a function"
        for (m, line), targets in statements.items()
        if not any(_heavy(t) for t in targets)
    ]
    assert not hidden, "import these at the top:\n" + "\n".join(sorted(hidden))


def test_every_package_says_what_it_holds() -> None:
    bare = [
        str(p.relative_to(ROOT))
        for p in KIT.rglob("__init__.py")
        if not ast.get_docstring(ast.parse(p.read_text("utf-8")))
    ]
    assert not bare, f"a package docstring says what lives there and what it may import: {bare}"


def test_no_function_is_two_concerns() -> None:
    """No function over 100 lines (``python scripts/long_functions.py`` lists them)."""
    spec = importlib.util.spec_from_file_location(
        "long_functions", ROOT / "scripts" / "long_functions.py"
    )
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    sys.modules["long_functions"] = script  # its dataclasses look their module up
    spec.loader.exec_module(script)
    long = script.long_functions([KIT], 100)
    assert not long, "split these by meaning:\n" + "\n".join(
        f"{f.path.relative_to(ROOT)}:{f.line} {f.name} ({f.length} lines)" for f in long
    )


def test_the_zygote_finds_every_handler() -> None:
    """Its job table names handlers by module path: a moved module must move its entry too."""
    from kit.execution.zygote import HANDLERS

    for job, target in HANDLERS.items():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function, None)), job
