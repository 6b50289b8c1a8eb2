"""Rating: 1..scale of the session or the teacher; ungraded, aggregated by the cohort report."""

from __future__ import annotations

import html
from typing import Any

from kit.artifacts import JudgedTest
from kit.kinds.base import (
    ANSWERED,
    AuthoringError,
    Declared,
    KeyRecord,
    Kind,
    QuestionFields,
    QuestionSpec,
    Score,
    label,
)
from kit.messages import t


class Rating(Kind):
    name = "rating"
    graded = False
    rated = True
    extra = True

    def declare(
        self,
        qid: str,
        prompt: str,
        scale: int = 5,
        about: str = "session",
        labels: list[str] | None = None,
        *,
        unit: Any = None,
    ) -> Declared:
        """Ungraded rating 1..scale of the session or the teacher."""
        if about not in ("session", "teacher"):
            raise AuthoringError(t("author.rating_about", qid=qid))
        if not isinstance(scale, int) or not 2 <= scale <= 10:
            raise AuthoringError(t("author.rating_scale", qid=qid))
        if labels is not None and len(labels) != scale:
            raise AuthoringError(t("author.rating_labels", qid=qid))
        fields: QuestionFields = {
            "scale": scale,
            "about": about,
            "labels": None if labels is None else [str(x) for x in labels],
            "unit": unit,
        }
        return Declared(qid, prompt, 0, fields)

    def valid(self, spec: QuestionSpec, value: Any) -> str | None:
        if value is None:
            return None
        ok = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and 1 <= value <= spec.get("scale", 5)
        )
        return None if ok else "valid.not_point"

    def max_points(self, spec: QuestionSpec) -> float:
        return 0.0

    def score_answer(self, spec: QuestionSpec, key: KeyRecord | None, answer: Any, maxp: float,
                     *, tests: list[JudgedTest] | None = None,
                     run_error: str | None = None) -> Score:  # fmt: skip
        return Score(0.0, 0.0, ANSWERED)

    def static_html(
        self, spec: QuestionSpec, answer: Any, answered: bool, lang: str
    ) -> tuple[list[str], bool]:
        e = html.escape
        labels = spec.get("labels") or [str(i) for i in range(1, spec.get("scale", 5) + 1)]
        line = " ".join(
            f"[{i + 1}] {e(lab)}" if spec.get("labels") else f"[{e(lab)}]"
            for i, lab in enumerate(labels)
        )
        return [f'<div style="color:#555">{line}</div>'], answered

    def answer_html(self, value: Any, spec: QuestionSpec | None = None, lang: str = "zh") -> str:
        scale = int((spec.get("scale") if spec else None) or 5)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= scale:
            return super().answer_html(value, spec, lang)
        labels = spec.get("labels") if spec else None
        stars = "★" * value + "☆" * (scale - value)
        text = f"{value} / {scale}" + (f" · {labels[value - 1]}" if labels else "")
        return (
            f'<p class="answer rating"><span class="stars" aria-hidden="true">{stars}</span> '
            f"{html.escape(text, True)}</p>"
        )

    def widget(self, view: Any, value: Any) -> list[Any]:
        w = view.w
        scale = int(view.spec.get("scale") or 5)
        labels = view.spec.get("labels") or [str(i) for i in range(1, scale + 1)]
        options = [
            (lab if view.spec.get("labels") else str(i + 1), i + 1) for i, lab in enumerate(labels)
        ]
        index = value - 1 if isinstance(value, int) and 1 <= value <= scale else None
        toggles = w.ToggleButtons(
            options=options,
            index=index,
            tooltips=[str(i + 1) for i in range(scale)],
            style={"button_width": "auto"},
        )
        view.inputs["toggles"] = toggles

        def changed(change: dict[str, Any]) -> None:
            if change["new"] is not None:
                view.save(int(change["new"]))

        toggles.observe(changed, "value")
        about = t("rating_about_" + str(view.spec.get("about", "session")), view.lang)
        hint = t("rating_hint", view.lang, n=scale)
        return [label(view, f"{about}（{hint}）"), toggles]


KIND = Rating()
