"""The programme as a whole: action learning, interactive share, evaluation, the guide.

- Action learning: :func:`site_card` (a teaching site for notebooks and
  handouts), drill datasets (:func:`session_datasets`), issue-based tasks
  (课题, :func:`tasks`) assigned to trainees or roster groups.
- Interactive share: :func:`interactive_share`, :func:`share_problems` — the
  share of teaching hours in interactive methods (``methods.csv``
  ``interactive``) against ``[programme] interactive_target``.
- :func:`summary` — one cohort at a glance (``casekit summary COHORT``).
- :func:`evaluation_summary` — trainees' session ratings per teacher, method, unit.
- :func:`guide` — the annual programme guide as one offline HTML file.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import nh3
import pandas as pd
from pydantic import Field, field_validator

from kit import artifacts, kinds
from kit.course import (
    Course,
    CourseError,
    Problem,
    _Row,
    as_course,
    inspect_course,
    read_table,
)

# Labels in the course's language; the sample course is Chinese.
CATEGORY_LABELS = {
    "zh": {
        "red-heritage": "红色教育",
        "grassroots-governance": "基层治理",
        "clean-government": "廉政教育",
        "transformation": "转型发展",
    },
    "en": {
        "red-heritage": "Red heritage",
        "grassroots-governance": "Grassroots governance",
        "clean-government": "Clean government",
        "transformation": "Transformation and development",
    },
}
CATEGORY_COLOURS = {
    "red-heritage": "#c0392b",
    "grassroots-governance": "#1565c0",
    "clean-government": "#6a1b9a",
    "transformation": "#2e7d32",
}
KIND_LABELS = {
    "zh": {"leader": "领导干部", "scholar": "专家学者", "model-worker": "先进典型"},
    "en": {"leader": "Leaders", "scholar": "Scholars", "model-worker": "Model workers"},
}
FONT_STACK = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'
)
ALL = "all"  # the unit value of a cohort's total row in interactive_share()


def _lang(language: str) -> str:
    return language if language in ("zh", "en") else "en"


# ---------------------------------------------------------------- site visits


def site_card(site: dict[str, Any] | None, language: str = "zh") -> str:
    """A teaching site as a small self-contained HTML card (inline styles, escaped).

    ``site`` is a catalog row as notebooks receive it in the ``site``
    parameter: ``{"id", "name", "category", "address", "contact_role", ...}``.
    Returns ``""`` for ``None`` (a session held in the classroom).
    """
    if not site:
        return ""
    lang = _lang(language)
    e = html.escape
    category = str(site.get("category", ""))
    colour = CATEGORY_COLOURS.get(category, "#555555")
    label = CATEGORY_LABELS[lang].get(category, category)
    words = {"zh": ("现场教学点", "地址", "对接人"), "en": ("Teaching site", "Address", "Contact")}[
        lang
    ]
    rows = ""
    for name, key in ((words[1], "address"), (words[2], "contact_role")):
        if site.get(key):
            rows += (
                f'<div style="margin:2px 0"><span style="color:#666">{e(name)}：</span>'
                f"{e(str(site[key]))}</div>"
            )
    return (
        f'<div class="casekit-site" style="border-left:6px solid {colour};padding:8px 12px;'
        f'margin:8px 0;background:#fafafa;font-family:{e(FONT_STACK)};break-inside:avoid">'
        f'<div style="font-size:0.85em;color:{colour}">{e(words[0])} · {e(label)}</div>'
        f'<div style="font-size:1.15em;font-weight:bold;margin:2px 0">{e(str(site.get("name", "")))}</div>'
        f"{rows}</div>"
    )


def show_site(site: dict[str, Any] | None, language: str = "zh") -> None:
    """Display :func:`site_card` in a notebook (call it with the ``site`` parameter)."""
    from IPython.display import HTML, display

    card = site_card(site, language)
    if card:
        display(HTML(card))


# ---------------------------------------------------------------- drill datasets


def _dataset_refs(params: dict[str, Any]) -> dict[str, Any]:
    """Dataset references in a session's params: ``dataset`` (one) or ``datasets`` (name → path)."""
    refs: dict[str, Any] = {}
    if "dataset" in params:
        refs["dataset"] = params["dataset"]
    if isinstance(params.get("datasets"), dict):
        refs.update(params["datasets"])
    elif "datasets" in params:
        refs["datasets"] = params["datasets"]
    return refs


