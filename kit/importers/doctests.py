"""What an imported OK-format (doctest) test runs when it is graded.

otter-grader's OK-format test case is a doctest: the test cell's statements
as ``>>>`` lines, the cell's output in the master notebook as what the last
one must show. ``run_doctest`` runs such a case with Python's ``doctest`` on
the notebook's names, as otter does, and raises with doctest's report when
the output differs.

One difference on purpose: numpy scalar reprs are read alike across numpy
versions. A master run under numpy 1 stored ``True`` and ``4.5``; numpy 2
shows ``np.True_`` and ``np.float64(4.5)``. Both sides are compared with
numpy 2's scalar wrappers taken off, so an output stored under either
version matches an answer graded under the other.

The tests of imported notebooks import it (in the judge's box), beside
``kit.questions``.
"""

from __future__ import annotations

import doctest
import io
import re
from typing import Any

__all__ = ["numpy_neutral", "run_doctest"]

_SCALAR = re.compile(
    r"\bnp\.(?:float|int|uint|complex|longdouble|clongdouble|longlong|ulonglong)\d*\(([^()]*)\)"
)
_BOOL = re.compile(r"\bnp\.(True|False)_\b")
_TEXT = re.compile(r"""\bnp\.(?:str_|bytes_)\(((?:b?'[^']*'|b?"[^"]*"))\)""")


def numpy_neutral(text: str) -> str:
    """``text`` with numpy 2's scalar reprs (``np.float64(4.5)``, ``np.True_``) as numpy 1 shows them."""
    text = _BOOL.sub(r"\1", text)
    text = _TEXT.sub(r"\1", text)
    return _SCALAR.sub(r"\1", text)


class _Checker(doctest.OutputChecker):
    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        return super().check_output(numpy_neutral(want), numpy_neutral(got), optionflags)


def run_doctest(name: str, text: str, env: dict[str, Any]) -> None:
    """Run the doctest ``text`` on the names in ``env``; raise ``AssertionError`` when it fails."""
    examples = doctest.DocTestParser().get_examples(text, name)
    case = doctest.DocTest(examples, env, name, None, None, text)
    runner = doctest.DocTestRunner(checker=_Checker(), verbose=False)
    report = io.StringIO()
    runner.run(case, out=report.write, clear_globs=False)
    if runner.failures:
        raise AssertionError(report.getvalue().strip() or f"{name} failed")
