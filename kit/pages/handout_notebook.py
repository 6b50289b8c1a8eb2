"""What a handout shows of a built notebook, before nbconvert renders it.

* Questions are numbered as the workbook's progress panel names them
  ("第5题"), in notebook order, and their static rendering loses the
  question id (an id is for files, not for readers).
* In an instructor handout, the authored ``parameters`` cell and papermill's
  ``injected-parameters`` cell (two raw code dumps) become one readable table
  of this session's parameters: names the course gives (班次, 授课, 教学点 …)
  with the values as names, the author's comment as the label of their own
  parameters, and the trainee-facing ids and colours left out.
"""

from __future__ import annotations

import ast
import html
import re
from typing import Any, cast

import nbformat

from kit import kinds
from kit.artifacts import MIME_QUESTION
from kit.course import Course
from kit.kinds.base import QuestionSpec
from kit.messages import t
from kit.pages.present import num, yes_no

#: Parameters a reader does not need in the table: ids and colours the header already shows by name.
_NOT_SHOWN = {"cohort", "session", "unit", "unit_colour"}
#: Injected parameters in the order the table lists them (the rest follow in the author's order).
_STANDARD = (
    "cohort_name",
    "date",
    "unit_name",
    "method",
    "teacher",
    "site",
    "mode",
    "seed",
    "deliberation",
    "modules",
)


def number_questions(nb: nbformat.NotebookNode, language: str) -> int:
    """Re-render every question output with its number ("第n题"), in notebook order; returns the count."""
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) or []:
            spec = (out.get("data") or {}).get(MIME_QUESTION)
            if isinstance(spec, dict) and spec.get("id"):
                n += 1
                rendered = kinds.render_html(cast(QuestionSpec, spec), None, language, number=n)
                out["data"]["text/html"] = rendered
    return n


def _tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags") or [])


def _assignments(source: str) -> dict[str, Any]:
    """name → value of the literal assignments in a parameters cell (non-literals are skipped)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    out: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    out[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return out


def _comments(source: str) -> dict[str, str]:
    """name → the author's trailing comment on its line (``batch_size = 120  # 本批工单数``)."""
    found = {}
    for line in source.splitlines():
        m = re.match(r"^([A-Za-z_]\w*)\s*=.*?#\s*(.+?)\s*$", line)
        if m and not m.group(2).startswith(("type:", "noqa")):
            found[m.group(1)] = m.group(2)
    return found


def _value_text(name: str, value: Any, course: Course, lang: str) -> str:
    if name in ("teacher", "site") and isinstance(value, dict):
        return str(value.get("name") or value.get("id") or "")
    if name == "method" and value in course.methods.index:
        return str(course.methods.loc[value]["name"])
    if name == "mode":
        return t(f"param.mode_{value}", lang) if value in ("assessed", "practice") else str(value)
    if name == "deliberation":
        return t("param.deliberation_yes" if value else "param.deliberation_no", lang)
    if isinstance(value, bool):
        return yes_no(value, lang)
    if isinstance(value, int | float):
        return num(value, 4)
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value) or t("common.none", lang)
    if isinstance(value, dict):
        return "；".join(f"{k}: {v}" for k, v in value.items()) or t("common.none", lang)
    return str(value) if value is not None else t("common.none", lang)


def parameters_table(nb: nbformat.NotebookNode, course: Course) -> bool:
    """Replace the parameters cells of an instructor edition with one table; False if there were none."""
    lang = course.language
    authored = next((c for c in nb.cells if "parameters" in _tags(c)), None)
    injected = next((c for c in nb.cells if "injected-parameters" in _tags(c)), None)
    if authored is None and injected is None:
        return False
    a_src = "".join(authored.source) if authored is not None else ""
    values = _assignments(a_src)
    if injected is not None:
        values.update(_assignments("".join(injected.source)))
    labels = _comments(a_src)
    order = [n for n in _STANDARD if n in values] + [
        n for n in values if n not in _STANDARD and n not in _NOT_SHOWN
    ]
    e = html.escape
    rows = []
    for name in order:
        key = f"param.{name}"
        label = t(key, lang)
        label_html = (
            e(label) if label != key else e(labels.get(name, "")) or f"<code>{e(name)}</code>"
        )
        rows.append(
            f"<tr><th>{label_html}</th><td>{e(_value_text(name, values[name], course, lang))}</td></tr>"
        )
    table = (
        f'<div class="ck-params"><h3>{e(t("param.title", lang))}</h3>'
        f"<table><tbody>{''.join(rows)}</tbody></table></div>"
    )
    cell = nbformat.v4.new_markdown_cell(table)
    cell.metadata["casekit"] = {"role": "parameters-table"}
    first = nb.cells.index(authored if authored is not None else injected)
    nb.cells = [c for c in nb.cells if c is not authored and c is not injected]
    nb.cells.insert(first, cell)
    return True