def _resolve_dataset(course: Course, cohort_id: str, ref: Any) -> tuple[Path | None, str]:
    if not isinstance(ref, str) or not ref.strip():
        return None, "must be a path to a CSV file"
    root = course.root.resolve()
    for base in (course.cohort(cohort_id).folder, course.root):
        p = (base / ref).resolve()
        # A dataset ships with the course; a path that escapes it would not exist elsewhere.
        if p.is_file() and p.is_relative_to(root):
            return p, ""
    return None, f"file {ref!r} not found under cohorts/{cohort_id}/ or the course folder"


def session_datasets(
    course: Course | str | Path, cohort_id: str, session_id: str
) -> dict[str, Path]:
    """The drill datasets of a session, name → absolute path.

    A session's ``params`` (schedule.csv) name them: ``{"dataset": "data/x.csv"}``
    or ``{"datasets": {"calls": "data/calls.csv", ...}}``; a path is looked up
    in the cohort folder first, then in the course folder, so a cohort can
    carry its own variant of a course-wide dataset. Raises :class:`CourseError`
    when one is missing.
    """
    course = as_course(course)
    s = course.cohort(cohort_id).session(session_id)
    out, problems = {}, []
    for name, ref in _dataset_refs(s.params).items():
        path, why = _resolve_dataset(course, cohort_id, ref)
        if path is None:
            problems.append(_dataset_problem(course, cohort_id, session_id, name, why))
        else:
            out[name] = path
    if problems:
        raise CourseError(problems)
    return out


def _dataset_problem(
    course: Course, cohort_id: str, session_id: str, name: str, why: str
) -> Problem:
    return Problem(
        str(course.cohort(cohort_id).folder / "schedule.csv"),
        f"session {session_id}",
        f"params.{name}",
        f"dataset {why}",
        "put the CSV in the cohort folder or the course folder and give its relative path",
    )


def dataset_problems(course: Course) -> list[Problem]:
    """Missing drill datasets across all cohorts (for ``casekit check``)."""
    problems = []
    for cid, cohort in sorted(course.cohorts.items()):
        for s in cohort.sessions:
            for name, ref in _dataset_refs(s.params).items():
                path, why = _resolve_dataset(course, cid, ref)
                if path is None:
                    problems.append(_dataset_problem(course, cid, s.session, name, why))
                elif path.suffix.lower() == ".csv":
                    try:
                        pd.read_csv(path, nrows=5, encoding="utf-8-sig")
                    except (ValueError, UnicodeDecodeError) as e:
                        problems.append(
                            _dataset_problem(
                                course, cid, s.session, name, f"{ref!r} is not a readable CSV: {e}"
                            )
                        )
    return problems


# ---------------------------------------------------------------- issue-based tasks


class Task(_Row):
    """One row of ``cohorts/<id>/tasks.csv``."""

    task: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = Field(min_length=1)
    session: str = ""
    assignee: str = Field(min_length=1)
    due: datetime | None = None
    deliverable: str = ""

    @field_validator("due", mode="before")
    @classmethod
    def _due(cls, v: Any) -> Any:
        if v in ("", None):
            return None
        # A bare date means the end of that day: trainees read "due 3 May" as "by the evening".
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()):
            return v.strip() + "T23:59:00"
        return v


TASK_COLUMNS = [
    "task",
    "title",
    "session",
    "assignee",
    "group",
    "trainee",
    "trainee_name",
    "due",
    "deliverable",
]


def _assignees(value: str) -> list[str]:
    # Several assignees in one cell: "group:第一课题组; au07" (; ； or , separated).
    return [a.strip() for a in re.split(r"[;；,，]", value) if a.strip()]


