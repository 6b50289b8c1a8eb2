"""``report``: the cohort dashboard (teaching time, scores by unit, submissions, evaluation)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from kit import artifacts, kinds
from kit.course import Course, as_course
from kit.messages import section
from kit.programme.evaluation import evaluation_html, evaluation_summary
from kit.programme.share import interactive_share


def _about(course: Course, cohort: str) -> dict[tuple[str, str], str]:
    """(session, question) → what each built rating question asks about (``session``/``teacher``)."""
    found = {}
    for s in course.cohort(cohort).sessions:
        path = artifacts.build_paths(course, cohort, s.session).keys
        if path.exists():
            keys, _ = artifacts.read_keys(path)
            for spec in keys.questions:
                if kinds.find(spec.get("kind")).rated:
                    found[(s.session, spec["id"])] = str(spec.get("about") or "session")
    return found


def _ratings(question_scores: pd.DataFrame, about: dict[tuple[str, str], str]) -> pd.DataFrame:
    """Rating answers as ``trainee, session, question, value, comment, about`` rows.

    A rating's comment is the answer to the text question with the same id
    plus ``-comment`` (``ask.text("r1-eval-comment", ...)``), by the same trainee.
    """
    cols = ["trainee", "session", "question", "value", "comment", "about"]
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
    out["about"] = [
        about.get((s, q), "session") for s, q in zip(out["session"], out["question"], strict=True)
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
    L = section("report", course.language)
    e = html.escape
    with Gradebook.open(course.root, db) as gb:
        qs = gb.question_scores(cohort)
        per_unit = gb.per_unit(cohort)
        per_session = gb.per_session(cohort)
    share = interactive_share(course, cohort)
    names = {u.id: u.name for u in course.config.units}
    parts = [f"<h2>{L['share_title']}</h2>"]
    heads = ("col_unit", "col_sessions", "col_hours", "col_interactive", "col_share")
    parts.append("<table><tr>" + "".join(f"<th>{L[h]}</th>" for h in heads) + "</tr>")
    for r in share.itertuples():
        label = names.get(r.unit, L["all"])
        pct = "" if pd.isna(r.share) else f"{100 * r.share:.0f}%"
        parts.append(
            f"<tr><td>{e(label)}</td><td>{r.sessions}</td><td>{r.hours:g}</td>"
            f"<td>{r.interactive_hours:g}</td><td>{pct}</td></tr>"
        )
    parts.append("</table>")
    parts.append(f"<h2>{L['scores_title']}</h2>")
    parts.append(_unit_chart(per_unit, course) or f"<p>{L['nothing_graded']}</p>")
    parts.append(f"<h2>{L['submissions_title']}</h2>")
    per_session = per_session.rename(
        columns={c: L[f"session_col.{c}"] for c in per_session.columns if f"session_col.{c}" in L}
    )
    parts.append(
        per_session.to_html(index=False, float_format=lambda x: f"{x:.1f}", na_rep="")
        if len(per_session)
        else f"<p>{L['no_submissions']}</p>"
    )
    parts.append(f"<h2>{L['evaluation_title']}</h2>")
    evaluation = evaluation_summary(course, cohort, _ratings(qs, _about(course, cohort)))
    parts.append(
        evaluation_html(evaluation, course.language)
        if len(evaluation)
        else f"<p>{L['no_ratings']}</p>"
    )
    target = Path(out) if out else artifacts.report_path(course, co.id)
    artifacts.write_text(
        target,
        page(
            f"{co.name} · {L['title']}",
            "\n".join(parts),
            colour=course.config.units[0].colour,
            programme=course.config.programme.name,
            language=course.language,
        ),
    )
    return target
