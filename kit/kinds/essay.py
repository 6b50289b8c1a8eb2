"""Essay: written at length, marked by hand against a rubric."""

from __future__ import annotations

import html
from typing import Any

from kit.kinds.base import (
    AuthoringError,
    Declared,
    ManualKind,
    QuestionFields,
    QuestionSpec,
    RubricItem,
    check_rubric,
    num,
)
from kit.messages import t


class Essay(ManualKind):
    name = "essay"
    free_text = True
    requires_rubric = True

    def declare(
        self,
        qid: str,
        prompt: str,
        rubric: list[RubricItem],
        min_chars: int = 0,
        show_rubric: bool = True,
        *,
        unit: Any = None,
    ) -> Declared:
        """Essay marked by hand against `rubric` items {"id","text","points"}.

        points = sum of rubric points. With ``show_rubric=False`` give only ids
        and points here (this cell reaches trainees) and the texts in the key
        cell: ``key(qid, None, rubric=[{"id": ..., "text": ...}])``.
        """
        items = check_rubric(qid, rubric, texts=show_rubric)
        if not items:
            raise AuthoringError(t("author.essay_rubric", qid=qid))
        total = sum(i["points"] for i in items)
        if not show_rubric:
            items = [{"id": i["id"], "points": i["points"]} for i in items]
        fields: QuestionFields = {
            "rubric": items,
            "min_chars": int(min_chars),
            "show_rubric": bool(show_rubric),
            "unit": unit,
        }
        return Declared(qid, prompt, total, fields)

    def valid(self, spec: QuestionSpec, value: Any) -> str | None:
        return None if value is None or isinstance(value, str) else "valid.not_text"

    def shows_rubric(self, spec: QuestionSpec) -> bool:
        return bool(spec.get("rubric")) and bool(spec.get("show_rubric", True))

    def widget(self, view: Any, value: Any) -> list[Any]:
        w = view.w
        area = w.Textarea(
            value=value or "",
            placeholder=t("essay_placeholder", view.lang),
            description=t("your_answer", view.lang),
            continuous_update=True,
            rows=10,
            layout=w.Layout(width="100%"),
            style={"description_width": "initial"},
        )
        view.inputs["textarea"] = area
        counter = w.HTML()
        min_chars = int(view.spec.get("min_chars") or 0)

        def count(text: str) -> None:
            n = len(text.strip())
            key = "min_chars" if min_chars else "chars"
            counter.value = f'<span class="casekit-status">{html.escape(t(key, view.lang, n=n, min=min_chars))}</span>'

        def changed(change: dict[str, Any]) -> None:
            count(change["new"])
            view.save(change["new"] if change["new"].strip() else None)

        count(area.value)
        area.observe(changed, "value")
        out = [area, counter]
        if view.spec.get("show_rubric", True) and view.spec.get("rubric"):
            items = "".join(
                f"<li>{html.escape(i.get('text', i['id']))}（{num(i['points'])}）</li>"
                for i in view.spec["rubric"]
            )
            out.append(
                w.HTML(
                    value=f"<details><summary>{html.escape(t('rubric', view.lang))}</summary><ul>{items}</ul></details>"
                )
            )
        return out


KIND = Essay()
