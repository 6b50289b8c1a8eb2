"""The one reader of numbers as people type them: answers, answer files, mark sheets, schedules.

Kept apart (no imports beyond the standard library) so that every place a
person types a number reads it the same way: ``kit.kinds`` (answers, keys),
``kit.marking.sheets`` (points), ``kit.course`` (the schedule's hours).
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