def _tasks(course: Course, cohort_id: str) -> tuple[pd.DataFrame, list[Problem]]:
    cohort = course.cohort(cohort_id)
    path = cohort.folder / "tasks.csv"
    problems: list[Problem] = []
    _, rows = read_table(path, Task, problems, required=False)
    roster = cohort.roster
    groups: dict[str, list[str]] = {}
    for tid, g in roster["group"].items():
        if g:
            groups.setdefault(g, []).append(tid)
    sessions = {s.session for s in cohort.sessions}
    out = []
    for line, t in rows:
        where = f"row {line} (task {t.task})"
        if t.session and t.session not in sessions:
            problems.append(
                Problem(
                    str(path),
                    where,
                    "session",
                    f"unknown session {t.session!r}",
                    f"use one of: {', '.join(sorted(sessions))}",
                )
            )
        for a in _assignees(t.assignee):
            if a.startswith(("group:", "组:", "组：")):
                g = re.split(r"[:：]", a, maxsplit=1)[1].strip()
                members = groups.get(g)
                if not members:
                    known = (
                        ", ".join(sorted(groups)) or "none (fill the group column of roster.csv)"
                    )
                    problems.append(
                        Problem(
                            str(path),
                            where,
                            "assignee",
                            f"unknown group {g!r}",
                            f"groups in roster.csv: {known}",
                        )
                    )
                    continue
            elif a in roster.index:
                g, members = "", [a]
            else:
                problems.append(
                    Problem(
                        str(path),
                        where,
                        "assignee",
                        f"unknown trainee {a!r}",
                        "use a trainee id from roster.csv or group:<name> for a group",
                    )
                )
                continue
            for m in members:
                out.append(
                    {
                        "task": t.task,
                        "title": t.title,
                        "session": t.session,
                        "assignee": a,
                        "group": g,
                        "trainee": m,
                        "trainee_name": roster.loc[m, "name"],
                        "due": pd.Timestamp(t.due) if t.due else pd.NaT,
                        "deliverable": t.deliverable,
                    }
                )
    df = pd.DataFrame(out, columns=TASK_COLUMNS).drop_duplicates(["task", "trainee"])
    return df.reset_index(drop=True), problems


def tasks(course: Course | str | Path, cohort_id: str) -> pd.DataFrame:
    """A cohort's issue-based tasks (课题), one row per task and trainee.

    Reads ``cohorts/<id>/tasks.csv`` (``task,title,session,assignee,due,deliverable``;
    absent → no tasks). ``assignee`` is a trainee id or ``group:<name>`` of the
    roster's ``group`` column, several separated by ``;``. Groups are expanded
    to their members; the ``group`` column keeps the group name so a mark can
    be given to the whole group. Raises :class:`CourseError` on unknown
    trainees, groups or sessions.
    """
    course = as_course(course)
    df, problems = _tasks(course, cohort_id)
    if [p for p in problems if p.severity == "error"]:
        raise CourseError(problems)
    return df


def group_members(course: Course | str | Path, cohort_id: str, group: str) -> list[str]:
    """Trainee ids of a roster group (``[]`` if no such group)."""
    roster = as_course(course).cohort(cohort_id).roster
    return [str(t) for t in roster.index[roster["group"] == group]]


def task_problems(course: Course) -> list[Problem]:
    """Problems in every cohort's ``tasks.csv`` (for ``casekit check``)."""
    problems = []
    for cid in sorted(course.cohorts):
        problems += _tasks(course, cid)[1]
    return problems


# ---------------------------------------------------------------- interactive share


SHARE_COLUMNS = ["cohort", "unit", "sessions", "hours", "interactive_hours", "share"]


def interactive_share(course: Course | str | Path, cohort: str | None = None) -> pd.DataFrame:
    """Share of teaching hours in interactive methods, per cohort and unit.

    One row per (cohort, unit) that has sessions, then one row per cohort
    with ``unit == "all"``: columns ``cohort, unit, sessions, hours,
    interactive_hours, share`` (share in 0..1, NaN when no hours). A method is
    interactive when its ``interactive`` column in ``catalog/methods.csv`` is
    true; hours come from ``schedule.csv``.
    """
    course = as_course(course)
    interactive = {m: bool(v) for m, v in course.methods["interactive"].items()}
    ids = [cohort] if cohort else sorted(course.cohorts)
    order = {u: i for i, u in enumerate(course.units)}
    rows = []
    for cid in ids:
        c = course.cohort(cid)
        per: dict[str, list[float]] = {}
        for s in c.sessions:
            acc = per.setdefault(s.unit, [0, 0.0, 0.0])
            acc[0] += 1
            acc[1] += s.hours
            acc[2] += s.hours if interactive.get(s.method, False) else 0.0
        for unit in sorted(per, key=lambda u: order.get(u, len(order))):
            n, h, ih = per[unit]
            rows.append([cid, unit, n, h, ih, ih / h if h else float("nan")])
        n = sum(v[0] for v in per.values())
        h = sum(v[1] for v in per.values())
        ih = sum(v[2] for v in per.values())
        rows.append([cid, ALL, n, h, ih, ih / h if h else float("nan")])
    return pd.DataFrame(rows, columns=SHARE_COLUMNS)


