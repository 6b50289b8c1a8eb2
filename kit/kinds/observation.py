"""Observation log: a site visit recorded in labelled fields; marked by hand when it has a rubric."""

from __future__ import annotations

import html
from typing import Any

from kit.kinds.base import (
    AuthoringError,
    Declared,
    ManualKind,
    QuestionSpec,
    RubricItem,
    check_rubric,
    field_name,
)
from kit.messages import t

DEFAULT_OBSERVATION_FIELDS = ["what", "who", "problems", "ideas"]


class Observation(ManualKind):
    name = "observation"

    def declare(
        self,
        qid: str,
        prompt: str,
        fields: list[str] | None = None,
        rubric: list[RubricItem] | None = None,
        points: float = 0,
        *,
        unit: Any = None,
    ) -> Declared:
        """Site-visit log with labelled fields (default what/who/problems/ideas)."""
        flds = [str(f) for f in (fields or DEFAULT_OBSERVATION_FIELDS)]
        if len(set(flds)) != len(flds) or not flds:
            raise AuthoringError(t("author.fields_different", qid=qid))
        items = check_rubric(qid, rubric)
        pts = sum(i["points"] for i in items) if items and not points else points
        return Declared(qid, prompt, pts, {"fields": flds, "rubric": items or None, "unit": unit})

    def valid(self, spec: QuestionSpec, value: Any) -> str | None:
        return None if value is None or isinstance(value, dict) else "valid.not_object"

    def static_html(
        self, spec: QuestionSpec, answer: Any, answered: bool, lang: str
    ) -> tuple[list[str], bool]:
        if answered:
            return [], answered
        names = [field_name(f, lang, DEFAULT_OBSERVATION_FIELDS) for f in spec.get("fields", [])]
        return ["<ul>" + "".join(f"<li>{html.escape(n)}：</li>" for n in names) + "</ul>"], answered

    def answer_html(self, value: Any, spec: QuestionSpec | None = None, lang: str = "zh") -> str:
        if self.is_empty(value) or not isinstance(value, dict):
            return super().answer_html(value, spec, lang)
        e = html.escape
        rows = "".join(
            f"<dt>{e(field_name(str(k), lang, DEFAULT_OBSERVATION_FIELDS))}</dt><dd>{e(str(v or '—'), True)}</dd>"
            for k, v in value.items()
        )
        return f'<dl class="answer">{rows}</dl>'

    def answer_text(self, spec: QuestionSpec, answer: Any) -> str:
        if isinstance(answer, dict):
            return "\n".join(f"{k}: {v}" for k, v in answer.items() if str(v).strip())
        return str(answer)

    def widget(self, view: Any, value: Any) -> list[Any]:
        w = view.w
        value = value if isinstance(value, dict) else {}
        out, areas = [], {}
        for f in view.spec["fields"]:
            # the label above its box, whole: a description beside it is cut at a fixed width
            name = field_name(f, view.lang, DEFAULT_OBSERVATION_FIELDS)
            area = w.Textarea(
                value=str(value.get(f) or ""),
                rows=3,
                continuous_update=True,
                layout=w.Layout(width="100%"),
            )
            area.add_class("casekit-field-input")
            areas[f] = area
            out += [w.HTML(value=f'<div class="casekit-field">{html.escape(name)}</div>'), area]
        view.inputs.update(areas)

        def changed(_change: dict[str, Any]) -> None:
            record = {f: a.value for f, a in areas.items()}
            view.save(None if self.is_empty(record) else record)

        for a in areas.values():
            a.observe(changed, "value")
        return out


KIND = Observation()
