"""Short text; key: the accepted answer or a list of them (compared normalised)."""

from __future__ import annotations

import html
from typing import Any

from kit.kinds.base import (
    CORRECT,
    WRONG,
    Declared,
    KeyedKind,
    KeyOptions,
    KeyRecord,
    PracticeHashes,
    QuestionSpec,
    Score,
    key_parts,
    normalise_text,
)
from kit.messages import t


class Text(KeyedKind):
    name = "text"
    extra = True
    free_text = True

    def declare(
        self, qid: str, prompt: str, points: float = 1, max_length: int = 200, *, unit: Any = None
    ) -> Declared:
        """Short text; key: str or list of accepted answers (normalised)."""
        return Declared(qid, prompt, points, {"max_length": int(max_length), "unit": unit})

    def key_problem(self, spec: QuestionSpec, value: Any, opts: KeyOptions) -> str | None:
        accepted = value if isinstance(value, list) else [value]
        if accepted and all(isinstance(v, str | int | float) and str(v).strip() for v in accepted):
            return None
        return t("author.key_not_text", qid=spec.get("id"), value=value)

    def valid(self, spec: QuestionSpec, value: Any) -> str | None:
        return None if value is None or isinstance(value, str) else "valid.not_text"

    def compare(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions, answer: Any, maxp: float
    ) -> Score:
        accepted = kv if isinstance(kv, list) else [kv]
        ok = normalise_text(answer) in {normalise_text(x) for x in accepted}
        return Score(maxp if ok else 0.0, maxp, CORRECT if ok else WRONG)

    def key_html(self, spec: QuestionSpec, key: KeyRecord | None, lang: str) -> str:
        kv, _ = key_parts(key)
        if kv is None:
            return ""
        accepted = [str(v) for v in (kv if isinstance(kv, list) else [kv])]
        return html.escape(t("feedback.or", lang).join(accepted), True)

    def practice_texts(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions
    ) -> tuple[set[str], PracticeHashes]:
        return {normalise_text(v) for v in (kv if isinstance(kv, list) else [kv])}, {}

    def practice_text(self, spec: QuestionSpec, answer: Any, hashes: PracticeHashes) -> str:
        return normalise_text(answer)

    def widget(self, view: Any, value: Any) -> list[Any]:
        w = view.w
        box = w.Text(
            value=value or "",
            placeholder=t("text_placeholder", view.lang),
            description=t("your_answer", view.lang),
            continuous_update=True,
            layout=w.Layout(width="100%"),
            style={"description_width": "initial"},
        )
        view.inputs["text"] = box
        limit = int(view.spec.get("max_length") or 0)

        def changed(change: dict[str, Any]) -> None:
            text = change["new"]
            # Keep what was typed even when too long: losing text is worse.
            if limit and len(text) > limit:
                view.error(t("too_long", view.lang, n=limit, m=len(text)))
            else:
                view.clear_error()
            view.save(text if text.strip() else None)

        box.observe(changed, "value")
        return [box]


KIND = Text()