def share_problems(course: Course | str | Path) -> list[Problem]:
    """A warning for each cohort whose interactive share is below the course's target."""
    course = as_course(course)
    target = course.config.programme.interactive_target
    table = interactive_share(course)
    out = []
    for r in table[table["unit"] == ALL].itertuples():
        # A tiny tolerance: 0.75 computed from hours must not warn against 0.75.
        if r.hours and r.share < target - 1e-9:
            need = target * r.hours - r.interactive_hours
            out.append(
                Problem(
                    str(course.cohort(r.cohort).folder / "schedule.csv"),
                    f"cohort {r.cohort}",
                    "method",
                    f"cohort {r.cohort}: interactive teaching is {r.share:.0%} of {r.hours:g} h, "
                    f"below the target {target:.0%}",
                    f"move about {need:.1f} h from lecture to seminar, case, observation or drill "
                    "(methods with interactive=true in catalog/methods.csv)",
                    severity="warning",
                )
            )
    return out


# ---------------------------------------------------------------- cohort summary


@dataclass
class CohortSummary:
    """One cohort at a glance, for ``casekit summary COHORT``."""

    cohort: str
    name: str
    sessions: (
        pd.DataFrame
    )  # session, date, unit, method, interactive, hours, teacher, site, deliberation
    units: pd.DataFrame  # interactive_share rows of this cohort, unit names added
    share: float
    target: float
    deliberations_present: list[str]
    deliberations_missing: list[str]
    tasks: pd.DataFrame  # task, title, session, due, deliverable, assignees, trainees
    problems: list[Problem] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return float(self.sessions["hours"].sum()) if len(self.sessions) else 0.0

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        head = Text.assemble(
            (f"{self.name} ({self.cohort})", "bold"),
            f" — {len(self.sessions)} sessions, {self.hours:g} h, interactive ",
            (f"{self.share:.0%}", "green" if self.share >= self.target - 1e-9 else "bold red"),
            f" (target {self.target:.0%})",
        )
        units = Table("unit", "sessions", "hours", "interactive h", "share", title="by unit")
        for r in self.units.itertuples():
            units.add_row(
                f"{r.unit_name}",
                str(r.sessions),
                f"{r.hours:g}",
                f"{r.interactive_hours:g}",
                f"{r.share:.0%}",
            )
        sess = Table(
            "session",
            "date",
            "unit",
            "method",
            "hours",
            "teacher",
            "deliberation",
            title="sessions",
        )
        for r in self.sessions.itertuples():
            sess.add_row(
                r.session,
                str(r.date),
                r.unit,
                r.method,
                f"{r.hours:g}",
                r.teacher_name,
                "✓" if r.deliberation else "—",
            )
        parts: list[Any] = [head, units, sess]
        if len(self.tasks):
            tt = Table("task", "title", "due", "assignees", "trainees", title="issue-based tasks")
            for r in self.tasks.itertuples():
                tt.add_row(
                    r.task,
                    r.title,
                    "" if pd.isna(r.due) else str(r.due),
                    r.assignees,
                    str(r.trainees),
                )
            parts.append(tt)
        if self.deliberations_missing:
            parts.append(
                Text(
                    f"no deliberation yet: {', '.join(self.deliberations_missing)}", style="yellow"
                )
            )
        parts += [
            Text(str(p), style="yellow" if p.severity == "warning" else "red")
            for p in self.problems
        ]
        return Group(*parts)


