"""Multiple choice: pick any options; key: the list of right options; partial credit."""

from __future__ import annotations

import html
from typing import Any

from kit.kinds.base import (
    Declared,
    KeyOptions,
    KeyRecord,
    PracticeHashes,
    QuestionSpec,
    Score,
    from_fraction,
    key_parts,
    label,
    option_text,
)
from kit.kinds.choice import Choice, is_option, option_as_written, options_html
from kit.messages import t


class Multi(Choice):
    """Declared like a single choice (options, points); answered, scored and shown as a set."""

    name = "multi"

    def declare(
        self, qid: str, prompt: str, options: list[str], points: float = 1, *, unit: Any = None
    ) -> Declared:
        """Multiple choice; key: list of option texts; partial credit."""
        return super().declare(qid, prompt, options, points, unit=unit)

    def key_problem(self, spec: QuestionSpec, value: Any, opts: KeyOptions) -> str | None:
        # a lone option is a subset of one; a list must name each option once
        picked = value if isinstance(value, list) else [value]
        wrong = [v for v in picked if not is_option(spec, v)]
        if not wrong and len({option_text(spec, v) for v in picked}) == len(picked):
            return None
        options = ", ".join(repr(o) for o in spec.get("options") or [])
        return t("author.key_not_subset", qid=spec.get("id"), value=value, options=options)

    def valid(self, spec: QuestionSpec, value: Any) -> str | None:
        if value is None:
            return None
        ok = isinstance(value, list) and all(v in spec.get("options", []) for v in value)
        return None if ok else "valid.not_options"

    def compare(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions, answer: Any, maxp: float
    ) -> Score:
        want = {option_text(spec, v) for v in (kv if isinstance(kv, list) else [kv])}
        got = {option_text(spec, v) for v in answer}
        hits, false = len(got & want), len(got - want)
        # Each wrong pick cancels a right one, so ticking everything earns nothing.
        frac = max(0.0, (hits - false) / len(want)) if want else float(not got)
        detail = t("score.multi", hits=hits, false=false, n=len(want))
        return from_fraction(frac, maxp, detail)

    def practice_texts(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions
    ) -> tuple[set[str], PracticeHashes]:
        vals = sorted({option_text(spec, v) for v in (kv if isinstance(kv, list) else [kv])})
        return {"\x1e".join(vals)}, {}

    def practice_text(self, spec: QuestionSpec, answer: Any, hashes: PracticeHashes) -> str:
        return "\x1e".join(sorted({option_text(spec, v) for v in answer}))

    def static_html(
        self, spec: QuestionSpec, answer: Any, answered: bool, lang: str
    ) -> tuple[list[str], bool]:
        return options_html(spec, list(answer) if answered else [], ("☑", "☐")), False

    def answer_text(self, spec: QuestionSpec, answer: Any) -> str:
        return "；".join(str(a) for a in answer)

    def answer_html(self, value: Any, spec: QuestionSpec | None = None, lang: str = "zh") -> str:
        if self.is_empty(value) or not isinstance(value, list):
            return super().answer_html(value, spec, lang)
        items = "".join(f"<li>{html.escape(str(v), True)}</li>" for v in value)
        return f'<ul class="answer">{items}</ul>'

    def verdict_text(self, spec: QuestionSpec, key: KeyRecord | None, value: Any, lang: str) -> str:
        kv, _ = key_parts(key)
        if kv is None or not isinstance(value, list):
            return ""
        want = {option_text(spec, v) for v in (kv if isinstance(kv, list) else [kv])}
        got = {option_text(spec, v) for v in value}
        return t("score.multi", lang, n=len(want), hits=len(got & want), false=len(got - want))

    def key_html(self, spec: QuestionSpec, key: KeyRecord | None, lang: str) -> str:
        kv, _ = key_parts(key)
        if kv is None:
            return ""
        right = kv if isinstance(kv, list) else [kv]
        items = "".join(f"<li>{html.escape(option_as_written(spec, v), True)}</li>" for v in right)
        return f"<ul>{items}</ul>"

    def widget(self, view: Any, value: Any) -> list[Any]:
        w = view.w
        chosen = set(value or [])
        boxes = [
            w.Checkbox(
                value=o in chosen, description=o, indent=False, layout=w.Layout(width="auto")
            )
            for o in view.spec["options"]
        ]
        view.inputs["checkboxes"] = boxes

        def changed(_change: dict[str, Any]) -> None:
            picked = [b.description for b in boxes if b.value]
            view.save(picked or None)

        for b in boxes:
            b.observe(changed, "value")
        return [label(view, t("choose_any", view.lang)), *boxes]


KIND = Multi()
