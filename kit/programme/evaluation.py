"""Session evaluation: trainees' ratings per teacher, method and unit."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import nh3
import pandas as pd

from kit.course import Course, as_course
from kit.messages import section, t
from kit.pages.present import fit_class, html_text, scroll_box

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
    and optionally ``about`` (``session`` or ``teacher``, what the rating
    question asks about; ``session`` when absent), one row per rating answer.
    Each rating is attributed to the session's teacher, method and unit from
    the schedule. A teacher is judged by the ratings about the teacher where
    there are any, else by the ratings of their sessions (never the two
    averaged together); methods and units by the ratings of the sessions.
    Returns one row per group with columns ``by`` (``teacher`` | ``method`` |
    ``unit``), ``key`` (id), ``label`` (name), ``responses`` (ratings),
    ``trainees`` (raters), ``mean``, ``min``, ``max`` and ``comments`` — a
    list of comments sanitised with nh3 (HTML-safe; insert them into HTML as
    they are). Rows for sessions not in the schedule or with a non-numeric
    value are left out of the means; their number is in ``attrs["ignored"]``.
    """
    course = as_course(course)
    c = course.cohort(cohort)
    missing = {"trainee", "session", "value"} - set(ratings.columns)
    if missing:
        raise ValueError(t("evaluation.columns", missing=sorted(missing)))
    sched = pd.DataFrame(
        [
            {"session": s.session, "teacher": s.teacher, "method": s.method, "unit": s.unit}
            for s in c.sessions
        ]
    )
    df = ratings.copy()
    if "comment" not in df.columns:
        df["comment"] = ""
    df["about"] = df["about"].fillna("session") if "about" in df.columns else "session"
    df["session"] = df["session"].astype(str)
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    df = df.merge(sched, on="session", how="left")
    # sanitised once (a programme's comments are many), not once per grouping
    df["comment"] = [clean_comment(v) for v in df["comment"].tolist()]
    known = df["teacher"].notna()
    ignored = int((~known).sum() + (known & df["value"].isna() & (df["comment"] == "")).sum())
    df = df[known]
    labels = {
        "teacher": lambda k: course.faculty.loc[k, "name"] if k in course.faculty.index else k,
        "method": lambda k: course.methods.loc[k, "name"] if k in course.methods.index else k,
        "unit": lambda k: course.units[k].name if k in course.units else k,
    }
    out = []
    for by in ("teacher", "method", "unit"):
        for key, g in df.groupby(by, sort=True):
            about_teacher = g["about"] == "teacher"
            if by == "teacher" and (about_teacher & g["value"].notna()).any():
                g = g[about_teacher]
            else:
                g = g[~about_teacher]
            if g.empty:
                continue
            vals = g["value"].dropna()
            comments = [x for x in g["comment"].tolist() if x]
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


def evaluation_html(table: pd.DataFrame, language: str = "zh", *, finished: bool = False) -> str:
    """An HTML fragment of :func:`evaluation_summary` (labels escaped, comments already sanitised).

    ``finished``: tables already made phone-readable (cell classes, scroll
    box), which :func:`kit.pages.present.finish_tables` then leaves as they are —
    for a programme's report, whose comment cells are large.
    """
    heads = section("evaluation", language)
    cols = ("", heads["raters"], heads["mean"], heads["min"], heads["max"], heads["comments"])
    e = html.escape
    parts = []

    def cls(text: str) -> str:
        return f' class="{fit_class(html_text(text))}"' if finished else ""

    for by in ("teacher", "method", "unit"):
        sub = table[table["by"] == by]
        if not len(sub):
            continue
        rows = ["<tr>" + "".join(f"<th{cls(e(c))}>{e(c)}</th>" for c in cols) + "</tr>"]
        for r in sub.itertuples():
            num = lambda x: "" if pd.isna(x) else f"{x:.2f}"  # noqa: E731
            comments = "".join(f"<li>{c}</li>" for c in r.comments)  # sanitised by clean_comment
            cells = [e(str(r.label)), str(r.trainees), num(r.mean), num(r.min), num(r.max)]
            rows.append(
                "<tr>"
                + "".join(f"<td{cls(c)}>{c}</td>" for c in cells)
                + f"<td{cls(comments)}><ul>{comments}</ul></td></tr>"
            )
        table_html = "<table>" + "\n".join(rows) + "\n</table>"
        parts.append(
            f"<h3>{e(heads[by])}</h3>" + (scroll_box(table_html) if finished else table_html)
        )
    return "\n".join(parts)