def summary(course: Course | str | Path, cohort: str) -> CohortSummary:
    """Sessions by unit, hours, interactive share, deliberations present/missing and tasks of a cohort."""
    from kit.deliberation import record_path

    course = as_course(course)
    c = course.cohort(cohort)
    interactive = {m: bool(v) for m, v in course.methods["interactive"].items()}
    rows = []
    present, missing = [], []
    for s in c.sessions:
        has = record_path(course, cohort, s.session).exists()
        (present if has else missing).append(s.session)
        rows.append(
            {
                "session": s.session,
                "date": s.date,
                "unit": s.unit,
                "method": s.method,
                "interactive": interactive.get(s.method, False),
                "hours": s.hours,
                "teacher": s.teacher,
                "teacher_name": course.faculty.loc[s.teacher, "name"]
                if s.teacher in course.faculty.index
                else s.teacher,
                "site": s.site,
                "notebook": s.notebook,
                "deliberation": has,
            }
        )
    sessions = pd.DataFrame(
        rows,
        columns=[
            "session",
            "date",
            "unit",
            "method",
            "interactive",
            "hours",
            "teacher",
            "teacher_name",
            "site",
            "notebook",
            "deliberation",
        ],
    )
    share_table = interactive_share(course, cohort)
    total = share_table[share_table["unit"] == ALL].iloc[0]
    units = share_table[share_table["unit"] != ALL].copy()
    units.insert(
        2, "unit_name", [course.units[u].name if u in course.units else u for u in units["unit"]]
    )
    task_df, problems = _tasks(course, cohort)
    if len(task_df):
        grouped = (
            task_df.groupby("task", sort=False)
            .agg(
                title=("title", "first"),
                session=("session", "first"),
                due=("due", "first"),
                deliverable=("deliverable", "first"),
                assignees=("assignee", lambda s: "; ".join(dict.fromkeys(s))),
                trainees=("trainee", "nunique"),
            )
            .reset_index()
        )
    else:
        grouped = pd.DataFrame(
            columns=["task", "title", "session", "due", "deliverable", "assignees", "trainees"]
        )
    problems += [p for p in share_problems(course) if p.where == f"cohort {cohort}"]
    return CohortSummary(
        cohort=cohort,
        name=c.name,
        sessions=sessions,
        units=units.reset_index(drop=True),
        share=float(total["share"]) if total["hours"] else float("nan"),
        target=course.config.programme.interactive_target,
        deliberations_present=present,
        deliberations_missing=missing,
        tasks=grouped,
        problems=problems,
    )


# ---------------------------------------------------------------- session evaluation


EVAL_COLUMNS = ["by", "key", "label", "responses", "trainees", "mean", "min", "max", "comments"]


