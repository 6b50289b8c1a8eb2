"""``guide``: the annual programme guide as one offline HTML file."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from kit import artifacts
from kit.course import Course, as_course
from kit.messages import EN, lang_of, section, t
from kit.notebooks import source
from kit.numbers import num, pct
from kit.pages import TEMPLATES
from kit.pages.present import finish_tables
from kit.programme.share import ALL, interactive_share
from kit.programme.sites import CATEGORIES, CATEGORY_COLOURS, FONT_STACK

#: Kinds of faculty, in the guide's order (labels: ``faculty_kind.<kind>`` messages).
FACULTY_KINDS = ("leader", "scholar", "model-worker")


def notebook_info(path: Path, units: list[str] | None = None) -> dict[str, Any]:
    """Title (first markdown heading), declared unit and description of a notebook.

    The unit comes from ``metadata.casekit.unit``, else the ``unit = "..."``
    default of the parameters cell, else a file name starting with a unit id
    (``red-memorial.ipynb``); ``""`` when none says.
    """
    info = {"title": path.stem, "unit": "", "summary": ""}
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return info
    meta_unit = ((nb.get("metadata") or {}).get("casekit") or {}).get("unit", "")
    param_unit = ""
    for cell in nb.get("cells", []):
        src = source(cell)
        if cell.get("cell_type") == "markdown" and info["title"] == path.stem:
            m = re.search(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", src, re.M)
            if m:
                info["title"] = re.sub(r"[*_`]", "", m.group(1)).strip()
                rest = src[m.end() :].strip().split("\n\n")[0]
                info["summary"] = re.sub(r"[*_`#>]", "", rest).strip()[:200]
        if cell.get("cell_type") == "code" and "parameters" in (
            cell.get("metadata", {}).get("tags") or []
        ):
            m = re.search(r"^unit\s*=\s*['\"]([^'\"]+)['\"]", src, re.M)
            if m:
                param_unit = m.group(1)
    prefix = next((u for u in units or [] if path.stem == u or path.stem.startswith(u + "-")), "")
    info["unit"] = meta_unit or param_unit or prefix
    return info


# ---------------------------------------------------------------- the guide


def _session_uses(course: Course, lang: str) -> dict[str, list[dict[str, Any]]]:
    """Every session that teaches each notebook (by its path), cohort by cohort."""
    uses: dict[str, list[dict[str, Any]]] = {}
    for cid, c in sorted(course.cohorts.items()):
        for s in c.sessions:
            uses.setdefault(s.notebook, []).append(
                {
                    "cohort": cid,
                    "cohort_name": c.name,
                    "session": s.session,
                    "number": t("page.session_no", lang, n=c.number(s.session)),
                    "date": s.date.isoformat(),
                    "method": s.method,
                    "unit": s.unit,
                }
            )
    return uses


def _notebooks_by_unit(
    course: Course, uses: dict[str, list[dict[str, Any]]]
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """The course's notebooks under their unit, and those no unit claims.

    A notebook's unit is the one it declares, else the one most of its sessions teach it in.
    """
    units = course.units
    method_names = {m: r["name"] for m, r in course.methods.iterrows()}
    notebooks_by_unit: dict[str, list[dict[str, Any]]] = {u: [] for u in units}
    unassigned: list[dict[str, Any]] = []
    for path in course.notebooks():
        rel = path.relative_to(course.root).as_posix()
        info = notebook_info(path, list(units))
        used = uses.get(rel, [])
        unit = info["unit"] if info["unit"] in units else ""
        if not unit and used:
            unit = max({u["unit"] for u in used}, key=lambda u: sum(x["unit"] == u for x in used))
        entry = {
            "path": rel,
            "kind": "case" if rel.startswith("cases/") else "exercise",
            "title": info["title"],
            "summary": info["summary"],
            "methods": [method_names.get(m, m) for m in dict.fromkeys(u["method"] for u in used)],
            "uses": used,
        }
        (notebooks_by_unit[unit] if unit in notebooks_by_unit else unassigned).append(entry)
    return notebooks_by_unit, unassigned


def _cohort_shares(course: Course) -> list[dict[str, Any]]:
    """Each cohort's dates, size and interactive share, in all and unit by unit."""
    units = course.units
    share = interactive_share(course)
    target = course.config.programme.interactive_target
    cohorts = []
    for cid, c in sorted(course.cohorts.items()):
        rows = share[share["cohort"] == cid]
        total = rows[rows["unit"] == ALL].iloc[0]
        cohorts.append(
            {
                "id": cid,
                "name": c.name,
                "start": c.config.start.isoformat() if c.config.start else "",
                "end": c.config.end.isoformat() if c.config.end else "",
                "trainees": len(c.roster),
                "sessions": int(total["sessions"]),
                "hours": float(total["hours"]),
                "share": None if pd.isna(total["share"]) else float(total["share"]),
                "below": bool(total["hours"]) and float(total["share"]) < target - 1e-9,
                "units": [
                    {
                        "id": r.unit,
                        "name": units[r.unit].name if r.unit in units else r.unit,
                        "colour": units[r.unit].colour if r.unit in units else "#777777",
                        "hours": r.hours,
                        "share": None if pd.isna(r.share) else r.share,
                    }
                    for r in rows[rows["unit"] != ALL].itertuples()
                ],
            }
        )
    return cohorts


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A course table's rows as dicts with their ``id``, a missing value as ``""``."""
    return [
        {"id": i, **{k: ("" if pd.isna(v) else v) for k, v in r.items()}}
        for i, r in table.iterrows()
    ]


