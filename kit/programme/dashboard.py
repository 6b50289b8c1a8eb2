"""``report``: the cohort dashboard a director can act on.

At the top, the cohort in a few figures, each with its denominator. Then the
sessions by date with their titles and hand-ins against the roster; who has
not handed in (per due session, and who handed in nothing at all); unit
scores over what was due, in the programme's unit order, as a chart; a
trainee × session heat map; teaching time and the interactive share; and the
evaluation as charts and tables. The numbers come from
:mod:`kit.programme.figures`.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

import pandas as pd

from kit import artifacts
from kit.course import Course, as_course
from kit.messages import section, t
from kit.numbers import pct
from kit.pages import charts
from kit.pages.pdf import to_pdf
from kit.pages.present import fit_class, html_table, local_time, num, scroll_box
from kit.problems import UserError
from kit.programme.evaluation import evaluation_html, evaluation_summary
from kit.programme.figures import CohortFigures, cohort_figures
from kit.programme.share import interactive_share

REPORT_CSS = """
.ck-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr)); gap: .6rem; margin: 1rem 0; }
.ck-card { border: 1px solid var(--rule); border-top: 4px solid var(--unit); border-radius: 4px; padding: .5rem .8rem; }
.ck-card b { display: block; font-size: 1.5rem; line-height: 1.3; }
.ck-card span { color: var(--muted); font-size: .85rem; }
.ck-swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .3em; vertical-align: -.05em; }
td.ck-heat { text-align: center; min-width: 2.8em; }
td.ck-miss { color: #b71c1c; background: #fdecea; }
.ck-legend span { display: inline-block; padding: 0 .5em; margin-right: .3em; border-radius: 2px; font-size: .85rem; }
ul.ck-names { columns: 10rem; padding-left: 1.2rem; }
"""


def _heat_colour(share: float) -> str:
    # red (0) → amber → green (1), light enough for black text
    hue = 120 * max(0.0, min(1.0, share))
    return f"hsl({hue:.0f}, 62%, 82%)"


def _cards(f: CohortFigures, course: Course, L: dict[str, str]) -> str:
    n = len(f.trainees)
    due = f.due_sessions
    handed = sum(s.handed_in for s in due)
    expected = n * len(due)
    ratings = pd.to_numeric(f.ratings["value"], errors="coerce").dropna()
    share_due = f.unit_scores["share_due"].mean() if len(f.unit_scores) else float("nan")
    cards = [
        (str(n), L["card_trainees"]),
        (f"{len(due)} / {len(f.sessions)}", L["card_sessions"]),
        (f"{handed} / {expected}" if expected else "—", L["card_handed_in"]),
        (str(len(f.nothing_in)), L["card_nothing_in"]),
        (pct(share_due), L["card_score"]),
        (num(ratings.mean()) if len(ratings) else "—", L["card_rating"]),
    ]
    e = html.escape
    body = "".join(f'<div class="ck-card"><b>{e(v)}</b><span>{e(k)}</span></div>' for v, k in cards)
    return f'<div class="ck-cards">{body}</div>'


def _sessions_table(f: CohortFigures, course: Course, L: dict[str, str]) -> str:
    e = html.escape
    heads = ["col_no", "col_date", "col_unit", "col_title", "col_handed_in", "col_marking_state"]
    heads.append("col_mean")
    rows = []
    n = len(f.trainees)
    for s in f.sessions:
        unit = course.units.get(s.unit)
        swatch = f'<span class="ck-swatch" style="background:{unit.colour}"></span>' if unit else ""
        due = course.due_at(f.cohort, s.session)
        title = e(s.title) + (
            f'<br><small class="ck-muted">{e(L["due_at"])} {e(local_time(due, course.zone))}</small>'
            if due
            else ""
        )
        if s.mode == "practice":
            title += f' <small class="ck-muted">（{e(L["practice"])}）</small>'
        counts = (
            ("col_graded", s.graded),
            ("col_marking", s.needs_marking),
            ("col_failed", s.failed),
        )
        state = " · ".join(f"{L[k]} {v}" for k, v in counts if v)
        no = t("page.session_no", course.language, n=s.number)
        unit_name = unit.name if unit else s.unit
        rows.append(
            [e(no), s.date.isoformat(), swatch + e(unit_name), title, f"{s.handed_in} / {n}"]
            + [e(state), pct(s.mean_share)]
        )
    return html_table([L[h] for h in heads], rows)


def _missing(f: CohortFigures, course: Course, L: dict[str, str]) -> str:
    e = html.escape

    def name(tid: str) -> str:
        return f.names.get(tid) or tid

    parts = []
    if f.nothing_in:
        parts.append(
            f"<h3>{e(L['nothing_in'].format(n=len(f.nothing_in), total=len(f.trainees)))}</h3>"
            '<ul class="ck-names">'
            + "".join(f"<li>{e(name(x))}</li>" for x in f.nothing_in)
            + "</ul>"
        )
    for s in f.due_sessions:
        if s.mode != "assessed" or not s.missing:
            continue
        names = "、".join(name(x) for x in s.missing)
        label = L["missing_session"].format(
            no=t("page.session_no", course.language, n=s.number),
            title=s.title,
            n=len(s.missing),
            total=len(f.trainees),
        )
        parts.append(f"<details><summary>{e(label)}</summary><p>{e(names)}</p></details>")
    return "\n".join(parts) or f"<p>{e(L['everyone_in'])}</p>"


def _unit_scores(f: CohortFigures, course: Course, L: dict[str, str]) -> str:
    if f.unit_scores.empty:
        return f"<p>{html.escape(L['nothing_graded'])}</p>"
    units = [course.units[u] for u in f.unit_scores["unit"]]
    chart = charts.hbars(
        [u.name for u in units],
        [100 * x for x in f.unit_scores["share_due"]],
        [u.colour for u in units],
        alt=L["scores_title"],
        limit=100,
        value_format="{:.0f}%",
        axis_label=L["axis_share_due"],
    )
    rows = [
        [html.escape(course.units[r.unit].name), r.due_sessions]
        + [pct(r.share_due), pct(r.share_handed_in)]
        for r in f.unit_scores.itertuples()
    ]
    heads = [L[h] for h in ("col_unit", "col_due_sessions", "col_share_due", "col_share_in")]
    note = f"<p class='ck-muted'>{html.escape(L['scores_note'])}</p>"
    return chart + note + html_table(heads, rows)


def _heat_map(f: CohortFigures, course: Course, L: dict[str, str]) -> str:
    """Trainees × sessions: each cell the share of the session's points, coloured; a due miss in red."""
    e = html.escape
    sessions = [s for s in f.sessions if s.mode == "assessed" and s.max_points]
    if not sessions:
        return f"<p>{e(L['nothing_graded'])}</p>"
    got = {(r.trainee, r.session): r for r in f.scores.itertuples()}
    # made phone-readable here, a cell at a time (finish_tables leaves a finished table)
    numbers = [t("page.session_no", course.language, n=s.number) for s in sessions]
    head = "".join(
        f'<th title="{e(s.title)}" class="{fit_class(no)}">{e(no)}</th>'
        for s, no in zip(sessions, numbers, strict=True)
    )
    rows = []
    for tid in f.trainees:
        cells = []
        for s in sessions:
            r = got.get((tid, s.session))
            if r is not None and r.max_points:
                share = float(r.points) / float(r.max_points)
                mark = "*" if r.status == "needs-marking" else ""
                cells.append(
                    f'<td class="ck-heat ck-nw" style="background:{_heat_colour(share)}">{100 * share:.0f}{mark}</td>'
                )
            elif s.is_due:
                cells.append('<td class="ck-heat ck-miss ck-nw">✗</td>')
            else:
                cells.append('<td class="ck-heat ck-nw"></td>')
        name = f.names.get(tid, tid)
        rows.append(f'<tr><th class="{fit_class(name)}">{e(name)}</th>{"".join(cells)}</tr>')
    legend = (
        '<p class="ck-legend">'
        + "".join(
            f'<span style="background:{_heat_colour(x)}">{int(100 * x)}%</span>'
            for x in (0, 0.5, 1)
        )
        + f'<span class="ck-miss">✗ {e(L["heat_missing"])}</span> {e(L["heat_note"])}</p>'
    )
    corner = f'<th class="{fit_class(L["col_trainee"])}">{e(L["col_trainee"])}</th>'
    return legend + scroll_box(
        f"<table class='ck-heatmap'><thead><tr>{corner}{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _share(course: Course, cohort: str, L: dict[str, str]) -> str:
    e = html.escape
    share = interactive_share(course, cohort)
    names = {u.id: u.name for u in course.config.units}
    heads = ("col_unit", "col_sessions", "col_hours", "col_interactive", "col_share")
    rows = [
        [e(names.get(r.unit, L["all"])), r.sessions, f"{r.hours:g}", f"{r.interactive_hours:g}"]
        + ["" if pd.isna(r.share) else f"{100 * r.share:.0f}%"]
        for r in share.itertuples()
    ]
    return html_table([L[h] for h in heads], rows)


def _evaluation(f: CohortFigures, course: Course, L: dict[str, str]) -> str:
    e = html.escape
    if f.ratings.empty:
        return f"<p>{e(L['no_ratings'])}</p>"
    ev = evaluation_summary(course, f.cohort, f.ratings)
    parts = []
    values = f.ratings.assign(value=pd.to_numeric(f.ratings["value"], errors="coerce")).dropna(
        subset=["value"]
    )
    by_session = values.groupby("session")["value"].mean()
    rated = [s for s in f.sessions if s.session in by_session.index]
    if rated:
        parts.append(f"<h3>{e(L['eval_by_session'])}</h3>")
        parts.append(
            charts.hbars(
                [
                    f"{t('page.session_no', course.language, n=s.number)} {s.title[:12]}"
                    for s in rated
                ],
                [by_session[s.session] for s in rated],
                [course.units[s.unit].colour if s.unit in course.units else "#555" for s in rated],
                alt=L["eval_by_session"],
                limit=5.5,
                value_format="{:.2f}",
                axis_label=L["axis_rating"],
            )
        )
    teachers = ev[ev["by"] == "teacher"].dropna(subset=["mean"])
    if len(teachers):
        parts.append(f"<h3>{e(L['eval_by_teacher'])}</h3>")
        parts.append(
            charts.hbars(
                list(teachers["label"]),
                list(teachers["mean"]),
                "#6d4c41",
                alt=L["eval_by_teacher"],
                limit=5.5,
                value_format="{:.2f}",
                axis_label=L["axis_rating"],
            )
        )
    parts.append(evaluation_html(ev, course.language, finished=True))
    return "\n".join(parts)


def report(
    course: Course | str | Path,
    cohort: str,
    *,
    db: str | None = None,
    out: str | Path | None = None,
    now: datetime | None = None,
    pdf: bool = False,
) -> Path:
    """Write the cohort dashboard as one offline HTML page and return its path.

    Figures with their denominators; sessions by date with titles and
    hand-ins against the roster; who has not handed in; unit scores over
    what was due (chart and table, programme order); a trainee × session heat
    map; teaching time and interactive share; the evaluation as charts and
    tables. ``now`` (default: the current time) decides which sessions are due.
    ``pdf`` also prints it to a PDF beside it.
    """
    from kit.pages.handouts import page

    course = as_course(course)
    co = course.cohort(cohort)
    L = section("report", course.language)
    f = cohort_figures(course, cohort, db=db, now=now)
    e = html.escape
    sections = [
        ("sessions_title", _sessions_table(f, course, L)),
        ("missing_title", _missing(f, course, L)),
        ("scores_title", _unit_scores(f, course, L)),
        ("heat_title", _heat_map(f, course, L)),
        ("share_title", _share(course, cohort, L)),
        ("evaluation_title", _evaluation(f, course, L)),
    ]
    parts = [_cards(f, course, L)]
    for title, body in sections:
        parts += [f"<h2>{e(L[title])}</h2>", body]
    target = Path(out) if out else artifacts.report_path(course, co.id)
    meta = [(L["generated"], local_time(now or datetime.now().astimezone(), course.zone))]
    artifacts.write_text(
        target,
        page(
            f"{co.name} · {L['title']}",
            "\n".join(parts),
            colour=course.config.units[0].colour,
            programme=course.config.programme.name,
            meta=meta,
            language=course.language,
            extra_css=REPORT_CSS,
        ),
    )
    if pdf:
        print_or_fail(target)
    return target


def print_or_fail(page_path: Path) -> Path:
    """Print one page to PDF beside it; a failure is the user's to see (:class:`UserError`)."""

    printed = to_pdf([page_path])
    if printed.failures:
        raise UserError("; ".join(str(f) for f in printed.failures))
    return printed.written[0]