def clean_comment(text: Any) -> str:
    """A trainee's comment made safe for HTML: every tag removed, text entity-escaped."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    return nh3.clean(str(text), tags=set()).strip()


def evaluation_summary(
    course: Course | str | Path, cohort: str, ratings: pd.DataFrame
) -> pd.DataFrame:
    """Aggregate trainees' session ratings per teacher, method and unit.

    ``ratings`` has columns ``trainee, session, question, value, comment``
    (one row per rating answer; an optional ``about`` column, ``session`` or
    ``teacher``, is ignored: both describe the class the teacher gave). Each
    rating is attributed to the session's teacher, method and unit from the
    schedule. Returns one row per group with columns ``by`` (``teacher`` |
    ``method`` | ``unit``), ``key`` (id), ``label`` (name), ``responses``,
    ``trainees``, ``mean``, ``min``, ``max`` and ``comments`` — a list of
    comments sanitised with nh3 (HTML-safe; insert them into HTML as they
    are). Rows for sessions not in the schedule or with a non-numeric value
    are left out of the means; their number is in ``attrs["ignored"]``.
    """
    course = as_course(course)
    c = course.cohort(cohort)
    missing = {"trainee", "session", "value"} - set(ratings.columns)
    if missing:
        raise ValueError(
            f"ratings need the columns trainee, session, question, value, comment; missing {sorted(missing)}"
        )
    sched = pd.DataFrame(
        [
            {"session": s.session, "teacher": s.teacher, "method": s.method, "unit": s.unit}
            for s in c.sessions
        ]
    )
    df = ratings.copy()
    if "comment" not in df.columns:
        df["comment"] = ""
    df["session"] = df["session"].astype(str)
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    df = df.merge(sched, on="session", how="left")
    known = df["teacher"].notna()
    ignored = int(
        (~known).sum()
        + (known & df["value"].isna() & (df["comment"].map(clean_comment) == "")).sum()
    )
    df = df[known]
    labels = {
        "teacher": lambda k: course.faculty.loc[k, "name"] if k in course.faculty.index else k,
        "method": lambda k: course.methods.loc[k, "name"] if k in course.methods.index else k,
        "unit": lambda k: course.units[k].name if k in course.units else k,
    }
    out = []
    for by in ("teacher", "method", "unit"):
        for key, g in df.groupby(by, sort=True):
            vals = g["value"].dropna()
            comments = [x for x in (clean_comment(v) for v in g["comment"]) if x]
            out.append(
                {
                    "by": by,
                    "key": key,
                    "label": labels[by](key),
                    "responses": int(vals.size),
                    "trainees": int(g.loc[g["value"].notna(), "trainee"].nunique()),
                    "mean": float(vals.mean()) if vals.size else float("nan"),
                    "min": float(vals.min()) if vals.size else float("nan"),
                    "max": float(vals.max()) if vals.size else float("nan"),
                    "comments": comments,
                }
            )
    result = pd.DataFrame(out, columns=EVAL_COLUMNS)
    result.attrs["ignored"] = ignored
    return result


def evaluation_html(table: pd.DataFrame, language: str = "zh") -> str:
    """An HTML fragment of :func:`evaluation_summary` (labels escaped, comments already sanitised)."""
    lang = _lang(language)
    heads = {
        "zh": {
            "teacher": "按教师",
            "method": "按教学方法",
            "unit": "按单元",
            "cols": ("", "人次", "平均", "最低", "最高", "评语"),
        },
        "en": {
            "teacher": "By teacher",
            "method": "By method",
            "unit": "By unit",
            "cols": ("", "responses", "mean", "min", "max", "comments"),
        },
    }[lang]
    e = html.escape
    parts = []
    for by in ("teacher", "method", "unit"):
        sub = table[table["by"] == by]
        if not len(sub):
            continue
        parts.append(
            f"<h3>{e(heads[by])}</h3><table><tr>"
            + "".join(f"<th>{e(c)}</th>" for c in heads["cols"])
            + "</tr>"
        )
        for r in sub.itertuples():
            num = lambda x: "" if pd.isna(x) else f"{x:.2f}"  # noqa: E731
            comments = "".join(f"<li>{c}</li>" for c in r.comments)  # sanitised by clean_comment
            parts.append(
                f"<tr><td>{e(str(r.label))}</td><td>{r.responses}</td><td>{num(r.mean)}</td>"
                f"<td>{num(r.min)}</td><td>{num(r.max)}</td><td><ul>{comments}</ul></td></tr>"
            )
        parts.append("</table>")
    return "\n".join(parts)


# ---------------------------------------------------------------- notebook facts


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
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
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


def _guide_context(course: Course) -> dict[str, Any]:
    lang = _lang(course.language)
    units = course.units
    uses: dict[str, list[dict[str, Any]]] = {}
    for cid, c in sorted(course.cohorts.items()):
        for s in c.sessions:
            uses.setdefault(s.notebook, []).append(
                {
                    "cohort": cid,
                    "cohort_name": c.name,
                    "session": s.session,
                    "date": s.date.isoformat(),
                    "method": s.method,
                    "unit": s.unit,
                }
            )
    method_names = {m: r["name"] for m, r in course.methods.iterrows()}
    notebooks_by_unit: dict[str, list[dict[str, Any]]] = {u: [] for u in units}
    unassigned = []
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

    def records(table: pd.DataFrame) -> list[dict[str, Any]]:
        return [
            {"id": i, **{k: ("" if pd.isna(v) else v) for k, v in r.items()}}
            for i, r in table.iterrows()
        ]

    faculty = records(course.faculty)
    faculty_by_kind = [
        {"kind": k, "label": KIND_LABELS[lang][k], "people": [f for f in faculty if f["kind"] == k]}
        for k in KIND_LABELS[lang]
    ]
    sites = records(course.sites)
    sites_by_category = [
        {
            "category": k,
            "label": CATEGORY_LABELS[lang][k],
            "colour": CATEGORY_COLOURS[k],
            "sites": [s for s in sites if s["category"] == k],
        }
        for k in CATEGORY_LABELS[lang]
    ]
    unit_list = [
        {
            "id": u.id,
            "name": u.name,
            "colour": u.colour,
            "description": u.description,
            "notebooks": notebooks_by_unit[u.id],
            "faculty": sum(1 for f in faculty if f["unit"] == u.id),
            "sites": sum(1 for s in sites if s["unit"] == u.id),
        }
        for u in course.config.units
    ]
    return {
        "lang": lang,
        "t": GUIDE_TEXT[lang],
        "programme": course.config.programme,
        "font_stack": FONT_STACK,
        "units": unit_list,
        "unit_of": {u.id: u for u in course.config.units},
        "unassigned": unassigned,
        "faculty_by_kind": faculty_by_kind,
        "faculty_count": len(faculty),
        "sites_by_category": sites_by_category,
        "site_count": len(sites),
        "readings": records(course.readings),
        "methods": records(course.methods),
        "cohorts": cohorts,
        "target": target,
        "generated": date.today().isoformat(),
    }


GUIDE_TEXT = {
    "zh": {
        "guide": "培训体系建设指南",
        "contents": "目录",
        "units": "四色单元",
        "cases": "案例与练习",
        "case": "案例",
        "exercise": "练习",
        "none": "暂无",
        "used": "使用",
        "methods_used": "教学方法",
        "faculty": "师资库",
        "people": "人",
        "sites": "现场教学点",
        "readings": "教材库",
        "methods": "教学方法",
        "interactive": "互动式",
        "lecture": "讲授式",
        "share": "互动教学比重",
        "target": "目标",
        "cohorts": "班次",
        "trainees": "学员",
        "sessions": "讲",
        "hours": "学时",
        "below": "低于目标",
        "unassigned": "未归入单元",
        "title": "职务",
        "speciality": "专长",
        "address": "地址",
        "contact": "对接人",
        "author": "作者",
        "year": "年份",
        "generated": "生成日期",
        "name": "名称",
        "unit": "单元",
        "cohort": "班次",
    },
    "en": {
        "guide": "Programme guide",
        "contents": "Contents",
        "units": "Units",
        "cases": "Cases and exercises",
        "case": "case",
        "exercise": "exercise",
        "none": "none yet",
        "used": "used in",
        "methods_used": "methods",
        "faculty": "Faculty pool",
        "people": "people",
        "sites": "Teaching sites",
        "readings": "Reading list",
        "methods": "Teaching methods",
        "interactive": "interactive",
        "lecture": "lecture",
        "share": "Interactive share",
        "target": "target",
        "cohorts": "Cohorts",
        "trainees": "trainees",
        "sessions": "sessions",
        "hours": "hours",
        "below": "below target",
        "unassigned": "Not in a unit",
        "title": "title",
        "speciality": "speciality",
        "address": "address",
        "contact": "contact",
        "author": "author",
        "year": "year",
        "generated": "generated",
        "name": "name",
        "unit": "unit",
        "cohort": "cohort",
    },
}


def render_guide(course: Course) -> str:
    """The programme guide of a loaded course as an HTML string."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,  # every string from the course files is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda x: "—" if x is None else f"{x:.0%}"
    env.filters["num"] = lambda x: f"{x:g}"
    return env.get_template("guide.html.j2").render(**_guide_context(course))


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


