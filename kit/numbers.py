"""Numbers as people type them and as people read them: the one reader and the one writer.

Kept apart (no imports beyond the standard library) so that every place a
person types a number reads it the same way (:func:`parse_number`:
``kit.kinds`` for answers and keys, ``kit.marking.sheets`` for points,
``kit.course`` for the schedule's hours), and every place casekit shows one
writes it the same way (:func:`num`, :func:`pct`, :func:`statistic`: the
question kinds, the workbook, marking, the live view, the pages).
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any


def parse_number(text: Any, unit: str | None = None) -> float:
    """Parse what a trainee typed into a number.

    Accepts full-width digits and signs, thousands separators (``1,234``),
    spaces, a trailing unit equal to the question's, and percentages: when the
    question's unit is ``%`` then ``12.5%`` is 12.5, otherwise it is 0.125.
    Raises ValueError for anything else (including NaN and infinity).
    """
    if isinstance(text, bool):
        raise ValueError(text)
    if isinstance(text, int | float):
        value = float(text)
    else:
        s = unicodedata.normalize("NFKC", str(text)).strip()
        s = s.replace("−", "-").replace("，", ",").replace(" ", "")
        unit_n = unicodedata.normalize("NFKC", unit).strip() if unit else ""
        percent = False
        if unit_n and unit_n != "%" and s.endswith(unit_n):
            s = s[: -len(unit_n)]
        if s.endswith("%"):
            s = s[:-1]
            percent = unit_n != "%"
        if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", s):
            s = s.replace(",", "")
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s):
            raise ValueError(text)
        value = float(s) / (100.0 if percent else 1.0)
    if math.isnan(value) or math.isinf(value):
        raise ValueError(text)
    return value


def num(x: Any, digits: int | None = None) -> str:
    """A number as people write it: 3, 2.5, 0.33 — never 3.0.

    With `digits`, rounded to that many decimals, trailing zeros dropped
    (0.3333333 → 0.33 for ``digits=2``); without, as exact as Python writes the
    float. NaN is "—"; anything that is not a number is its text.
    """
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if v != v:  # NaN
        return "—"
    if v.is_integer():
        return str(int(v))
    return str(v) if digits is None else f"{v:.{digits}f}".rstrip("0").rstrip(".")


def pct(share: float | None) -> str:
    """A share (0–1) as a whole percent: 0.756 → "76%"; None or NaN (no data) is "—"."""
    return "—" if share is None or share != share else f"{100 * share:.0f}%"


def statistic(x: float) -> str:
    """A summary of many answers (mean, median, a bin's edge): four significant digits,
    large ones whole with thousands separators (1,234,567)."""
    return f"{x:.4g}" if abs(x) < 1e5 else f"{x:,.0f}"
