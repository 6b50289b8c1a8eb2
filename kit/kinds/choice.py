"""Single choice: pick one option; key: the option text (or its 0-based index)."""

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
    check_options,
    key_parts,
    label,
    normalise_text,
    option_text,
)
from kit.messages import t


class Choice(KeyedKind):
    name = "choice"
    extra = True
    options_field = "options"

    def declare(
        self, qid: str, prompt: str, options: list[str], points: float = 1, *, unit: Any = None
    ) -> Declared:
        """Single choice; key: the option text (or its 0-based index)."""
        return Declared(qid, prompt, points, {"options": check_options(qid, options), "unit": unit})

    def key_problem(self, spec: QuestionSpec, value: Any, opts: KeyOptions) -> str | None:
        if is_option(spec, value):
            return None
        options = ", ".join(repr(o) for o in spec.get("options") or [])
        return t("author.key_not_option", qid=spec.get("id"), value=value, options=options)

    def valid(self, spec: QuestionSpec, value: Any) -> str | None:
        if value is None or value in spec.get("options", []):
            return None
        return "valid.not_option"

    def compare(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions, answer: Any, maxp: float
    ) -> Score:
        ok = option_text(spec, answer) == option_text(spec, kv)
        return Score(maxp if ok else 0.0, maxp, CORRECT if ok else WRONG)

    def practice_texts(
        self, spec: QuestionSpec, kv: Any, opts: KeyOptions
    ) -> tuple[set[str], PracticeHashes]:
        return {option_text(spec, kv)}, {}

    def practice_text(self, spec: QuestionSpec, answer: Any, hashes: PracticeHashes) -> str:
        return option_text(spec, answer)

    def static_html(
        self, spec: QuestionSpec, answer: Any, answered: bool, lang: str
    ) -> tuple[list[str], bool]:
        return options_html(spec, [answer] if answered else [], ("●", "○")), False

    def key_html(self, spec: QuestionSpec, key: KeyRecord | None, lang: str) -> str:
        kv, _ = key_parts(key)
        return "" if kv is None else html.escape(option_as_written(spec, kv), True)

    def widget(self, view: Any, value: Any) -> list[Any]:
        w = view.w
        opts = view.spec["options"]
        index = opts.index(value) if value in opts else None
        if value is not None and index is None:
            view.error(t("store_warning", view.lang, file="", qid=view.qid, why=repr(value)))
        # index=None: nothing is selected until the trainee picks (no default answer).
        radio = w.RadioButtons(options=opts, index=index, layout=w.Layout(width="auto"))
        radio.description = ""
        view.inputs["radio"] = radio

        def changed(change: dict[str, Any]) -> None:
            if change["new"] is not None:
                view.save(change["new"])

        radio.observe(changed, "value")
        return [label(view, t("choose_one", view.lang)), radio]


def is_option(spec: QuestionSpec, value: Any) -> bool:
    """Whether a key names one of the options: its text (compared as answers are) or its 0-based index."""
    opts = spec.get("options") or []
    if isinstance(value, int) and not isinstance(value, bool):
        return 0 <= value < len(opts)
    return isinstance(value, str) and normalise_text(value) in {normalise_text(o) for o in opts}


def option_as_written(spec: QuestionSpec, value: Any) -> str:
    """The option as written (a key may name it by its 0-based index)."""
    opts = spec.get("options") or []
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(opts):
        return str(opts[value])
    return str(value)


def options_html(spec: QuestionSpec, chosen: list[Any], marks: tuple[str, str]) -> list[str]:
    """The options as a list, the chosen ones marked (choice and multi handouts)."""
    picked = {normalise_text(a) for a in chosen}
    out = ['<ul style="list-style:none;padding-left:.5em">']
    for o in spec.get("options", []):
        m = marks[0] if normalise_text(o) in picked else marks[1]
        out.append(f"<li>{m} {html.escape(o)}</li>")
    out.append("</ul>")
    return out


KIND = Choice()