def programme_problems(course: Course | str | Path) -> list[Problem]:
    """Everything this module checks, for ``casekit check``: tasks, datasets, interactive share."""
    if not isinstance(course, Course):
        loaded, problems = inspect_course(course)
        if loaded is None:
            return problems
        course = loaded
    return task_problems(course) + dataset_problems(course) + share_problems(course)


# ---------------------------------------------------------------- the cohort report


def _ratings(question_scores: pd.DataFrame) -> pd.DataFrame:
    """Rating answers as ``trainee, session, question, value, comment`` rows.

    A rating's comment is the answer to the text question with the same id
    plus ``-comment`` (``ask.text("r1-eval-comment", ...)``), by the same trainee.
    """
    cols = ["trainee", "session", "question", "value", "comment"]
    rated = question_scores[question_scores["kind"].isin(kinds.names(rated=True))]
    if rated.empty:
        return pd.DataFrame(columns=cols)

    def value(raw: Any) -> Any:
        try:
            return json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return None

    texts = question_scores[question_scores["kind"].isin(kinds.names(free_text=True))]
    comments = {
        (r.session, r.trainee, r.question.removesuffix("-comment")): value(r.answer)
        for r in texts.itertuples()
        if r.question.endswith("-comment")
    }
    out = rated[["trainee", "session", "question"]].copy()
    out["value"] = rated["answer"].map(value)
    out["comment"] = [
        str(comments.get((s, t, q)) or "")
        for s, t, q in zip(out["session"], out["trainee"], out["question"], strict=True)
    ]
    return out[cols]


