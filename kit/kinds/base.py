"""What every question kind declares, and the helpers kinds share.

A kind is one object (a subclass of :class:`Kind`) that says everything casekit
needs to know about one kind of question: how an author declares it
(``declare``, behind ``ask.<kind>``), when an answer is empty, whether a value
can be an answer, how it is scored, how it is checked in practice mode, how it
is shown in handouts and feedback, and its live widget. Its flags say what the
rest of casekit does with it (see :class:`Kind`). Nothing here imports a
widget library or a kernel: ``widget`` receives the view that holds them.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple, Required, TypedDict, cast

from kit.artifacts import JudgedTest
from kit.messages import t
from kit.numbers import num as num
from kit.numbers import parse_number as parse_number

#: Options ``key(qid, value, ...)`` takes for every kind (a kind adds its own: ``Kind.key_options``):
#: the explanation a feedback page may show, when it may, and a note for the instructor's eyes.
KEY_OPTIONS = ("explain", "reveal", "note")

# Score statuses of one answer.
CORRECT = "correct"
PARTIAL = "partial"
WRONG = "wrong"
UNANSWERED = "unanswered"
NEEDS_MARKING = "needs-marking"
UNGRADED = "ungraded"  # a keyed kind without a key
ANSWERED = "answered"  # answered, and there is nothing to score (a rating, a 0-point log)

#: A question id: lower-case letters, digits and '-', unique in its notebook.
QID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")

# Default colour units (DESIGN.md "Four colour units"); a course may configure
# others, in which case the notebook's `unit_colour` parameter wins.
UNIT_COLOURS = {"red": "#c0392b", "green": "#2e7d32", "blue": "#1565c0", "gold": "#b8860b"}


# ---------------------------------------------------------------- records
# A question's spec (MIME_QUESTION, keys.json), its key (MIME_KEY, keys.json) and its
# practice hashes (``<session>.practice.json``) are JSON objects: a TypedDict names
# their fields for the type checker and leaves the JSON as it is; ``total=False``
# because they are read back from files, where a reader checks what it needs.


class RubricItem(TypedDict, total=False):
    """One criterion of a question marked by hand: its id, its text (when shown), its points."""

    id: Required[str]
    text: str
    points: float


class QuestionFields(TypedDict, total=False):
    """The fields a kind declares for a question (:meth:`Kind.declare`).

    A kind a course registers may add fields of its own.
    """

    unit: str | None  # the colour unit (red, green, ...); a course may name its own
    optional: bool  # never blocks completion
    options: list[str]  # choice, multi
    items: list[str]  # ranking
    language: str  # code
    number_unit: str | None  # number: the measurement unit shown beside the input
    tolerance: float
    rel_tolerance: float | None
    max_length: int  # text
    rubric: list[RubricItem] | None  # essay, observation, upload
    min_chars: int  # essay
    show_rubric: bool
    fields: list[str]  # observation
    accept: str  # upload
    max_mb: float
    scale: int  # rating
    about: str
    labels: list[str] | None


class QuestionSpec(QuestionFields, total=False):
    """A question as ``ask.<kind>(...)`` declares it: what the notebook displays and keys.json lists.

    ``id``, ``kind``, ``prompt``, ``points`` and ``unit`` frame every question,
    beside the fields its kind declares. The build adds ``cell``, the index of
    the cell that asked it. Never holds the key.
    """

    id: Required[str]
    kind: str
    prompt: str
    points: float
    colour: str
    unit_name: str
    cell: int


class KeyOptions(TypedDict, total=False):
    """What ``key(qid, value, ...)`` may say besides the value (see ``kinds.key_options``)."""

    explain: str
    reveal: str
    note: str
    tolerance: float  # number
    rel_tolerance: float | None
    rubric: list[RubricItem]  # the rubric's texts, kept out of the trainee's edition


class KeyRecord(KeyOptions, total=False):
    """The key of one question as ``key()`` displays it (MIME_KEY) and keys.json keeps it."""

    id: Required[str]
    value: Required[Any]


class PracticeHashes(TypedDict, total=False):
    """What lets a practice workbook check one answer without its key (``<session>.practice.json``).

    The salted hashes of the texts that are right; a number adds how it
    buckets answers (``scheme``, ``width``), so the bucket tells nothing of the key.
    """

    kind: str | None
    salt: str
    hashes: list[str]
    scheme: str
    width: float


class AuthoringError(ValueError):
    """A question declared wrongly; the message says what to fix.

    Shown without a traceback in IPython (`_render_traceback_`), because the
    reader is an instructor, not a programmer.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"casekit: {self}"]


