"""Deliberation cells for the build: the box trainees see, the teacher's note, the extra questions."""

from __future__ import annotations

import html
import re
from typing import Any, Literal

from kit import kinds
from kit.messages import section
from kit.messages import t as say
from kit.notebooks import source
from kit.pages.present import local_time


def _md(text: Any) -> str:
    """Escape free text for a markdown cell: no HTML, no accidental markup."""
    s = html.escape(str(text), quote=False)
    s = re.sub(r"([\\`*_\[\]#|~])", r"\\\1", s)
    return " ".join(s.split())  # one line: a newline would end the blockquote item


def _cell(text: Any) -> str:
    """Free text for a table cell of the box: escaped, on one line."""
    return " ".join(html.escape(str(text)).split())


def _table(head: tuple[str, str], rows: list[tuple[str, str]]) -> str:
    """A two-column HTML table on one blockquote line (markdown tables do not render inside a quote).

    Cells arrive escaped (:func:`_cell`).
    """
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(f"<tr><td>{a}</td><td>{b}</td></tr>" for a, b in rows)
    return f'> <table class="ck-delib"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def display_names(course: Any, cohort_id: str, nb: Any = None) -> dict[str, Any]:
    """What the instructor's box shows instead of ids: people's names, module titles, the course's zone.

    ``faculty`` and ``trainees`` map ids to names (from the catalog and the
    roster); ``modules`` maps a module name to the first heading of its
    ``module:NAME`` cells in `nb`; ``zone`` is the zone time stamps are shown in.
    """
    modules: dict[str, str] = {}
    for cell in getattr(nb, "cells", []) or []:
        for tag in cell.get("metadata", {}).get("tags") or []:
            if tag.startswith("module:") and cell.get("cell_type") == "markdown":
                m = re.search(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", source(cell), re.M)
                if m:
                    modules.setdefault(tag.removeprefix("module:"), m.group(1).strip())
    roster = course.cohort(cohort_id).roster
    return {
        "faculty": {str(i): str(r["name"]) for i, r in course.faculty.iterrows()},
        "trainees": {str(i): str(r["name"]) for i, r in roster.iterrows()},
        "modules": modules,
        "zone": course.zone,
    }


def deliberation_banner(
    inputs: dict[str, Any],
    language: str = "zh",
    *,
    audience: Literal["instructor", "trainee", "notes"] = "instructor",
    names: dict[str, Any] | None = None,
) -> str:
    """Markdown for a cell at the top of an edition, from :func:`session_inputs`.

    ``instructor``: everything the parties agreed, or — when there is no
    deliberation — a plain statement that none was recorded, so a teacher
    never mistakes an unprepared class for a prepared one.
    ``trainee``: what the class responds to (expectations, questions,
    emphasis, added questions); ``""`` when there is nothing to show.
    ``notes``: only what the trainee banner leaves out (direction, decisions,
    modules, time split, parties), for a ``teaching-note`` cell beside the
    trainee banner; the same "none recorded" statement when there is none.
    ``names`` (:func:`display_names`) puts people's names, module titles and
    local times where the record holds ids and ISO time stamps.
    """

    names = names or {}
    person = lambda kind, i: names.get(kind, {}).get(str(i), str(i))  # noqa: E731
    t = section("delib", language)
    if not inputs:
        if audience == "trainee":
            return ""
        return f"> **⚠ {t['none']}**\n>\n> {t['none_fix']}\n"
    public = audience in ("instructor", "trainee")
    private = audience in ("instructor", "notes")
    split = inputs.get("time_split") or {}
    items: list[tuple[str, list[str]]] = []
    if private and inputs.get("teacher_direction"):
        items.append((t["direction"], [inputs["teacher_direction"]]))
    if public:
        items.append((t["expectations"], inputs.get("trainee_expectations", [])))
        items.append((t["questions"], inputs.get("trainee_questions", [])))
    if private:
        items.append((t["decisions"], inputs.get("organiser_decisions", [])))
    if public:
        items.append((t["emphasis"], inputs.get("emphasis", [])))
        items.append((t["extra"], [q["prompt"] for q in inputs.get("extra_questions", [])]))
    if private:
        titles = names.get("modules", {})
        items.append((t["modules"], [titles.get(m, m) for m in inputs.get("modules", [])]))
    items = [(label, vals) for label, vals in items if vals]
    if audience == "trainee" and not items:
        return ""
    out = [f"> ### {t['title'] if public else t['notes_title']}", ">"]
    for label, vals in items:
        out.append(f"> **{label}**")
        out.append(">")
        out += [f"> - {_md(v)}" for v in vals]
        out.append(">")
    if private and split:
        rows = [(_cell(k), f"{v:g}") for k, v in split.items()]
        out += [_table((t["activity"], t["minutes"]), rows), ">"]
    if private:
        # who agreed, when and which version: names and a local time, not ids and ISO stamps
        p = inputs.get("parties") or {}
        rows = []
        if p.get("organisers"):
            rows.append((t["organisers"], "、".join(map(_cell, p["organisers"]))))
        if p.get("teacher"):
            rows.append((t["teacher"], _cell(person("faculty", p["teacher"]))))
        if p.get("trainee_reps"):
            rows.append(
                (t["reps"], "、".join(_cell(person("trainees", r)) for r in p["trainee_reps"]))
            )
        if inputs.get("agreed_at"):
            rows.append((t["agreed"], _cell(local_time(inputs["agreed_at"], names.get("zone")))))
        rows.append((t["version"], str(inputs.get("version", 0))))
        out.append(_table((t["parties"], ""), rows))
    while out and out[-1] == ">":
        out.pop()
    return "\n".join(out) + "\n"


def extra_questions_source(inputs: dict[str, Any], language: str = "zh") -> str:
    """Python source of a code cell that asks the agreed extra questions (``""`` if none).

    It uses the authoring API only, so the questions are real, stored and
    collected answers like any other. An essay without a rubric gets one
    zero-point criterion (the API requires a rubric; a discussion prompt is
    not scored).
    """
    qs = inputs.get("extra_questions") or []
    if not qs:
        return ""
    lines = ["from kit.questions import ask", ""]
    for q in qs:
        kind = q.get("kind", "essay")
        k = kinds.get(kind)
        args = [repr(q["id"]), repr(q["prompt"])]
        rubric = [{"text": r["text"], "points": r.get("points", 0)} for r in q.get("rubric") or []]
        if k.options_field == "options":
            args += [f"options={q.get('options', [])!r}", "points=0"]
        elif k.keyed:
            args.append("points=0")  # a poll: no key, no points
        elif k.manual:
            if k.requires_rubric:
                rubric = rubric or [{"text": say("delib_rubric.essay", language), "points": 0}]
            if rubric:
                args.append(f"rubric={rubric!r}")
        lines.append(f"display(ask.{kind}({', '.join(args)}))")
    return "\n".join(lines) + "\n"


def deliberation_cells(
    inputs: dict[str, Any], language: str = "zh", names: dict[str, Any] | None = None
) -> list[Any]:
    """Cells a build inserts into a session's source notebook before it runs.

    Insert them right after the ``parameters`` cell (:func:`insert_cells` does):

    1. a markdown box "what this class responds to" for everyone (no tag, so
       both editions and the trainee handout carry it) — when there is
       something to show;
    2. a markdown cell tagged ``teaching-note`` with what only the instructor
       sees: the teacher's direction, the organisers' decisions, modules, time
       split, parties — or, with no deliberation, the plain statement that none
       was recorded;
    3. a code cell asking the agreed extra questions — when there are any.

    Each cell carries ``metadata.casekit.role == "deliberation"``.
    """
    import nbformat

    cells = []
    public = deliberation_banner(inputs, language, audience="trainee")
    if public:
        cells.append(nbformat.v4.new_markdown_cell(public))
    notes = deliberation_banner(inputs, language, audience="notes", names=names)
    note_cell = nbformat.v4.new_markdown_cell(notes)
    note_cell.metadata["tags"] = ["teaching-note"]
    cells.append(note_cell)
    src = extra_questions_source(inputs, language)
    if src:
        cells.append(nbformat.v4.new_code_cell(src))
    for cell in cells:
        cell.metadata["casekit"] = {"role": "deliberation"}
    return cells


def insert_cells(
    nb: Any, inputs: dict[str, Any], language: str = "zh", names: dict[str, Any] | None = None
) -> Any:
    """Insert :func:`deliberation_cells` after the ``parameters`` cell (at the top if none); returns ``nb``."""
    at = next(
        (
            i + 1
            for i, c in enumerate(nb.cells)
            if "parameters" in (c.get("metadata", {}).get("tags") or [])
        ),
        0,
    )
    nb.cells[at:at] = deliberation_cells(inputs, language, names)
    return nb


def show(deliberation: dict[str, Any], language: str = "zh", *, audience: str = "trainee") -> Any:
    """Display the "what this class responds to" box inside a notebook.

    Call it in a code cell with the ``deliberation`` parameter; it displays
    nothing for a trainee when there was no deliberation.
    """
    from IPython.display import Markdown, display

    text = deliberation_banner(deliberation, language, audience=audience)  # type: ignore[arg-type]
    if text:
        display(Markdown(text))