def _unit_chart(per_unit: pd.DataFrame, course: Course) -> str:
    """A bar chart of the mean share of points per unit, in the units' colours, as an <img>."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]
    units = [u for u in course.config.units if u.id in set(per_unit["unit"])]
    if not units:
        return ""
    share = [
        100
        * per_unit[per_unit["unit"] == u.id]["points"].sum()
        / max(per_unit[per_unit["unit"] == u.id]["max_points"].sum(), 1e-9)
        for u in units
    ]
    fig, ax = plt.subplots(figsize=(6, 2.6), dpi=110)
    ax.bar([u.name for u in units], share, color=[u.colour for u in units])
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    for i, v in enumerate(share):
        ax.text(i, v + 2, f"{v:.0f}%", ha="center")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="unit scores" src="data:image/png;base64,{data}">'


def report(
    course: Course | str | Path,
    cohort: str,
    *,
    db: str | None = None,
    out: str | Path | None = None,
) -> Path:
    """Write the cohort dashboard as one offline HTML page and return its path.

    Teaching time and interactive share per unit, scores per unit colour (with
    a chart), submissions and statuses per session, and the session evaluation
    per teacher, method and unit, all from the course files and the gradebook.
    """
    from kit.export import page
    from kit.gradebook import Gradebook

    course = as_course(course)
    co = course.cohort(cohort)
    zh = _lang(course.language) == "zh"
    e = html.escape
    with Gradebook.open(course.root, db) as gb:
        qs = gb.question_scores(cohort)
        per_unit = gb.per_unit(cohort)
        per_session = gb.per_session(cohort)
    share = interactive_share(course, cohort)
    names = {u.id: u.name for u in course.config.units}
    parts = [f"<h2>{'教学安排与互动比重' if zh else 'Teaching time and interactive share'}</h2>"]
    parts.append(
        "<table><tr>"
        + "".join(
            f"<th>{h}</th>"
            for h in (
                ("单元", "课次", "学时", "互动学时", "互动比重")
                if zh
                else ("unit", "sessions", "hours", "interactive h", "share")
            )
        )
        + "</tr>"
    )
    for r in share.itertuples():
        label = names.get(r.unit, "合计" if zh else "all")
        pct = "" if pd.isna(r.share) else f"{100 * r.share:.0f}%"
        parts.append(
            f"<tr><td>{e(label)}</td><td>{r.sessions}</td><td>{r.hours:g}</td>"
            f"<td>{r.interactive_hours:g}</td><td>{pct}</td></tr>"
        )
    parts.append("</table>")
    parts.append(f"<h2>{'各单元得分' if zh else 'Scores by unit'}</h2>")
    parts.append(
        _unit_chart(per_unit, course)
        or f"<p>{'尚无评分结果。' if zh else 'Nothing graded yet.'}</p>"
    )
    parts.append(f"<h2>{'各课次提交与批改' if zh else 'Submissions by session'}</h2>")
    if zh:
        per_session = per_session.rename(
            columns={
                "session": "课次",
                "submissions": "提交",
                "mean": "平均分",
                "max_points": "满分",
                "graded": "已评分",
                "needs-marking": "待批阅",
                "failed": "评分失败",
            }
        )
    parts.append(
        per_session.to_html(index=False, float_format=lambda x: f"{x:.1f}", na_rep="")
        if len(per_session)
        else f"<p>{'尚无提交。' if zh else 'No submissions yet.'}</p>"
    )
    parts.append(f"<h2>{'课程评估' if zh else 'Session evaluation'}</h2>")
    evaluation = evaluation_summary(course, cohort, _ratings(qs))
    parts.append(
        evaluation_html(evaluation, course.language)
        if len(evaluation)
        else f"<p>{'尚无评价。' if zh else 'No ratings yet.'}</p>"
    )
    target = Path(out) if out else artifacts.report_path(course, co.id)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        page(
            f"{co.name} · {'培训情况报告' if zh else 'cohort report'}",
            "\n".join(parts),
            colour=course.config.units[0].colour,
            programme=course.config.programme.name,
            language=course.language,
        ),
        encoding="utf-8",
    )
    return target