@dataclass
class Score:
    """The result of scoring one answer."""

    points: float
    max_points: float
    status: str  # correct | partial | wrong | unanswered | needs-marking | ungraded | answered
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Declared(NamedTuple):
    """What ``Kind.declare`` makes of an ``ask.<kind>(...)`` call."""

    qid: str
    prompt: str
    points: float
    fields: QuestionFields


# ---------------------------------------------------------------- shared helpers


def jsonable(value: Any) -> Any:
    """Turn numpy/pandas scalars and containers into plain JSON types."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, str | bool | int | float | type(None)):
        return value
    if hasattr(value, "tolist"):  # numpy arrays and pandas Series/Index
        return jsonable(value.tolist())
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return str(value)


def normalise_text(value: Any) -> str:
    """Normalise a short answer for comparison.

    NFKC folds full-width letters, digits and punctuation to half-width;
    then casefold, strip, and collapse runs of whitespace to one space.
    """
    s = unicodedata.normalize("NFKC", str(value))
    s = s.casefold().strip()
    return re.sub(r"\s+", " ", s)


# Control characters a trainee cannot type into a widget: C0 but tab and line breaks, DEL, C1.
# They break exports (a spreadsheet cell refuses NUL) and hide text on pages.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def without_controls(value: Any) -> Any:
    """``value`` with control characters removed from every text in it (lists and dicts walked)."""
    if isinstance(value, str):
        return _CONTROLS.sub("", value)
    if isinstance(value, list):
        return [without_controls(v) for v in value]
    if isinstance(value, dict):
        return {without_controls(k): without_controls(v) for k, v in value.items()}
    return value


def key_parts(key: Any) -> tuple[Any, KeyOptions]:
    """(value, options) of a key record ``{"id", "value", ...options}`` (or a bare value)."""
    if isinstance(key, dict) and "value" in key:
        return key["value"], cast(KeyRecord, key)
    return key, {}


def option_text(spec: QuestionSpec, value: Any) -> str:
    """Option text of `value` (text or 0-based index), normalised."""
    opts = spec.get("options") or spec.get("items") or []
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(opts):
        value = opts[value]
    return normalise_text(value)


def from_fraction(frac: float, maxp: float, detail: str) -> Score:
    """A score from the fraction of the points earned."""
    if frac >= 1.0 - 1e-9:
        return Score(maxp, maxp, CORRECT, detail)
    if frac <= 0:
        return Score(0.0, maxp, WRONG, detail)
    return Score(round(maxp * frac, 4), maxp, PARTIAL, detail)


def salted(salt: str, qid: str, text: str) -> str:
    """One practice hash: the key never leaves the instructor side, only this."""
    return hashlib.sha256(f"{salt}\x1f{qid}\x1f{text}".encode()).hexdigest()


def br(text: str) -> str:
    """Escaped text with its line breaks kept."""
    return html.escape(text).replace("\n", "<br>")


def check_options(qid: str, options: Any, what: str = "options") -> list[str]:
    """Options (or items) of a question: at least two, all different."""
    opts = [str(o) for o in jsonable(list(options or []))]
    if len(opts) < 2:
        raise AuthoringError(t("author.too_few", qid=qid, what=t(f"author.word_{what}")))
    if len(set(opts)) != len(opts):
        raise AuthoringError(t("author.not_different", qid=qid, what=t(f"author.word_{what}")))
    return opts


def check_rubric(qid: str, rubric: Any, *, texts: bool = True) -> list[RubricItem]:
    """Validated rubric items. ``texts=False``: the texts are kept back in the key cell."""
    items: list[RubricItem] = []
    for n, item in enumerate(rubric or []):
        if not isinstance(item, dict) or (texts and "text" not in item):
            which = "author.rubric_item" if texts else "author.rubric_item_ids"
            raise AuthoringError(t(which, qid=qid, n=n + 1))
        if not texts and "text" in item:
            raise AuthoringError(t("author.rubric_hidden_texts", qid=qid))
        pts = item.get("points", 1)
        if not isinstance(pts, int | float) or pts < 0:
            raise AuthoringError(t("author.rubric_points", qid=qid, n=n + 1))
        items.append(
            {
                "id": str(item.get("id") or f"r{n + 1}"),
                "text": str(item.get("text", "")),
                "points": pts,
            }
        )
    return items


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return len(value) == 0
    if isinstance(value, dict):
        return all(_empty(v) for v in value.values())
    return False


# ---------------------------------------------------------------- the kind


class Kind:
    """One kind of question. Subclasses override what differs; the flags say what it is.

    keyed      scored against a key the author records with ``key()``
    manual     marked by hand against a rubric (``casekit mark``)
    tested     answered in its own code cell and scored by the author's tests
    graded     counts towards a score (a rating does not)
    rated      an evaluation rating (the cohort report aggregates it)
    free_text  a free-text answer (the report pairs ``<id>-comment`` answers with ratings)
    files      the answer is an uploaded file kept in the submission
    extra      a deliberation may add it as an extra question
    requires_rubric  the author must give a rubric
    options_field    the spec field listing what the trainee picks from, if any
    """

    name: str = ""
    keyed: bool = False
    manual: bool = False
    tested: bool = False
    graded: bool = True
    rated: bool = False
    free_text: bool = False
    files: bool = False
    extra: bool = False
    requires_rubric: bool = False
    options_field: str | None = None
    #: Messages the kind brings to the catalogue (kit.messages), e.g. its label
    #: ``{"zh": {"kind_poll": "投票"}, "en": {"kind_poll": "Poll"}}``; the catalogue's own entries win.
    messages: dict[str, dict[str, str]] = {}

    #: What ``key(qid, value, ...)`` may say for this kind besides :data:`KEY_OPTIONS`.
    key_options: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"<question kind {self.name!r}>"

    # ---- authoring
    def declare(self, qid: str, prompt: str, *args: Any, **kwargs: Any) -> Declared:
        """Turn an ``ask.<kind>(...)`` call into points and spec fields (raise AuthoringError)."""
        raise NotImplementedError(self.name)

    def key_problem(self, spec: QuestionSpec, value: Any, opts: KeyOptions) -> str | None:
        """Why `value` (with the key's options `opts`) cannot be the key of `spec`, or None.

        The shape of a key, declared by its kind: ``check`` asks it of a key
        written as a literal, the build of every key a notebook computed, so a
        key no trainee can earn never reaches grading. Text in the current language.
        """
        return None

    # ---- answers
    def read(self, spec: QuestionSpec, value: Any) -> Any:
        """An answer as a person typed it (an answers file, a sheet), read into the value stored.

        The identity, but for kinds whose answers people type as text (a number: ``８１.０``).
        """
        return value

    def is_empty(self, value: Any) -> bool:
        """True when `value` is no answer: None, blank text, an empty list, a record of blanks."""
        return _empty(value)

    def valid(self, spec: QuestionSpec, value: Any) -> str | None:
        """Why `value` cannot be an answer to `spec` (a stored answer read back), or None.

        The reason is a message key (``valid.*`` in :mod:`kit.messages`), so the
        workbook says it in its own language; plain text is shown as it is.
        """
        return None

    # ---- scoring
    def max_points(self, spec: QuestionSpec) -> float:
        return float(spec.get("points") or 0)

    def score(
        self,
        spec: QuestionSpec,
        key: KeyRecord | None,
        answer: Any,
        *,
        tests: list[JudgedTest] | None = None,
        run_error: str | None = None,
    ) -> Score:
        """Score `answer` to `spec`: the one function the grader calls and the tests test.

        Pure: no widgets, no kernel. An empty answer always scores "unanswered".
        ``tests`` (judged ``test+json`` records) and ``run_error`` are for kinds
        scored by tests.
        """
        maxp = self.max_points(spec)
        if self.is_empty(answer):
            return Score(0.0, maxp, UNANSWERED)
        return self.score_answer(spec, key, answer, maxp, tests=tests, run_error=run_error)

    def score_answer(
        self,
        spec: QuestionSpec,
        key: KeyRecord | None,
        answer: Any,
        maxp: float,
        *,
        tests: list[JudgedTest] | None = None,
        run_error: str | None = None,
    ) -> Score:
        """Score an answer that is not empty."""
        return Score(0.0, maxp, UNGRADED, t("score.unknown_kind", kind=spec.get("kind")))

    # ---- practice mode
    def practice_hashes(
        self, spec: QuestionSpec, key: KeyRecord | None, salt: str
    ) -> PracticeHashes:
        """Salted hashes that let a practice workbook check an answer without the key; {} if not checkable."""
        return {}

    def practice_check(
        self, spec: QuestionSpec, hashes: PracticeHashes, answer: Any
    ) -> bool | None:
        """Check `answer` against :meth:`practice_hashes` output; None if not checkable."""
        return None

    # ---- rendering
    def plain_lines(self, spec: QuestionSpec) -> list[str]:
        """Lines under the prompt in the text/plain rendering (options, items)."""
        opts: Any = spec.get(self.options_field or "", None) or []  # the kind names the field
        return [f"  {chr(65 + i) if i < 26 else i + 1}. {o}" for i, o in enumerate(opts)]

    def static_html(
        self, spec: QuestionSpec, answer: Any, answered: bool, lang: str
    ) -> tuple[list[str], bool]:
        """Kind-specific HTML under the prompt (escaped), and whether the answer box is still to show."""
        return [], answered

    def shows_rubric(self, spec: QuestionSpec) -> bool:
        return bool(spec.get("rubric"))

    def answer_text(self, spec: QuestionSpec, answer: Any) -> str:
        """The answer as plain text (handouts)."""
        return str(answer)

    def answer_html(self, value: Any, spec: QuestionSpec | None = None, lang: str = "zh") -> str:
        """The trainee's answer as safe HTML for a feedback page: escaped text, never markup."""
        e = html.escape
        if self.is_empty(value):
            return '<p class="answer"><em>—</em></p>'
        if isinstance(value, dict):
            rows = "".join(
                f"<dt>{e(str(k), True)}</dt><dd>{e(str(v), True)}</dd>" for k, v in value.items()
            )
            return f'<dl class="answer">{rows}</dl>'
        if isinstance(value, list):
            return '<p class="answer">' + e("；".join(str(v) for v in value), True) + "</p>"
        return f'<p class="answer">{e(str(value), True)}</p>'

    # ---- feedback pages (the instructor side writes them: the key is at hand)
    def verdict_text(self, spec: QuestionSpec, key: KeyRecord | None, value: Any, lang: str) -> str:
        """What can be said in words about a non-empty answer (e.g. how many options were right); "" if nothing.

        Must not give the key away: it is shown whether or not the answer is revealed.
        """
        return ""

    def key_html(self, spec: QuestionSpec, key: KeyRecord | None, lang: str) -> str:
        """The right answer as escaped HTML, for a feedback page allowed to show it; "" when there is none."""
        return ""

    # ---- the live widget
    def widget(self, view: Any, value: Any) -> list[Any]:
        """The input widgets of a :class:`kit.workbook.widgets.QuestionView` showing `value`."""
        return []


def label(view: Any, text: str) -> Any:
    """A bold label widget."""
    return view.w.HTML(value=f"<b>{html.escape(text)}</b>")


def field_name(name: str, lang: str, defaults: list[str]) -> str:
    """The label of an observation field: translated when it is a default field."""
    return t("field_" + name, lang) if name in defaults else name


GENERIC = Kind()


class KeyedKind(Kind):
    """A kind the machine scores against the author's key (choice, multi, number, text, ranking)."""

    keyed = True

    def score_answer(self, spec: QuestionSpec, key: KeyRecord | None, answer: Any, maxp: float,
                     *, tests: list[JudgedTest] | None = None,
                     run_error: str | None = None) -> Score:  # fmt: skip
        kv, opts = key_parts(key)
        if key is None or kv is None:
            return Score(0.0, maxp, UNGRADED, t("score.no_key"))
        try:
            return self.compare(spec, kv, opts, answer, maxp)
        except (TypeError, ValueError) as exc:
            return Score(0.0, maxp, WRONG, t("score.not_understood", error=exc))

    def compare(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions, answer: Any, maxp: float
    ) -> Score:
        """Score a non-empty answer against the key value ``kv`` (and the key's options)."""
        raise NotImplementedError(self.name)

    def key_html(self, spec: QuestionSpec, key: KeyRecord | None, lang: str) -> str:
        kv, _ = key_parts(key)
        if kv is None:
            return ""
        return html.escape(self.answer_text(spec, kv), True)

    def practice_texts(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions
    ) -> tuple[set[str], PracticeHashes]:
        """The texts whose hashes accept an answer, and extra fields for the check."""
        raise NotImplementedError(self.name)

    def practice_text(self, spec: QuestionSpec, answer: Any, hashes: PracticeHashes) -> str:
        """The text of an answer, as :meth:`practice_texts` wrote the key's."""
        raise NotImplementedError(self.name)

    def practice_hashes(
        self, spec: QuestionSpec, key: KeyRecord | None, salt: str
    ) -> PracticeHashes:
        kv, opts = key_parts(key)
        if kv is None:
            return {}
        qid = spec.get("id", "")
        texts, extra = self.practice_texts(spec, kv, opts)
        out: PracticeHashes = {"kind": spec.get("kind"), "salt": salt, **extra}
        out["hashes"] = sorted({salted(salt, qid, x) for x in texts})
        return out

    def practice_check(
        self, spec: QuestionSpec, hashes: PracticeHashes, answer: Any
    ) -> bool | None:
        if not hashes or not hashes.get("hashes") or self.is_empty(answer):
            return None
        try:
            text = self.practice_text(spec, answer, hashes)
        except (TypeError, ValueError):
            return False
        return salted(hashes.get("salt", ""), spec.get("id", ""), text) in set(hashes["hashes"])


class ManualKind(Kind):
    """A kind marked by hand against a rubric (essay, observation, upload)."""

    manual = True
    extra = True
    key_options = ("rubric",)  # the rubric's texts, kept out of the trainee's edition

    def max_points(self, spec: QuestionSpec) -> float:
        return float(
            spec.get("points") or sum(float(r.get("points", 0)) for r in spec.get("rubric") or [])
        )

    def score_answer(self, spec: QuestionSpec, key: KeyRecord | None, answer: Any, maxp: float,
                     *, tests: list[JudgedTest] | None = None,
                     run_error: str | None = None) -> Score:  # fmt: skip
        # Worth nothing: answered, with nothing for a marker to do (it would wait forever).
        if maxp == 0:
            return Score(0.0, 0.0, ANSWERED)
        return Score(0.0, maxp, NEEDS_MARKING)
