"""Ranking: put items in order; key: the items in the right order; partial credit by pairs."""

from __future__ import annotations

import html
from typing import Any

from kit.kinds.base import (
    Declared,
    KeyedKind,
    KeyOptions,
    KeyRecord,
    PracticeHashes,
    QuestionSpec,
    Score,
    check_options,
    from_fraction,
    key_parts,
    label,
    normalise_text,
)
from kit.messages import t


class Ranking(KeyedKind):
    name = "ranking"
    options_field = "items"

    def declare(
        self, qid: str, prompt: str, items: list[str], points: float = 1, *, unit: Any = None
    ) -> Declared:
        """Order a list; key: the items in the right order; partial credit by pairs."""
        return Declared(
            qid, prompt, points, {"items": check_options(qid, items, "items"), "unit": unit}
        )

    def key_problem(self, spec: QuestionSpec, value: Any, opts: KeyOptions) -> str | None:
        items = [str(i) for i in spec.get("items") or []]
        if isinstance(value, list) and sorted(normalise_text(v) for v in value) == sorted(
            normalise_text(i) for i in items
        ):
            return None
        shown = ", ".join(repr(i) for i in items)
        return t("author.key_not_order", qid=spec.get("id"), value=value, items=shown)

    def valid(self, spec: QuestionSpec, value: Any) -> str | None:
        if value is None:
            return None
        ok = isinstance(value, list) and sorted(map(str, value)) == sorted(spec.get("items", []))
        return None if ok else "valid.not_order"

    def compare(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions, answer: Any, maxp: float
    ) -> Score:
        want = [normalise_text(x) for x in kv]
        pos = {normalise_text(x): i for i, x in enumerate(answer)}
        pairs = [(want[i], want[j]) for i in range(len(want)) for j in range(i + 1, len(want))]
        good = sum(1 for a, b in pairs if a in pos and b in pos and pos[a] < pos[b])
        frac = good / len(pairs) if pairs else 1.0
        return from_fraction(frac, maxp, t("score.ranking", good=good, n=len(pairs)))

    def practice_texts(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions
    ) -> tuple[set[str], PracticeHashes]:
        return {"\x1e".join(normalise_text(v) for v in kv)}, {}

    def practice_text(self, spec: QuestionSpec, answer: Any, hashes: PracticeHashes) -> str:
        return "\x1e".join(normalise_text(v) for v in answer)

    def static_html(
        self, spec: QuestionSpec, answer: Any, answered: bool, lang: str
    ) -> tuple[list[str], bool]:
        items = answer if answered else spec.get("items", [])
        parts = ["<ol>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in items) + "</ol>"]
        if not answered:
            parts.append(f'<div style="color:#777">{html.escape(t("rank_hint", lang))}</div>')
        return parts, False

    def answer_text(self, spec: QuestionSpec, answer: Any) -> str:
        return "；".join(str(a) for a in answer)

    def answer_html(self, value: Any, spec: QuestionSpec | None = None, lang: str = "zh") -> str:
        if self.is_empty(value) or not isinstance(value, list):
            return super().answer_html(value, spec, lang)
        return (
            '<ol class="answer">'
            + "".join(f"<li>{html.escape(str(v), True)}</li>" for v in value)
            + "</ol>"
        )

    def verdict_text(self, spec: QuestionSpec, key: KeyRecord | None, value: Any, lang: str) -> str:
        kv, _ = key_parts(key)
        if not isinstance(kv, list) or not isinstance(value, list):
            return ""
        want = [normalise_text(x) for x in kv]
        pos = {normalise_text(x): i for i, x in enumerate(value)}
        pairs = [(want[i], want[j]) for i in range(len(want)) for j in range(i + 1, len(want))]
        good = sum(1 for a, b in pairs if a in pos and b in pos and pos[a] < pos[b])
        return t("score.ranking", lang, good=good, n=len(pairs))

    def key_html(self, spec: QuestionSpec, key: KeyRecord | None, lang: str) -> str:
        kv, _ = key_parts(key)
        if not isinstance(kv, list):
            return ""
        return "<ol>" + "".join(f"<li>{html.escape(str(v), True)}</li>" for v in kv) + "</ol>"

    def widget(self, view: Any, value: Any) -> list[Any]:
        """Up and down buttons per item and a confirm button; ``view.move(i, step)`` reorders."""
        w = view.w
        items = list(view.spec["items"])
        order = list(value) if value and sorted(value) == sorted(items) else list(items)
        if value and sorted(value) != sorted(items):
            view.error(
                t(
                    "store_warning",
                    view.lang,
                    file="",
                    qid=view.qid,
                    why=t("valid.items_changed", view.lang),
                )
            )
        view.order = order
        labels = [w.HTML() for _ in items]
        rows = []
        view.inputs["up"], view.inputs["down"] = [], []
        for i in range(len(items)):
            up = w.Button(
                description="↑",
                tooltip=f"{t('up', view.lang)} · {t('position', view.lang, n=i + 1)}",
                disabled=i == 0,
                layout=w.Layout(width="3.2em"),
            )
            down = w.Button(
                description="↓",
                tooltip=f"{t('down', view.lang)} · {t('position', view.lang, n=i + 1)}",
                disabled=i == len(items) - 1,
                layout=w.Layout(width="3.2em"),
            )
            up.on_click(lambda _b, i=i: view.move(i, -1))
            down.on_click(lambda _b, i=i: view.move(i, +1))
            view.inputs["up"].append(up)
            view.inputs["down"].append(down)
            rows.append(w.HBox([up, down, labels[i]]))

        def draw() -> None:
            for i, (lab, item) in enumerate(zip(labels, view.order, strict=True)):
                lab.value = f"<span style='font-size:17px'>{i + 1}. {html.escape(item)}</span>"

        def move(position: int, step: int) -> None:
            """Move the item at `position` up (-1) or down (+1) and save."""
            j = position + step
            if 0 <= j < len(view.order):
                view.order[position], view.order[j] = view.order[j], view.order[position]
                draw()
                view.save(list(view.order))

        view.move = move
        confirm = w.Button(
            description=t("rank_confirm", view.lang), icon="check", layout=w.Layout(width="auto")
        )
        confirm.on_click(lambda _b: view.save(list(view.order)))
        view.inputs["confirm"] = confirm
        draw()
        return [label(view, t("rank_hint", view.lang)), *rows, confirm]


KIND = Ranking()
