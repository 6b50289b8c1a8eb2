"""The authoring API (`ask`, `key`, `test`), question specs, widgets and scoring.

An instructor declares a question with ``ask.<kind>(qid, prompt, ...)``. The
returned `Question` displays itself as

* ``application/vnd.casekit.question+json``: the spec, never the key;
* ``text/html``: a static, escaped rendering used by handouts (with the
  trainee's answer when one is known);
* ``text/plain``;
* and, only inside a live Jupyter kernel that is not a build or grade run
  (``CASEKIT_MODE`` unset), a live ipywidgets view bound to the workbook's
  answer store (`kit.workbook`).

`score()` and `practice_hashes()` are pure functions for the grader and the
build: no widgets, no kernel.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import math
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kit.locale import t

MIME_QUESTION = "application/vnd.casekit.question+json"
MIME_KEY = "application/vnd.casekit.key+json"
MIME_TEST = "application/vnd.casekit.test+json"
MIME_WIDGET = "application/vnd.jupyter.widget-view+json"

QID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
KINDS = (
    "choice",
    "multi",
    "number",
    "text",
    "essay",
    "ranking",
    "code",
    "rating",
    "observation",
    "upload",
)
# Default colour units (DESIGN.md "Four colour units"); a course may configure
# others, in which case the notebook's `unit_colour` parameter wins.
UNIT_COLOURS = {"red": "#c0392b", "green": "#2e7d32", "blue": "#1565c0", "gold": "#b8860b"}
DEFAULT_OBSERVATION_FIELDS = ["what", "who", "problems", "ideas"]
# The first line of a code answer cell; the build writes it with
# `answer_stub()`, the runtime's post_run_cell hook finds answers by it.
ANSWER_MARKER = "# 答题区 answer: {qid}"
ANSWER_MARKER_RE = re.compile(r"^\s*#\s*答题区\s+answer:\s*([a-z0-9][a-z0-9-]*)\s*$")

_MISSING: Any = object()


class AuthoringError(ValueError):
    """A question declared wrongly; the message says what to fix.

    Shown without a traceback in IPython (`_render_traceback_`), because the
    reader is an instructor, not a programmer.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"casekit: {self}"]


class KeyRefused(RuntimeError):
    """`key()` was called inside a trainee workbook. Carries no key data."""

    def _render_traceback_(self) -> list[str]:
        return [f"casekit: {self}"]


# ---------------------------------------------------------------- environment


def _ipython() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return get_ipython()


def in_live_kernel() -> bool:
    """True inside a real Jupyter kernel used interactively (not build/grade).

    Built editions are executed with ``CASEKIT_MODE`` set and must never carry
    widget views (their model ids would be dangling in the saved notebook).
    """
    if os.environ.get("CASEKIT_MODE"):
        return False
    ip = _ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def in_voila() -> bool:
    """True in a kernel that Voilà started (it renders outputs only, never cell sources)."""
    return bool(os.environ.get("VOILA_BASE_URL") or os.environ.get("VOILA_REQUEST_URL"))


def _user_ns() -> dict:
    ip = _ipython()
    return getattr(ip, "user_ns", None) or {}


def _runtime() -> Any:
    from kit import workbook

    return workbook.current()


def _language() -> str:
    rt = _runtime()
    if rt is not None:
        return rt.language
    return str(_user_ns().get("language") or os.environ.get("CASEKIT_LANGUAGE") or "zh")


def _display(bundle: dict) -> None:
    """Display a raw mime bundle; outside IPython print its text/plain."""
    ip = _ipython()
    if ip is None:
        print(bundle.get("text/plain", ""))
        return
    from IPython.display import display

    display(bundle, raw=True)


