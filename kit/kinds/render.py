"""Static renderings of a question (handouts, plain text): the frame here, the body from its kind."""

from __future__ import annotations

import html
from typing import Any

from kit.kinds.base import UNIT_COLOURS, QuestionSpec, br, num
from kit.kinds.registry import find
from kit.messages import t


def unit_name(spec: QuestionSpec, lang: str) -> str:
    """The colour unit's name as the question shows it."""
    unit = spec.get("unit")
    if spec.get("unit_name"):
        return str(spec["unit_name"])
    if unit in UNIT_COLOURS:
        return t(f"unit_{unit}", lang)
    return str(unit or "")


def render_plain(spec: QuestionSpec, lang: str = "zh") -> str:
    """One-paragraph text rendering of a question."""
    head = f"[{t('kind_' + spec['kind'], lang)} {spec['id']}] {spec['prompt']}"
    return "\n".join([head, *find(spec.get("kind")).plain_lines(spec)])


def render_html(
    spec: QuestionSpec, answer: Any = None, lang: str = "zh", *, number: int | None = None
) -> str:
    """Static, fully escaped HTML of a question (for handouts and feedback).

    ``number`` puts "第n题" first, as the workbook names the question; the
    question id is kept for machines (``data-qid``), not shown.
    """
    e = html.escape
    kind = find(spec.get("kind"))
    colour = spec.get("colour") or UNIT_COLOURS.get(str(spec.get("unit") or ""), "#555")
    name = spec.get("kind", "")
    meta = [t("question_no", lang, n=number)] if number else []
    meta.append(t("kind_" + name, lang))
    if spec.get("points"):
        meta.append(t("points", lang, n=num(spec["points"])))
    if spec.get("optional"):
        meta.append(t("optional", lang))
    if spec.get("unit"):
        meta.append(unit_name(spec, lang))
    parts = [
        f'<div class="casekit-question casekit-kind-{e(name)}" data-qid="{e(spec.get("id", ""))}" '
        f'style="border-left:6px solid {e(colour)};padding:.6em 1em;margin:1em 0;'
        f'font-size:1.05em;line-height:1.6;break-inside:avoid">',
        f'<div style="font-size:.85em;color:#555">{e(" · ".join(meta))}</div>',
        f'<div class="casekit-prompt" style="font-weight:600">{br(spec.get("prompt", ""))}</div>',
    ]
    body, show_answer = kind.static_html(spec, answer, not kind.is_empty(answer), lang)
    parts += body
    if kind.shows_rubric(spec):
        parts.append(f'<div style="margin-top:.4em"><b>{e(t("rubric", lang))}</b><ul>')
        for item in spec["rubric"] or []:  # shown only when there is one
            parts.append(
                f"<li>{e(item.get('text', item.get('id', '')))} ({num(item['points'])})</li>"
            )
        parts.append("</ul></div>")
    if show_answer:
        parts.append(
            f'<div class="casekit-answer" style="margin-top:.4em;padding:.4em .6em;background:#f6f6f6;'
            f'white-space:pre-wrap"><b>{e(t("your_answer", lang))}：</b>{e(kind.answer_text(spec, answer))}</div>'
        )
    parts.append("</div>")
    return "".join(parts)