def _unit_list(
    course: Course,
    lang: str,
    notebooks_by_unit: dict[str, list[dict[str, Any]]],
    faculty: list[dict[str, Any]],
    sites: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Each unit with its badge, notebooks, and how many faculty and sites serve it."""
    return [
        {
            "id": u.id,
            "name": u.name,
            # the colour's own word (红/绿/蓝/金), not the id a file uses
            "badge": t(f"unit_colour.{u.id}", lang) if f"unit_colour.{u.id}" in EN else u.name[:2],
            "colour": u.colour,
            "description": u.description,
            "notebooks": notebooks_by_unit[u.id],
            "faculty": sum(1 for f in faculty if f["unit"] == u.id),
            "sites": sum(1 for s in sites if s["unit"] == u.id),
        }
        for u in course.config.units
    ]


def _guide_context(course: Course) -> dict[str, Any]:
    lang = lang_of(course.language)
    notebooks_by_unit, unassigned = _notebooks_by_unit(course, _session_uses(course, lang))
    cohorts = _cohort_shares(course)
    faculty = _records(course.faculty)
    faculty_by_kind = [
        {
            "kind": k,
            "label": t(f"faculty_kind.{k}", lang),
            "people": [f for f in faculty if f["kind"] == k],
        }
        for k in FACULTY_KINDS
    ]
    sites = _records(course.sites)
    sites_by_category = [
        {
            "category": k,
            "label": t(f"site_category.{k}", lang),
            "colour": CATEGORY_COLOURS[k],
            "sites": [s for s in sites if s["category"] == k],
        }
        for k in CATEGORIES
    ]
    return {
        "lang": lang,
        "t": section("guide", lang),
        "programme": course.config.programme,
        "font_stack": FONT_STACK,
        "units": _unit_list(course, lang, notebooks_by_unit, faculty, sites),
        "unit_of": {u.id: u for u in course.config.units},
        "unassigned": unassigned,
        "faculty_by_kind": faculty_by_kind,
        "faculty_count": len(faculty),
        "sites_by_category": sites_by_category,
        "site_count": len(sites),
        "readings": _records(course.readings),
        "methods": _records(course.methods),
        "cohorts": cohorts,
        "target": course.config.programme.interactive_target,
        "generated": date.today().isoformat(),
    }


def render_guide(course: Course) -> str:
    """The programme guide of a loaded course as an HTML string."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every string from the course files is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = pct
    env.filters["num"] = num

    return finish_tables(
        env.get_template("guide.html.j2").render(**_guide_context(course)), course.language
    )


def guide(course_path: Course | str | Path, *, out: str | Path | None = None) -> Path:
    """Write the programme guide as one self-contained offline HTML file.

    Units with their colours, the cases and exercises in each (title,
    methods, which cohorts and sessions use them), the faculty pool, the
    teaching sites by category, the reading list, the methods and the
    interactive share per cohort. Default ``build/guide/index.html`` in the
    course folder. Returns the path written.
    """
    course = as_course(course_path)
    path = Path(out) if out else artifacts.guide_path(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_guide(course), encoding="utf-8")
    tmp.replace(path)
    return path
