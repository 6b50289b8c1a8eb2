"""A number with an optional measurement unit and tolerance; key: the number."""

from __future__ import annotations

import html
import math
from typing import Any

from kit.kinds.base import (
    CORRECT,
    WRONG,
    AuthoringError,
    Declared,
    KeyedKind,
    KeyOptions,
    KeyRecord,
    PracticeHashes,
    QuestionFields,
    QuestionSpec,
    Score,
    key_parts,
    num,
    parse_number,
)
from kit.messages import t


class Number(KeyedKind):
    name = "number"
    key_options = ("tolerance", "rel_tolerance")

    def declare(
        self,
        qid: str,
        prompt: str,
        unit: str | None = None,
        tolerance: float = 0.0,
        rel_tolerance: float | None = None,
        points: float = 1,
    ) -> Declared:
        """Number with an optional measurement unit and tolerance; key: number.

        ``unit`` here is the measurement unit shown beside the input (e.g.
        "万元", "%"); it is stored as ``number_unit`` because ``unit`` in a
        spec is the colour unit.
        """
        if tolerance is None or tolerance < 0 or (rel_tolerance is not None and rel_tolerance < 0):
            raise AuthoringError(t("author.tolerance", qid=qid))
        fields: QuestionFields = {
            "number_unit": unit,
            "tolerance": float(tolerance),
            "rel_tolerance": None if rel_tolerance is None else float(rel_tolerance),
        }
        return Declared(qid, prompt, points, fields)

    def key_problem(self, spec: QuestionSpec, value: Any, opts: KeyOptions) -> str | None:
        qid = spec.get("id")
        if not _finite(value):
            return t("author.key_not_number", qid=qid, value=value)
        tol = opts.get("tolerance", spec.get("tolerance") or 0.0)
        rel = opts.get("rel_tolerance", spec.get("rel_tolerance"))
        if not _finite(tol) or tol < 0 or (rel is not None and (not _finite(rel) or rel < 0)):
            return t("author.tolerance", qid=qid)
        if rel is not None and rel >= 1:
            # written as a percentage (5 for 5%): every answer of the right sign would be right
            return t("author.key_rel_tolerance", qid=qid, rel=rel)
        # no bound against the key itself: a growth rate near 0 with tolerance 0.2 is sane
        return None

    def read(self, spec: QuestionSpec, value: Any) -> Any:
        """A number as people type it: ``８１.０``, ``81.0%``, ``1,200``, ``12 万元`` (see ``parse_number``)."""
        if isinstance(value, str) and value.strip():
            try:
                return parse_number(value, spec.get("number_unit"))
            except ValueError:
                return value  # valid() says why
        return value

    def valid(self, spec: QuestionSpec, value: Any) -> str | None:
        if value is None:
            return None
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "valid.not_number"

    def compare(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions, answer: Any, maxp: float
    ) -> Score:
        a = parse_number(answer, spec.get("number_unit"))
        k = float(kv)
        tol = float(opts.get("tolerance", spec.get("tolerance") or 0.0))
        rel = opts.get("rel_tolerance", spec.get("rel_tolerance"))
        ok = _number_ok(a, k, tol, rel)
        return Score(maxp if ok else 0.0, maxp, CORRECT if ok else WRONG)

    def practice_texts(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions
    ) -> tuple[set[str], PracticeHashes]:
        """Hash by tolerance bucket, so the bucket width does not reveal the key.

        Absolute width = tolerance, or logarithmic width for a relative
        tolerance; every bucket overlapping [key - tol, key + tol] is included,
        so a right answer is always accepted and a near miss within 2×tolerance
        may be too.
        """
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
        if scheme == "exact":
            buckets = {_bucket(k, scheme, width)}
        elif scheme == "abs":
            buckets = {str(b) for b in range(math.floor(lo / width), math.floor(hi / width) + 1)}
        else:
            buckets = set()
            for end in (lo, hi):
                buckets.add(_bucket(end, scheme, width))
            if lo < 0 < hi or k == 0:
                buckets.add("0")
            # The interval may span several log buckets on each side of the key.
            for side in (lo, hi):
                if side != 0 and (side > 0) == (k > 0):
                    a, b = sorted([math.log(abs(side)) / width, math.log(abs(k)) / width])
                    sign = "-" if k < 0 else "+"
                    buckets.update(sign + str(i) for i in range(math.floor(a), math.floor(b) + 1))
        return buckets, {"scheme": scheme, "width": width}

    def practice_text(self, spec: QuestionSpec, answer: Any, hashes: PracticeHashes) -> str:
        a = parse_number(answer, spec.get("number_unit"))
        return _bucket(a, hashes["scheme"], hashes["width"])

    def answer_html(self, value: Any, spec: QuestionSpec | None = None, lang: str = "zh") -> str:
        if self.is_empty(value) or not isinstance(value, int | float) or isinstance(value, bool):
            return super().answer_html(value, spec, lang)
        unit = (spec.get("number_unit") if spec else None) or ""
        return f'<p class="answer">{html.escape(num(value))} {html.escape(unit)}</p>'

    def verdict_text(self, spec: QuestionSpec, key: KeyRecord | None, value: Any, lang: str) -> str:
        try:
            parse_number(value, spec.get("number_unit"))
        except ValueError:
            return t("feedback.not_a_number", lang, text=str(value))
        return ""

    def key_html(self, spec: QuestionSpec, key: KeyRecord | None, lang: str) -> str:
        kv, opts = key_parts(key)
        if kv is None:
            return ""
        unit = spec.get("number_unit") or ""
        text = f"{num(round(float(kv), 6))} {unit}".strip()
        tol = float(opts.get("tolerance", spec.get("tolerance") or 0.0))
        rel = opts.get("rel_tolerance", spec.get("rel_tolerance"))
        if tol:
            text += t("feedback.tolerance", lang, tol=f"{num(tol)} {unit}".strip())
        elif rel:
            text += t("feedback.tolerance", lang, tol=f"{num(float(rel) * 100)}%")
        return html.escape(text)

    def static_html(
        self, spec: QuestionSpec, answer: Any, answered: bool, lang: str
    ) -> tuple[list[str], bool]:
        unit = spec.get("number_unit")
        if unit:
            return [f'<div style="color:#555">（{html.escape(unit)}）</div>'], answered
        return [], answered

    def widget(self, view: Any, value: Any) -> list[Any]:
        w = view.w
        raw = ""
        if view.entry is not None and value is not None:
            raw = str(view.entry.get("raw") or num(value))
        box = w.Text(
            value=raw,
            placeholder=t("number_placeholder", view.lang),
            description=t("your_answer", view.lang),
            continuous_update=True,
            layout=w.Layout(width="28em"),
            style={"description_width": "initial"},
        )
        view.inputs["text"] = box

        def changed(change: dict[str, Any]) -> None:
            text = change["new"].strip()
            if not text:
                view.clear_error()
                if view.current() is not None:
                    view.save(None)
                return
            try:
                number = parse_number(text, view.spec.get("number_unit"))
            except ValueError:
                # A lone sign or dot is a number being typed, not an error yet.
                if text not in ("-", "+", ".", "-.", "+.", "－", "．"):
                    view.error(t("invalid_number", view.lang, text=text))
                return
            view.clear_error()
            view.save(number, raw=text)

        box.observe(changed, "value")
        parts = [box]
        if view.spec.get("number_unit"):
            parts.append(w.Label(value=view.spec["number_unit"]))
        return [w.HBox(parts)]


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _number_ok(a: float, k: float, tol: float, rel: float | None) -> bool:
    if tol == 0 and not rel:
        return math.isclose(a, k, rel_tol=1e-9, abs_tol=1e-12)
    if abs(a - k) <= tol + 1e-12:
        return True
    return rel is not None and rel > 0 and abs(a - k) <= rel * abs(k) + 1e-12


def _bucket(x: float, scheme: str, width: float) -> str:
    if scheme == "exact":
        return format(x, ".9g")
    if scheme == "abs":
        return str(math.floor(x / width))
    if x == 0:
        return "0"
    return ("-" if x < 0 else "+") + str(math.floor(math.log(abs(x)) / width))


KIND = Number()