def _jsonable(value: Any) -> Any:
    """Turn numpy/pandas scalars and containers into plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | bool | int | type(None)):
        return value
    if isinstance(value, float):
        return value
    if hasattr(value, "tolist"):  # numpy arrays and pandas Series/Index
        return _jsonable(value.tolist())
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    if isinstance(value, Path):
        return str(value)
    return str(value)


# ------------------------------------------------------------- normalisation


def normalise_text(value: Any) -> str:
    """Normalise a short answer for comparison.

    NFKC folds full-width letters, digits and punctuation to half-width;
    then casefold, strip, and collapse runs of whitespace to one space.
    """
    s = unicodedata.normalize("NFKC", str(value))
    s = s.casefold().strip()
    return re.sub(r"\s+", " ", s)


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


# ---------------------------------------------------------------- Question


@dataclass
class Question:
    """A declared question. `spec` is JSON-able and never holds the key."""

    spec: dict
    view: Any = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.spec["id"]

    @property
    def kind(self) -> str:
        return self.spec["kind"]

    @property
    def answer(self) -> Any:
        """The stored answer value in the open workbook, or None."""
        rt = _runtime()
        if rt is None:
            return None
        entry, _ = rt.lookup(self.id, self.spec)
        return None if entry is None else entry.get("value")

    def to_html(self, answer: Any = _MISSING, language: str | None = None) -> str:
        """Static HTML rendering (everything escaped)."""
        if answer is _MISSING:
            answer = self._known_answer()
        return render_html(self.spec, answer, language or _language())

    def _known_answer(self) -> Any:
        rt = _runtime()
        if rt is None:
            return None
        try:
            entry, _ = rt.lookup(self.id, self.spec)
        except Exception:  # a broken store must not break a handout
            return None
        return None if entry is None else entry.get("value")

    def widget(self, runtime: Any = None) -> Any:
        """Build (or rebuild) the live widget view, bound to `runtime`.

        Rebuilding reads the store, so the view shows the saved answer.
        """
        from kit import workbook

        rt = runtime or workbook.current() or workbook.preview_runtime()
        self.view = build_view(self.spec, rt)
        return self.view

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        lang = _language()
        bundle = {
            MIME_QUESTION: self.spec,
            "text/html": self.to_html(language=lang),
            "text/plain": render_plain(self.spec, lang),
        }
        if in_live_kernel():
            view = self.widget()
            bundle[MIME_WIDGET] = view.box._repr_mimebundle_()[MIME_WIDGET]
        return bundle

    def __repr__(self) -> str:
        return f"Question({self.kind} {self.id!r})"


# Questions declared in this kernel, by id (re-running a cell replaces).
QUESTIONS: dict[str, dict] = {}
# Keys recorded in this kernel (build mode or an instructor preview).
KEYS: dict[str, dict] = {}


def _make(kind: str, qid: str, prompt: str, points: float, **fields: Any) -> Question:
    if not isinstance(qid, str) or not QID_RE.match(qid):
        raise AuthoringError(
            f"question id {qid!r} is not valid: use lower-case letters, digits and '-', "
            "starting with a letter or digit, e.g. 'q1' or 'budget-share'"
        )
    if not isinstance(prompt, str) or not prompt.strip():
        raise AuthoringError(f"question {qid!r}: the prompt must be a non-empty text")
    if not isinstance(points, int | float) or points < 0:
        raise AuthoringError(f"question {qid!r}: points must be a number ≥ 0")
    ns = _user_ns()
    unit = fields.pop("unit", None) or ns.get("unit") or None
    spec: dict[str, Any] = {
        "id": qid,
        "kind": kind,
        "prompt": prompt,
        "points": points,
        "unit": unit,
    }
    colour = ns.get("unit_colour") or UNIT_COLOURS.get(str(unit or ""))
    if colour:
        spec["colour"] = colour
    if ns.get("unit_name") and unit == ns.get("unit"):
        spec["unit_name"] = str(ns["unit_name"])
    spec.update(_jsonable(fields))
    QUESTIONS[qid] = spec
    rt = _runtime()
    if rt is not None:
        rt.register(spec)
    return Question(spec)


def _options(qid: str, options: Any, what: str = "options") -> list[str]:
    opts = [str(o) for o in _jsonable(list(options or []))]
    if len(opts) < 2:
        raise AuthoringError(f"question {qid!r}: give at least two {what}")
    if len(set(opts)) != len(opts):
        raise AuthoringError(f"question {qid!r}: {what} must be different from each other")
    return opts


class _Ask:
    """Namespace of question constructors: ``ask.choice(...)`` etc."""

    def choice(self, qid: str, prompt: str, options: list[str], points: float = 1, *, unit=None):
        """Single choice; key: the option text (or its 0-based index)."""
        return _make("choice", qid, prompt, points, options=_options(qid, options), unit=unit)

    def multi(self, qid: str, prompt: str, options: list[str], points: float = 1, *, unit=None):
        """Multiple choice; key: list of option texts; partial credit."""
        return _make("multi", qid, prompt, points, options=_options(qid, options), unit=unit)

    def number(
        self,
        qid: str,
        prompt: str,
        unit: str | None = None,
        tolerance: float = 0.0,
        rel_tolerance: float | None = None,
        points: float = 1,
    ):
        """Number with an optional measurement unit and tolerance; key: number.

        ``unit`` here is the measurement unit shown beside the input (e.g.
        "万元", "%"); it is stored as ``number_unit`` because ``unit`` in a
        spec is the colour unit.
        """
        if tolerance is None or tolerance < 0 or (rel_tolerance is not None and rel_tolerance < 0):
            raise AuthoringError(f"question {qid!r}: tolerances must be ≥ 0")
        return _make(
            "number",
            qid,
            prompt,
            points,
            number_unit=unit,
            tolerance=float(tolerance),
            rel_tolerance=None if rel_tolerance is None else float(rel_tolerance),
        )

    def text(self, qid: str, prompt: str, points: float = 1, max_length: int = 200, *, unit=None):
        """Short text; key: str or list of accepted answers (normalised)."""
        return _make("text", qid, prompt, points, max_length=int(max_length), unit=unit)

    def essay(
        self,
        qid: str,
        prompt: str,
        rubric: list[dict],
        min_chars: int = 0,
        show_rubric: bool = True,
        *,
        unit=None,
    ):
        """Essay marked by hand against `rubric` items {"id","text","points"}.

        points = sum of rubric points. With ``show_rubric=False`` give only ids
        and points here (this cell reaches trainees) and the texts in the key
        cell: ``key(qid, None, rubric=[{"id": ..., "text": ...}])``.
        """
        items = _rubric(qid, rubric, texts=show_rubric)
        if not items:
            raise AuthoringError(f"question {qid!r}: an essay needs a rubric")
        total = sum(i["points"] for i in items)
        if not show_rubric:
            items = [{"id": i["id"], "points": i["points"]} for i in items]
        return _make(
            "essay",
            qid,
            prompt,
            total,
            rubric=items,
            min_chars=int(min_chars),
            show_rubric=bool(show_rubric),
            unit=unit,
        )

    def ranking(self, qid: str, prompt: str, items: list[str], points: float = 1, *, unit=None):
        """Order a list; key: the items in the right order; partial credit by pairs."""
        return _make("ranking", qid, prompt, points, items=_options(qid, items, "items"), unit=unit)

    def code(self, qid: str, prompt: str, points: float = 1, *, unit=None):
        """Code answered in the next `solution` cell; `test`s decide the score."""
        return _make("code", qid, prompt, points, language="python", unit=unit)

    def rating(
        self,
        qid: str,
        prompt: str,
        scale: int = 5,
        about: str = "session",
        labels: list[str] | None = None,
        *,
        unit=None,
    ):
        """Ungraded rating 1..scale of the session or the teacher."""
        if about not in ("session", "teacher"):
            raise AuthoringError(f"question {qid!r}: about must be 'session' or 'teacher'")
        if not isinstance(scale, int) or not 2 <= scale <= 10:
            raise AuthoringError(f"question {qid!r}: scale must be a whole number from 2 to 10")
        if labels is not None and len(labels) != scale:
            raise AuthoringError(f"question {qid!r}: give one label per point of the scale")
        return _make(
            "rating",
            qid,
            prompt,
            0,
            scale=scale,
            about=about,
            labels=None if labels is None else [str(x) for x in labels],
            unit=unit,
        )

    def observation(
        self,
        qid: str,
        prompt: str,
        fields: list[str] | None = None,
        rubric: list[dict] | None = None,
        points: float = 0,
        *,
        unit=None,
    ):
        """Site-visit log with labelled fields (default what/who/problems/ideas)."""
        flds = [str(f) for f in (fields or DEFAULT_OBSERVATION_FIELDS)]
        if len(set(flds)) != len(flds) or not flds:
            raise AuthoringError(f"question {qid!r}: fields must be different from each other")
        items = _rubric(qid, rubric)
        pts = sum(i["points"] for i in items) if items and not points else points
        return _make("observation", qid, prompt, pts, fields=flds, rubric=items or None, unit=unit)

    def upload(
        self,
        qid: str,
        prompt: str,
        accept: str = ".pdf,.docx,.md,.txt",
        rubric: list[dict] | None = None,
        points: float = 0,
        max_mb: float = 20,
        *,
        unit=None,
    ):
        """File upload (e.g. an issue-based task report), marked by hand."""
        items = _rubric(qid, rubric)
        pts = sum(i["points"] for i in items) if items and not points else points
        return _make(
            "upload",
            qid,
            prompt,
            pts,
            accept=accept,
            rubric=items or None,
            max_mb=float(max_mb),
            unit=unit,
        )


def _rubric(qid: str, rubric: Any, *, texts: bool = True) -> list[dict]:
    """Validated rubric items. ``texts=False``: the texts are kept back in the key cell."""
    items = []
    for n, item in enumerate(rubric or []):
        if not isinstance(item, dict) or (texts and "text" not in item):
            need = "'text' and 'points'" if texts else "'id' and 'points'"
            raise AuthoringError(
                f"question {qid!r}: rubric item {n + 1} must be a dict with {need}"
            )
        if not texts and "text" in item:
            raise AuthoringError(
                f"question {qid!r}: with show_rubric=False the rubric texts would still reach "
                "trainees in this cell's source; give only ids and points here and the texts "
                "in the key cell: key(qid, None, rubric=[{'id': ..., 'text': ...}])"
            )
        pts = item.get("points", 1)
        if not isinstance(pts, int | float) or pts < 0:
            raise AuthoringError(f"question {qid!r}: rubric item {n + 1} needs points ≥ 0")
        items.append(
            {
                "id": str(item.get("id") or f"r{n + 1}"),
                "text": str(item.get("text", "")),
                "points": pts,
            }
        )
    return items


ask = _Ask()


# --------------------------------------------------------------------- keys


def key(qid: str, value: Any, **opts: Any) -> dict | None:
    """Record the key of question `qid` (only in cells tagged ``key``).

    Displays ``application/vnd.casekit.key+json``. Refused inside a trainee
    workbook (an open workbook without ``CASEKIT_MODE``): the refusal shows no
    value and records nothing.
    """
    from kit import workbook

    if not os.environ.get("CASEKIT_MODE") and workbook.current() is not None:
        raise KeyRefused(t("key_refused", _language()))
    if not isinstance(qid, str) or not QID_RE.match(qid):
        raise AuthoringError(f"key: question id {qid!r} is not valid")
    record = {"id": qid, "value": _jsonable(value), **_jsonable(opts)}
    KEYS[qid] = record
    _display({MIME_KEY: record, "text/plain": f"key {qid}: {record['value']!r}"})
    return None


# -------------------------------------------------------------------- tests


@dataclass
class TestCase:
    """A registered `@test` function, re-runnable by a grader."""

    question: str
    name: str
    points: float
    func: Callable[[], Any]
    hidden: bool = False

    __test__ = False  # keep pytest from collecting this class

    def run(self) -> dict:
        """Run the function; return the ``test+json`` record."""
        passed, message = True, ""
        try:
            self.func()
        except AssertionError as exc:
            passed, message = False, str(exc) or "assertion failed"
        except Exception as exc:  # a crashing test fails, it never errors the cell
            passed, message = False, f"{type(exc).__name__}: {exc}"
        return {
            "question": self.question,
            "name": self.name,
            "points": self.points,
            "passed": passed,
            "message": message[:2000],
            "hidden": self.hidden,
        }


TESTS: dict[tuple[str, str], TestCase] = {}
_hidden_flag: list[bool] = []


@contextlib.contextmanager
def hidden_tests(hidden: bool = True) -> Iterator[None]:
    """Mark `@test`s declared inside this block as hidden (for the grader)."""
    _hidden_flag.append(hidden)
    try:
        yield
    finally:
        _hidden_flag.pop()


def _hidden_now() -> bool:
    if _hidden_flag:
        return _hidden_flag[-1]
    return os.environ.get("CASEKIT_HIDDEN_TESTS", "").lower() in ("1", "true", "yes")


def test(qid: str, points: float = 1, name: str | None = None) -> Callable:
    """Decorator: run the test now, display its result, register it.

    ``hidden`` comes from ``CASEKIT_HIDDEN_TESTS=1`` or `hidden_tests()`.
    """

    def decorate(func: Callable[[], Any]) -> Callable[[], Any]:
        case = TestCase(qid, name or func.__name__, points, func, _hidden_now())
        TESTS[(qid, case.name)] = case
        record = case.run()
        mark = "✓" if record["passed"] else "✗"
        plain = f"{mark} {qid} · {case.name} ({points})"
        if not record["passed"] and not record["hidden"]:
            plain += f": {record['message']}"
        _display({MIME_TEST: record, "text/plain": plain})
        return func

    return decorate


def rerun_tests(qid: str | None = None) -> list[dict]:
    """Re-run registered tests (all, or those of `qid`); return their records."""
    return [c.run() for (q, _), c in list(TESTS.items()) if qid is None or q == qid]


# ------------------------------------------------------------ answer cells


def answer_stub(qid: str, language: str = "zh") -> str:
    """Source of the trainee's code answer cell for question `qid`.

    The first line is the marker the runtime looks for when the cell runs.
    """
    hint = {
        "zh": "# 在下面写你的代码，然后按 Shift+Enter 运行（运行即保存）。",
        "en": "# Write your code below, then press Shift+Enter (running saves it).",
    }.get(language, "# ")
    return f"{ANSWER_MARKER.format(qid=qid)}\n{hint}\n"


def code_is_empty(source: str) -> bool:
    """True when code holds nothing but comments and blank lines (an untouched stub)."""
    return not any(ln.strip() and not ln.lstrip().startswith("#") for ln in source.splitlines())


def answer_cell_qid(source: str) -> str | None:
    """The question id of a code answer cell (its first non-empty line), or None."""
    for line in (source or "").splitlines():
        if line.strip():
            m = ANSWER_MARKER_RE.match(line)
            return m.group(1) if m else None
    return None


# ------------------------------------------------------------------ scoring


@dataclass
class Score:
    """The result of scoring one answer."""

    points: float
    max_points: float
    status: str  # correct | partial | wrong | unanswered | needs-marking | ungraded
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def is_unanswered(answer: Any) -> bool:
    """None, empty text, empty list/dict, or a dict of empty fields."""
    if answer is None:
        return True
    if isinstance(answer, str):
        return not answer.strip()
    if isinstance(answer, list | tuple):
        return len(answer) == 0
    if isinstance(answer, dict):
        if answer.get("sha256") or answer.get("name"):  # an upload record
            return False
        return all(is_unanswered(v) for v in answer.values())
    return False


def _key_parts(key: Any) -> tuple[Any, dict]:
    if isinstance(key, dict) and "value" in key:
        return key["value"], key
    return key, {}


def _option_text(spec: dict, value: Any) -> str:
    """Option text of `value` (text or 0-based index), normalised."""
    opts = spec.get("options") or spec.get("items") or []
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(opts):
        value = opts[value]
    return normalise_text(value)


def score(spec: dict, key: dict | None, answer: Any, *, tests: list[dict] | None = None) -> Score:
    """Score `answer` to question `spec` against `key` (``{"id","value",...}``).

    Pure: no widgets, no kernel. ``tests`` (``test+json`` records) decide a
    code question. An unanswered question always scores "unanswered".
    """
    kind = spec.get("kind")
    maxp = float(spec.get("points") or 0)
    if is_unanswered(answer):
        return Score(0.0, maxp, "unanswered")
    if kind == "rating":
        return Score(0.0, 0.0, "ungraded", "rating")
    if kind in ("essay", "observation", "upload"):
        if maxp == 0 and not spec.get("rubric"):
            return Score(0.0, 0.0, "ungraded")
        return Score(0.0, maxp, "needs-marking", "marked by hand against the rubric")
    if kind == "code":
        if not tests:
            return Score(0.0, maxp, "needs-marking", "no test results")
        total = sum(float(r.get("points") or 0) for r in tests)
        got = sum(float(r.get("points") or 0) for r in tests if r.get("passed"))
        n_pass = sum(1 for r in tests if r.get("passed"))
        frac = got / total if total else (1.0 if n_pass == len(tests) else 0.0)
        return _from_fraction(frac, maxp, f"{n_pass}/{len(tests)} tests passed")
    kv, opts = _key_parts(key)
    if key is None or kv is None:
        return Score(0.0, maxp, "ungraded", "no key")
    try:
        if kind == "choice":
            ok = _option_text(spec, answer) == _option_text(spec, kv)
            return Score(maxp if ok else 0.0, maxp, "correct" if ok else "wrong")
        if kind == "multi":
            want = {_option_text(spec, v) for v in (kv if isinstance(kv, list) else [kv])}
            got = {_option_text(spec, v) for v in answer}
            hits, false = len(got & want), len(got - want)
            # Each wrong pick cancels a right one, so ticking everything earns nothing.
            frac = max(0.0, (hits - false) / len(want)) if want else float(not got)
            return _from_fraction(frac, maxp, f"{hits} right, {false} wrong of {len(want)}")
        if kind == "number":
            a = parse_number(answer, spec.get("number_unit"))
            k = float(kv)
            tol = float(opts.get("tolerance", spec.get("tolerance") or 0.0))
            rel = opts.get("rel_tolerance", spec.get("rel_tolerance"))
            ok = _number_ok(a, k, tol, rel)
            return Score(maxp if ok else 0.0, maxp, "correct" if ok else "wrong")
        if kind == "text":
            accepted = kv if isinstance(kv, list) else [kv]
            ok = normalise_text(answer) in {normalise_text(x) for x in accepted}
            return Score(maxp if ok else 0.0, maxp, "correct" if ok else "wrong")
        if kind == "ranking":
            want = [normalise_text(x) for x in kv]
            pos = {normalise_text(x): i for i, x in enumerate(answer)}
            pairs = [(want[i], want[j]) for i in range(len(want)) for j in range(i + 1, len(want))]
            good = sum(1 for a, b in pairs if a in pos and b in pos and pos[a] < pos[b])
            frac = good / len(pairs) if pairs else 1.0
            return _from_fraction(frac, maxp, f"{good}/{len(pairs)} pairs in order")
    except (TypeError, ValueError) as exc:
        return Score(0.0, maxp, "wrong", f"answer not understood: {exc}")
    return Score(0.0, maxp, "ungraded", f"unknown kind {kind!r}")


def _number_ok(a: float, k: float, tol: float, rel: float | None) -> bool:
    if tol == 0 and not rel:
        return math.isclose(a, k, rel_tol=1e-9, abs_tol=1e-12)
    if abs(a - k) <= tol + 1e-12:
        return True
    return bool(rel) and abs(a - k) <= float(rel) * abs(k) + 1e-12


def _from_fraction(frac: float, maxp: float, detail: str) -> Score:
    if frac >= 1.0 - 1e-9:
        return Score(maxp, maxp, "correct", detail)
    if frac <= 0:
        return Score(0.0, maxp, "wrong", detail)
    return Score(round(maxp * frac, 4), maxp, "partial", detail)


# ---------------------------------------------------------- practice hashes


def _h(salt: str, qid: str, text: str) -> str:
    return hashlib.sha256(f"{salt}\x1f{qid}\x1f{text}".encode()).hexdigest()


def _number_buckets(x: float, scheme: str, width: float) -> str:
    if scheme == "exact":
        return format(x, ".9g")
    if scheme == "abs":
        return str(math.floor(x / width))
    if x == 0:
        return "0"
    return ("-" if x < 0 else "+") + str(math.floor(math.log(abs(x)) / width))


def practice_hashes(spec: dict, key: Any, salt: str) -> dict:
    """Salted hashes that let a practice workbook check answers without the key.

    Text-like answers are hashed after `normalise_text`. A number is hashed by
    tolerance bucket (absolute width = tolerance, or logarithmic width for a
    relative tolerance, so the bucket width does not reveal the key); every
    bucket overlapping [key - tol, key + tol] is included, so a right answer is
    always accepted and a near miss within 2×tolerance may be too. Returns ``{}``
    for kinds that cannot be checked automatically.
    """
    kind, qid = spec.get("kind"), spec.get("id", "")
    kv, opts = _key_parts(key)
    if kv is None:
        return {}
    out: dict[str, Any] = {"kind": kind, "salt": salt}
    if kind == "choice":
        out["hashes"] = [_h(salt, qid, _option_text(spec, kv))]
    elif kind == "multi":
        vals = sorted({_option_text(spec, v) for v in (kv if isinstance(kv, list) else [kv])})
        out["hashes"] = [_h(salt, qid, "\x1e".join(vals))]
    elif kind == "text":
        out["hashes"] = sorted(
            {_h(salt, qid, normalise_text(v)) for v in (kv if isinstance(kv, list) else [kv])}
        )
    elif kind == "ranking":
        out["hashes"] = [_h(salt, qid, "\x1e".join(normalise_text(v) for v in kv))]
    elif kind == "number":
        k = float(kv)
        tol = float(opts.get("tolerance", spec.get("tolerance") or 0.0))
        rel = opts.get("rel_tolerance", spec.get("rel_tolerance")) or 0.0
        if tol == 0 and not rel:
            scheme, width, lo, hi = "exact", 0.0, k, k
        elif tol >= rel * abs(k):
            scheme, width, lo, hi = "abs", tol, k - tol, k + tol
        else:
            scheme, width = "log", math.log1p(rel)
            lo, hi = k - rel * abs(k), k + rel * abs(k)
        out.update(scheme=scheme, width=width)
        if scheme == "exact":
            buckets = {_number_buckets(k, scheme, width)}
        elif scheme == "abs":
            buckets = {str(b) for b in range(math.floor(lo / width), math.floor(hi / width) + 1)}
        else:
            buckets = set()
            for end in (lo, hi):
                buckets.add(_number_buckets(end, scheme, width))
            if lo < 0 < hi or k == 0:
                buckets.add("0")
            # The interval may span several log buckets on each side of the key.
            for side in (lo, hi):
                if side != 0 and (side > 0) == (k > 0):
                    a, b = sorted([math.log(abs(side)) / width, math.log(abs(k)) / width])
                    sign = "-" if k < 0 else "+"
                    buckets.update(sign + str(i) for i in range(math.floor(a), math.floor(b) + 1))
        out["hashes"] = sorted(_h(salt, qid, b) for b in buckets)
    else:
        return {}
    return out


def practice_check(spec: dict, hashes: dict, answer: Any) -> bool | None:
    """Check `answer` against `practice_hashes` output; None if not checkable."""
    if not hashes or not hashes.get("hashes") or is_unanswered(answer):
        return None
    kind, qid, salt = spec.get("kind"), spec.get("id", ""), hashes.get("salt", "")
    try:
        if kind in ("choice", "text"):
            text = _option_text(spec, answer) if kind == "choice" else normalise_text(answer)
        elif kind == "multi":
            text = "\x1e".join(sorted({_option_text(spec, v) for v in answer}))
        elif kind == "ranking":
            text = "\x1e".join(normalise_text(v) for v in answer)
        elif kind == "number":
            a = parse_number(answer, spec.get("number_unit"))
            text = _number_buckets(a, hashes["scheme"], hashes["width"])
        else:
            return None
    except (TypeError, ValueError):
        return False
    return _h(salt, qid, text) in set(hashes["hashes"])


# -------------------------------------------------------------- rendering


def _unit_name(spec: dict, lang: str) -> str:
    unit = spec.get("unit")
    if spec.get("unit_name"):
        return str(spec["unit_name"])
    if unit in UNIT_COLOURS:
        return t(f"unit_{unit}", lang)
    return str(unit or "")


def _fmt_answer(spec: dict, answer: Any) -> str:
    kind = spec.get("kind")
    if kind == "multi" or kind == "ranking":
        return "；".join(str(a) for a in answer)
    if kind == "observation" and isinstance(answer, dict):
        return "\n".join(f"{k}: {v}" for k, v in answer.items() if str(v).strip())
    if kind == "upload" and isinstance(answer, dict):
        return f"{answer.get('name', '')} ({answer.get('size', '?')} B)"
    return str(answer)


def render_plain(spec: dict, lang: str = "zh") -> str:
    """One-paragraph text rendering of a question."""
    head = f"[{t('kind_' + spec['kind'], lang)} {spec['id']}] {spec['prompt']}"
    opts = spec.get("options") or spec.get("items") or []
    lines = [head] + [f"  {chr(65 + i) if i < 26 else i + 1}. {o}" for i, o in enumerate(opts)]
    return "\n".join(lines)


def render_html(spec: dict, answer: Any = None, lang: str = "zh") -> str:
    """Static, fully escaped HTML of a question (for handouts and feedback)."""
    e = html.escape
    colour = spec.get("colour") or UNIT_COLOURS.get(str(spec.get("unit") or ""), "#555")
    kind = spec.get("kind", "")
    meta = [t("kind_" + kind, lang)]
    if spec.get("points"):
        meta.append(t("points", lang, n=_num(spec["points"])))
    if spec.get("unit"):
        meta.append(_unit_name(spec, lang))
    meta.append(spec.get("id", ""))
    parts = [
        f'<div class="casekit-question casekit-kind-{e(kind)}" data-qid="{e(spec.get("id", ""))}" '
        f'style="border-left:6px solid {e(colour)};padding:.6em 1em;margin:1em 0;'
        f'font-size:1.05em;line-height:1.6;break-inside:avoid">',
        f'<div style="font-size:.85em;color:#555">{e(" · ".join(meta))}</div>',
        f'<div class="casekit-prompt" style="font-weight:600">{_br(spec.get("prompt", ""))}</div>',
    ]
    answered = not is_unanswered(answer)
    if kind in ("choice", "multi"):
        chosen = set()
        if answered:
            chosen = {normalise_text(a) for a in (answer if kind == "multi" else [answer])}
        mark_on, mark_off = ("●", "○") if kind == "choice" else ("☑", "☐")
        parts.append('<ul style="list-style:none;padding-left:.5em">')
        for o in spec.get("options", []):
            m = mark_on if normalise_text(o) in chosen else mark_off
            parts.append(f"<li>{m} {e(o)}</li>")
        parts.append("</ul>")
        answered = False  # already shown by the marks
    elif kind == "ranking":
        items = answer if answered else spec.get("items", [])
        parts.append("<ol>" + "".join(f"<li>{e(str(i))}</li>" for i in items) + "</ol>")
        if not answered:
            parts.append(f'<div style="color:#777">{e(t("rank_hint", lang))}</div>')
        answered = False
    elif kind == "number" and spec.get("number_unit"):
        parts.append(f'<div style="color:#555">（{e(spec["number_unit"])}）</div>')
    elif kind == "rating":
        labels = spec.get("labels") or [str(i) for i in range(1, spec.get("scale", 5) + 1)]
        parts.append(
            '<div style="color:#555">'
            + " ".join(
                f"[{i + 1}] {e(lab)}" if spec.get("labels") else f"[{e(lab)}]"
                for i, lab in enumerate(labels)
            )
            + "</div>"
        )
    elif kind == "observation":
        names = [
            t("field_" + f, lang) if f in DEFAULT_OBSERVATION_FIELDS else f
            for f in spec.get("fields", [])
        ]
        if not answered:
            parts.append("<ul>" + "".join(f"<li>{e(n)}：</li>" for n in names) + "</ul>")
    elif kind == "upload":
        parts.append(f'<div style="color:#555">{e(spec.get("accept", ""))}</div>')
    rubric = spec.get("rubric")
    if rubric and (kind != "essay" or spec.get("show_rubric", True)):
        parts.append(f'<div style="margin-top:.4em"><b>{e(t("rubric", lang))}</b><ul>')
        for item in rubric:
            parts.append(
                f"<li>{e(item.get('text', item.get('id', '')))} ({_num(item['points'])})</li>"
            )
        parts.append("</ul></div>")
    if answered:
        parts.append(
            f'<div class="casekit-answer" style="margin-top:.4em;padding:.4em .6em;background:#f6f6f6;'
            f'white-space:pre-wrap"><b>{e(t("your_answer", lang))}：</b>{e(_fmt_answer(spec, answer))}</div>'
        )
    parts.append("</div>")
    return "".join(parts)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _br(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


# ------------------------------------------------------------------ widgets

# One style block per view: JupyterLab keeps widget HTML unsanitised, and
# repeating it is harmless; it enlarges text and focus rings for readers who
# are not used to small notebook fonts.
WIDGET_CSS = """<style>
.casekit-q { font-size: 17px; line-height: 1.6; border-left: 6px solid var(--ck-colour, #555);
  padding: 8px 14px; margin: 10px 0; max-width: 52em; }
.casekit-q .widget-label, .casekit-q label, .casekit-q input, .casekit-q textarea,
.casekit-q button, .casekit-q .widget-html-content { font-size: 17px !important; }
.casekit-q .widget-radio-box label, .casekit-q .widget-checkbox label { line-height: 1.9; }
.casekit-q input[type=radio], .casekit-q input[type=checkbox] { width: 18px; height: 18px; }
.casekit-q textarea { line-height: 1.6; }
.casekit-q button:focus-visible, .casekit-q input:focus-visible, .casekit-q textarea:focus-visible
  { outline: 3px solid #1565c0; outline-offset: 2px; }
.casekit-q .casekit-status { color: #555; font-size: 15px; }
.casekit-q .casekit-error { color: #c0392b; font-weight: 600; }
</style>"""


class QuestionView:
    """A live widget for one question, bound to a runtime (answer store).

    Attributes tests and the runtime use: ``box`` (the displayed VBox),
    ``inputs`` (kind-specific input widgets), ``status`` and ``message`` (HTML),
    ``check_button`` and ``feedback`` (practice mode only).
    """

    def __init__(self, spec: dict, runtime: Any):
        import ipywidgets as w

        self.w = w
        self.spec = spec
        self.qid = spec["id"]
        self.kind = spec["kind"]
        self.runtime = runtime
        self.lang = runtime.language
        self.inputs: dict[str, Any] = {}
        self.message = w.HTML(value="")
        self.status = w.HTML(value="")
        self.check_button = None
        self.feedback = None
        runtime.register(spec)
        entry, warning = runtime.lookup(self.qid, spec)
        self.entry = entry
        value = None if entry is None else entry.get("value")
        body = getattr(self, f"_build_{self.kind}")(value)
        header = w.HTML(value=self._header_html())
        children = [w.HTML(value=WIDGET_CSS), header, *body]
        hashes = (runtime.practice or {}).get(self.qid) if runtime.mode == "practice" else None
        if hashes:
            self.check_button = w.Button(description=t("check", self.lang), icon="check")
            self.check_button.tooltip = t("check", self.lang)
            self.feedback = w.HTML(value="")
            self.check_button.on_click(lambda _b: self.check())
            children.append(w.HBox([self.check_button, self.feedback]))
        children += [self.message, self.status]
        self.box = w.VBox(children)
        self.box.add_class("casekit-q")
        self.box.add_class(f"casekit-q-{self.qid}")
        colour = spec.get("colour") or UNIT_COLOURS.get(str(spec.get("unit") or ""), "#555")
        self.box.layout.border_left = f"6px solid {colour}"
        self.status.add_class("casekit-status")
        if warning:
            self._error(warning)
        self._show_status()
        runtime.subscribe(self.qid, self._on_external)
        if hasattr(runtime, "follow_live"):  # live class (#12): closed / revealed on the widget
            runtime.follow_live(self)

    # ---- helpers
    def _header_html(self) -> str:
        e, spec = html.escape, self.spec
        meta = [t("kind_" + self.kind, self.lang)]
        if spec.get("points"):
            meta.append(t("points", self.lang, n=_num(spec["points"])))
        if spec.get("unit"):
            meta.append(_unit_name(spec, self.lang))
        return (
            f'<div style="font-size:14px;color:#555">{e(" · ".join(meta))} · {e(self.qid)}</div>'
            f'<div style="font-weight:600;font-size:18px" id="casekit-prompt-{e(self.qid)}">'
            f"{_br(spec['prompt'])}</div>"
        )

    def _label(self, text: str) -> Any:
        return self.w.HTML(value=f"<b>{html.escape(text)}</b>")

    def _error(self, text: str) -> None:
        self.message.value = f'<div class="casekit-error" role="alert">⚠ {html.escape(text)}</div>'

    def _clear_error(self) -> None:
        self.message.value = ""

    def _show_status(self) -> None:
        entry = self.entry
        if self.runtime.readonly:
            text = t("store_readonly", self.lang)
        elif entry is None or is_unanswered(entry.get("value")):
            text = t("unanswered", self.lang)
        else:
            stamp = _local_time(entry.get("at"))
            text = t("code_saved" if self.kind == "code" else "saved", self.lang, time=stamp)
            if not self.runtime.persistent:
                text += " · " + t("not_saved", self.lang)
        self.status.value = (
            f'<span class="casekit-status" aria-live="polite">{html.escape(text)}</span>'
        )

    def save(self, value: Any, **extra: Any) -> None:
        """Store `value` now (None = the trainee cleared the answer)."""
        try:
            self.entry = self.runtime.save(self.qid, value, self.kind, **extra)
        except Exception as exc:  # a failed write must be visible, never silent
            self._error(str(exc))
            return
        if self.feedback is not None:
            self.feedback.value = ""
        self._show_status()

    def _on_external(self, entry: dict) -> None:
        self.entry = entry
        self._show_status()

    def current(self) -> Any:
        """The stored answer value, or None."""
        return None if self.entry is None else self.entry.get("value")

    def check(self) -> bool | None:
        """Practice mode: compare the stored answer with the salted hashes."""
        hashes = (self.runtime.practice or {}).get(self.qid)
        result = practice_check(self.spec, hashes or {}, self.current())
        if self.feedback is not None:
            if self.current() is None:
                msg, colour = t("check_none", self.lang), "#555"
            elif result is None:
                msg, colour = t("check_unavailable", self.lang), "#555"
            elif result:
                msg, colour = t("check_right", self.lang), "#2e7d32"
            else:
                msg, colour = t("check_wrong", self.lang), "#c0392b"
            self.feedback.value = f'<span role="status" style="color:{colour};font-weight:600">{html.escape(msg)}</span>'
        return result

    # ---- kinds
    def _build_choice(self, value: Any) -> list:
        w = self.w
        opts = self.spec["options"]
        index = opts.index(value) if value in opts else None
        if value is not None and index is None:
            self._error(t("store_warning", self.lang, file="", qid=self.qid, why=repr(value)))
        # index=None: nothing is selected until the trainee picks (no default answer).
        radio = w.RadioButtons(options=opts, index=index, layout=w.Layout(width="auto"))
        radio.description = ""
        self.inputs["radio"] = radio

        def changed(change: dict) -> None:
            if change["new"] is not None:
                self.save(change["new"])

        radio.observe(changed, "value")
        return [self._label(t("choose_one", self.lang)), radio]

    def _build_multi(self, value: Any) -> list:
        w = self.w
        chosen = set(value or [])
        boxes = [
            w.Checkbox(
                value=o in chosen, description=o, indent=False, layout=w.Layout(width="auto")
            )
            for o in self.spec["options"]
        ]
        self.inputs["checkboxes"] = boxes

        def changed(_change: dict) -> None:
            picked = [b.description for b in boxes if b.value]
            self.save(picked or None)

        for b in boxes:
            b.observe(changed, "value")
        return [self._label(t("choose_any", self.lang)), *boxes]

    def _build_number(self, value: Any) -> list:
        w = self.w
        raw = ""
        if self.entry is not None and value is not None:
            raw = str(self.entry.get("raw") or _num(value))
        box = w.Text(
            value=raw,
            placeholder=t("number_placeholder", self.lang),
            description=t("your_answer", self.lang),
            continuous_update=True,
            layout=w.Layout(width="28em"),
            style={"description_width": "initial"},
        )
        self.inputs["text"] = box

        def changed(change: dict) -> None:
            text = change["new"].strip()
            if not text:
                self._clear_error()
                if self.current() is not None:
                    self.save(None)
                return
            try:
                number = parse_number(text, self.spec.get("number_unit"))
            except ValueError:
                # A lone sign or dot is a number being typed, not an error yet.
                if text not in ("-", "+", ".", "-.", "+.", "－", "．"):
                    self._error(t("invalid_number", self.lang, text=text))
                return
            self._clear_error()
            self.save(number, raw=text)

        box.observe(changed, "value")
        parts = [box]
        if self.spec.get("number_unit"):
            parts.append(w.Label(value=self.spec["number_unit"]))
        return [w.HBox(parts)]

    def _build_text(self, value: Any) -> list:
        w = self.w
        box = w.Text(
            value=value or "",
            placeholder=t("text_placeholder", self.lang),
            description=t("your_answer", self.lang),
            continuous_update=True,
            layout=w.Layout(width="100%"),
            style={"description_width": "initial"},
        )
        self.inputs["text"] = box
        limit = int(self.spec.get("max_length") or 0)

        def changed(change: dict) -> None:
            text = change["new"]
            # Keep what was typed even when too long: losing text is worse.
            if limit and len(text) > limit:
                self._error(t("too_long", self.lang, n=limit, m=len(text)))
            else:
                self._clear_error()
            self.save(text if text.strip() else None)

        box.observe(changed, "value")
        return [box]

    def _build_essay(self, value: Any) -> list:
        w = self.w
        area = w.Textarea(
            value=value or "",
            placeholder=t("essay_placeholder", self.lang),
            description=t("your_answer", self.lang),
            continuous_update=True,
            rows=10,
            layout=w.Layout(width="100%"),
            style={"description_width": "initial"},
        )
        self.inputs["textarea"] = area
        counter = w.HTML()
        min_chars = int(self.spec.get("min_chars") or 0)

        def count(text: str) -> None:
            n = len(text.strip())
            key = "min_chars" if min_chars else "chars"
            counter.value = f'<span class="casekit-status">{html.escape(t(key, self.lang, n=n, min=min_chars))}</span>'

        def changed(change: dict) -> None:
            count(change["new"])
            self.save(change["new"] if change["new"].strip() else None)

        count(area.value)
        area.observe(changed, "value")
        out = [area, counter]
        if self.spec.get("show_rubric", True) and self.spec.get("rubric"):
            items = "".join(
                f"<li>{html.escape(i.get('text', i['id']))}（{_num(i['points'])}）</li>"
                for i in self.spec["rubric"]
            )
            out.append(
                w.HTML(
                    value=f"<details><summary>{html.escape(t('rubric', self.lang))}</summary><ul>{items}</ul></details>"
                )
            )
        return out

    def _build_ranking(self, value: Any) -> list:
        w = self.w
        items = list(self.spec["items"])
        order = list(value) if value and sorted(value) == sorted(items) else list(items)
        if value and sorted(value) != sorted(items):
            self._error(t("store_warning", self.lang, file="", qid=self.qid, why="items changed"))
        self.order = order
        labels = [w.HTML() for _ in items]
        rows = []
        self.inputs["up"], self.inputs["down"] = [], []
        for i in range(len(items)):
            up = w.Button(
                description="↑",
                tooltip=f"{t('up', self.lang)} · {t('position', self.lang, n=i + 1)}",
                disabled=i == 0,
                layout=w.Layout(width="3.2em"),
            )
            down = w.Button(
                description="↓",
                tooltip=f"{t('down', self.lang)} · {t('position', self.lang, n=i + 1)}",
                disabled=i == len(items) - 1,
                layout=w.Layout(width="3.2em"),
            )
            up.on_click(lambda _b, i=i: self.move(i, -1))
            down.on_click(lambda _b, i=i: self.move(i, +1))
            self.inputs["up"].append(up)
            self.inputs["down"].append(down)
            rows.append(w.HBox([up, down, labels[i]]))
        self._rank_labels = labels
        confirm = w.Button(
            description=t("rank_confirm", self.lang), icon="check", layout=w.Layout(width="auto")
        )
        confirm.on_click(lambda _b: self.save(list(self.order)))
        self.inputs["confirm"] = confirm
        self._draw_ranking()
        return [self._label(t("rank_hint", self.lang)), *rows, confirm]

    def _draw_ranking(self) -> None:
        for i, (lab, item) in enumerate(zip(self._rank_labels, self.order, strict=True)):
            lab.value = f"<span style='font-size:17px'>{i + 1}. {html.escape(item)}</span>"

    def move(self, position: int, step: int) -> None:
        """Ranking: move the item at `position` up (-1) or down (+1) and save."""
        j = position + step
        if 0 <= j < len(self.order):
            self.order[position], self.order[j] = self.order[j], self.order[position]
            self._draw_ranking()
            self.save(list(self.order))

    def _build_code(self, value: Any) -> list:
        w = self.w
        if not in_voila():
            return [
                w.HTML(
                    value=f'<div class="casekit-status">{html.escape(t("code_hint", self.lang, qid=self.qid))}</div>'
                )
            ]
        # casekit hub (#11): Voilà shows no cell sources, so the answer cell becomes an editor
        # that runs in this kernel like the cell would and saves what ran (the store is the truth)
        area = w.Textarea(
            value=value or "",
            placeholder=t("code_placeholder", self.lang),
            rows=8,
            layout=w.Layout(width="100%"),
        )
        area.add_class("casekit-code")
        run = w.Button(description=t("code_run", self.lang), icon="play", button_style="primary")
        output = w.Output()
        self.inputs.update(code=area, run=run)

        def go(_b: Any) -> None:
            source = area.value
            output.clear_output()
            ip = _ipython()
            if ip is not None and not code_is_empty(source):
                with output:
                    ip.run_cell(source, store_history=False)
            self.save(None if code_is_empty(source) else source)
            results = rerun_tests(self.qid)
            if results:
                lines = "".join(
                    f"<div>{'✓' if r['passed'] else '✗'} {html.escape(str(r['name']))}</div>"
                    for r in results
                    if not r.get("hidden")
                )
                with output:
                    from IPython.display import HTML, display

                    display(HTML(lines))

        run.on_click(go)
        return [area, run, output]

    def _build_rating(self, value: Any) -> list:
        w = self.w
        scale = int(self.spec.get("scale") or 5)
        labels = self.spec.get("labels") or [str(i) for i in range(1, scale + 1)]
        options = [
            (lab if self.spec.get("labels") else str(i + 1), i + 1) for i, lab in enumerate(labels)
        ]
        index = value - 1 if isinstance(value, int) and 1 <= value <= scale else None
        toggles = w.ToggleButtons(
            options=options,
            index=index,
            tooltips=[str(i + 1) for i in range(scale)],
            style={"button_width": "auto"},
        )
        self.inputs["toggles"] = toggles

        def changed(change: dict) -> None:
            if change["new"] is not None:
                self.save(int(change["new"]))

        toggles.observe(changed, "value")
        about = t("rating_about_" + str(self.spec.get("about", "session")), self.lang)
        hint = t("rating_hint", self.lang, n=scale)
        return [self._label(f"{about}（{hint}）"), toggles]

    def _build_observation(self, value: Any) -> list:
        w = self.w
        value = value if isinstance(value, dict) else {}
        out, areas = [], {}
        for f in self.spec["fields"]:
            name = t("field_" + f, self.lang) if f in DEFAULT_OBSERVATION_FIELDS else f
            area = w.Textarea(
                value=str(value.get(f) or ""),
                description=name,
                rows=3,
                continuous_update=True,
                layout=w.Layout(width="100%"),
                style={"description_width": "8em"},
            )
            areas[f] = area
            out.append(area)
        self.inputs.update(areas)

        def changed(_change: dict) -> None:
            record = {f: a.value for f, a in areas.items()}
            self.save(None if is_unanswered(record) else record)

        for a in areas.values():
            a.observe(changed, "value")
        return out

    def _build_upload(self, value: Any) -> list:
        w = self.w
        up = w.FileUpload(
            accept=self.spec.get("accept") or "",
            multiple=False,
            description=t("upload_button", self.lang),
            layout=w.Layout(width="auto"),
        )
        self.inputs["upload"] = up
        up.observe(lambda change: self.receive_upload(change["new"]), "value")
        return [up]

    def receive_upload(self, files: Any) -> None:
        """Save an uploaded file beside the store and record name/size/sha256."""
        if not files:
            return
        item = files[0]
        name = str(item.get("name") or "upload")
        content = bytes(item.get("content") or b"")
        max_mb = float(self.spec.get("max_mb") or 20)
        if len(content) > max_mb * 1024 * 1024:
            self._error(
                t(
                    "upload_too_big",
                    self.lang,
                    name=name,
                    size=_size(len(content)),
                    max=_num(max_mb),
                )
            )
            return
        accept = [
            a.strip().lower() for a in str(self.spec.get("accept") or "").split(",") if a.strip()
        ]
        if accept and not any(name.lower().endswith(a) for a in accept if a.startswith(".")):
            self._error(t("upload_bad_type", self.lang, name=name, accept=self.spec.get("accept")))
            return
        try:
            record = self.runtime.save_file(self.qid, name, content)
        except Exception as exc:
            self._error(str(exc))
            return
        self._clear_error()
        self.save(record)
        self.status.value += f' <span class="casekit-status">{html.escape(t("upload_saved", self.lang, name=record["name"], size=_size(record["size"])))}</span>'


def build_view(spec: dict, runtime: Any) -> QuestionView:
    """Build a live widget view of `spec` bound to `runtime`."""
    return QuestionView(spec, runtime)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def _local_time(iso: Any) -> str:
    try:
        return datetime.fromisoformat(str(iso)).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return str(iso or "")


def spec_json(spec: dict) -> str:
    """Canonical JSON of a spec (sorted keys), e.g. for checksums."""
    return json.dumps(spec, ensure_ascii=False, sort_keys=True)
