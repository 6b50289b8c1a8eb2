"""Text and JSON from the trainee side, made safe to use: ids, invisible characters, bounded JSON, terminal text.

Everything a trainee hands in is untrusted (DESIGN.md "The trust boundary").
This module is the one home of the checks every intake path shares, so the
workbook's ``submit``, the exchange and ``collect`` refuse the same things:

* **ids** (trainee, session, cohort, question) become folder names: word
  characters, dots and hyphens, never ``.``/``..``, and none of the
  characters that make a text read differently from what it is (bidirectional
  controls, zero-width characters);
* **JSON** is parsed with caps on its size and depth (a workbook nested
  200,000 levels deep must cost the submitter a refusal, not the cohort a
  ``RecursionError``);
* **terminal text** has its control characters escaped, so a file name can
  never drive the instructor's terminal.

Kept free of heavy imports: the workbook kernel imports it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from kit.messages import t

#: An id as a folder name: a word character, then word characters, dots and hyphens
#: (never ``.`` or ``..``). The hub's URL routes match ids with this pattern too.
ID_PATTERN = r"[\w][\w.-]*"
SAFE_ID_RE = re.compile(rf"^{ID_PATTERN}$")
#: Characters that change how a text reads without being seen: the bidirectional
#: embeddings, overrides and isolates, and the zero-width characters.
INVISIBLE_RE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
#: C0/C1 control characters and DEL (what a terminal interprets).
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")

#: JSON from the trainee side deeper than this is refused. A released workbook is about
#: 8 levels deep, an answer store about 6; widget state and nested answers stay far below.
MAX_JSON_DEPTH = 64
#: Answers in one answer store: a workbook has tens of questions, never thousands.
MAX_ANSWERS = 2000


class BadInput(ValueError):
    """Trainee input that cannot be taken; the message says why (for the instructor)."""


class OverCap(BadInput):
    """Input past a cap (size, depth, memory): reading it further would cost the reader, not the writer."""


def id_problem(value: Any) -> str | None:
    """Why `value` cannot be used as an id (a folder name), or None when it can.

    The one id check: every path that takes an id (the workbook's ``submit``,
    the exchange, ``collect``, the course's roster and schedule) asks this.
    """
    if not isinstance(value, str) or not value:
        return t("id.empty")
    if INVISIBLE_RE.search(value):
        return t("id.invisible")
    if not SAFE_ID_RE.match(value) or value in (".", ".."):
        return t("id.characters")
    return None


def check_id(value: Any, what: str, refuse: Callable[[str], Exception] = BadInput) -> str:
    """`value` as text when it can be used as an id; else raise ``refuse(message)``.

    The message names `what` (``"trainee"``, ``"session"``...), the value and
    why (:func:`id_problem`); `refuse` is the caller's error type, so the
    exchange refuses with its ``ExchangeError`` and the workbook with its
    ``StoreError``.
    """
    text = str(value or "")
    why = id_problem(text)
    if why:
        raise refuse(t("id.refused", what=what, value=text, why=why))
    return text


def invisible_characters(text: str) -> list[str]:
    """The invisible or direction-changing characters in `text`, as ``U+XXXX`` (empty when none)."""
    return sorted({f"U+{ord(ch):04X}" for ch in INVISIBLE_RE.findall(text)})


def printable(text: Any) -> str:
    """`text` safe to print on a terminal: control and invisible characters escaped as ``\\xNN``/``\\uNNNN``."""

    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return INVISIBLE_RE.sub(escape, _CONTROL_RE.sub(escape, str(text)))


def json_depth(doc: Any) -> int:
    """How deep `doc` nests (a scalar is 0), walked without recursion."""
    deepest = 0
    todo: list[tuple[Any, int]] = [(doc, 0)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            depth += 1
            deepest = max(deepest, depth)
            todo.extend((v, depth) for v in value if isinstance(v, (dict, list)))
    return deepest


def load_json(data: bytes, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON from trainee bytes within the caps; `BadInput` naming the cause otherwise.

    Causes: not UTF-8, not JSON; and past a cap (`OverCap`): too large,
    nested too deep (also when the parser itself runs out of stack), too big
    to hold in memory.
    """
    if len(data) > max_bytes:
        raise OverCap(f"larger than {max_bytes} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"not UTF-8 text (byte {exc.start})") from None
    try:
        doc = json.loads(text)
    except RecursionError:
        raise OverCap(f"nested deeper than {max_depth} levels") from None
    except MemoryError:
        raise OverCap("too large to read into memory") from None
    except ValueError as exc:
        raise BadInput(f"not valid JSON ({exc})") from None
    if json_depth(doc) > max_depth:
        raise OverCap(f"nested deeper than {max_depth} levels")
    return doc
