"""Functions in kit/ longer than a screen: run before a commit.

    python scripts/long_functions.py [--limit 100] [PATH ...]

Prints one line per function over the limit (lines from its `def` to its last
line, decorators and docstring included), longest first, and exits 1 when
there is any: a function that does not fit on a screen is usually doing two
things (issue #21 asks for none over 100 lines in kit/).
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Long:
    path: Path
    line: int
    name: str
    length: int


def long_functions(paths: list[Path], limit: int) -> list[Long]:
    """Every function or method in the Python files under `paths` longer than `limit` lines."""
    found: list[Long] = []
    for base in paths:
        for path in sorted(base.rglob("*.py") if base.is_dir() else [base]):
            tree = ast.parse(path.read_text("utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    length = (node.end_lineno or node.lineno) - start + 1
                    if length > limit:
                        found.append(Long(path, node.lineno, node.name, length))
    return sorted(found, key=lambda f: -f.length)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=100, help="most lines a function may have")
    ap.add_argument("paths", nargs="*", type=Path, default=[ROOT / "kit"])
    args = ap.parse_args(argv)
    found = long_functions(args.paths, args.limit)
    for f in found:
        where = f.path.relative_to(ROOT) if f.path.is_relative_to(ROOT) else f.path
        print(f"{where}:{f.line}: {f.name} has {f.length} lines (limit {args.limit})")
    print(f"{len(found)} function(s) over {args.limit} lines", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
