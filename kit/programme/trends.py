"""``report --programme``: the programme in its own headline figures, across every cohort.

The news report measures the programme in cohorts, sessions, trainees, the
faculty pool, teaching sites by category, readings, the interactive share
and satisfaction; this page shows those figures for the whole course and
their trend cohort by cohort (in the order the cohorts started), with
charts. Per-cohort numbers come from :mod:`kit.programme.figures`, so they
are the same as on each cohort's report.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from kit import artifacts
from kit.course import Course, as_course
from kit.messages import section, t
from kit.numbers import pct
from kit.pages import charts
from kit.pages.present import html_table, local_time, num
from kit.programme.figures import cohort_figures
from kit.programme.handbook import FACULTY_KINDS
from kit.programme.share import ALL, interactive_share
from kit.programme.sites import CATEGORIES, CATEGORY_COLOURS


@dataclass
class CohortTrend:
    """One cohort's headline figures."""

    cohort: str
    name: str
    start: str
    trainees: int
    sessions: int
    hours: float
    share: float  # interactive share of hours (0..1)
    handed_in: float  # hand-ins / expected for due sessions (0..1)
    score: float  # mean score over what was due (0..1)
    rating: float  # mean rating
    ratings: int


def programme_trends(
    course: Course, *, db: str | None = None, now: datetime | None = None
) -> list[CohortTrend]:
    """Every cohort's headline figures, in the order the cohorts started."""
    share = interactive_share(course)
    out = []
    for cid, co in course.cohorts.items():
        total = share[(share["cohort"] == cid) & (share["unit"] == ALL)].iloc[0]
        f = cohort_figures(course, cid, db=db, now=now)
        due = f.due_sessions
        expected = len(f.trainees) * len(due)
        values = pd.to_numeric(f.ratings["value"], errors="coerce").dropna()
        out.append(
            CohortTrend(
                cid,
                co.name,
                co.config.start.isoformat() if co.config.start else "",
                len(f.trainees),
                len(co.sessions),
                float(total["hours"]),
                float(total["share"]) if total["hours"] else float("nan"),
                sum(s.handed_in for s in due) / expected if expected else float("nan"),
                float(f.unit_scores["share_due"].mean()) if len(f.unit_scores) else float("nan"),
                float(values.mean()) if len(values) else float("nan"),
                int(values.size),
            )
        )
    return sorted(out, key=lambda c: (c.start or "9999", c.cohort))


def _cards(course: Course, trends: list[CohortTrend], L: dict[str, str]) -> str:
    """The headline figures for the whole programme, one card each."""
    e = html.escape
    target = course.config.programme.interactive_target
    hours = sum(c.hours for c in trends)
    inter = sum(c.hours * c.share for c in trends if c.share == c.share)
    rated = sum(c.ratings for c in trends)
    rating = (
        sum(c.rating * c.ratings for c in trends if c.ratings) / rated if rated else float("nan")
    )
    cards = [
        (str(len(trends)), L["cohorts"]),
        (str(sum(c.sessions for c in trends)), L["sessions"]),
        (str(sum(c.trainees for c in trends)), L["trainees"]),
        (str(len(course.faculty)), L["faculty"]),
        (str(len(course.sites)), L["sites"]),
        (str(len(course.readings)), L["readings"]),
        (pct(inter / hours if hours else float("nan")), L["share"].format(target=pct(target))),
        (num(rating) if rating == rating else "—", L["rating"]),
    ]
    return (
        '<div class="ck-cards">'
        + "".join(f'<div class="ck-card"><b>{e(v)}</b><span>{e(k)}</span></div>' for v, k in cards)
        + "</div>"
    )


def _results_chart(trends: list[CohortTrend], L: dict[str, str]) -> str:
    """Hand-ins, scores and ratings (a rating of 5 drawn at 100%) cohort by cohort."""
    return charts.lines(
        [c.name for c in trends],
        {
            L["handed_in_series"]: [
                100 * c.handed_in if c.handed_in == c.handed_in else None for c in trends
            ],
            L["score_series"]: [100 * c.score if c.score == c.score else None for c in trends],
            L["rating_series"]: [20 * c.rating if c.rating == c.rating else None for c in trends],
        },
        {
            L["handed_in_series"]: "#1565c0",
            L["score_series"]: "#2e7d32",
            L["rating_series"]: "#b8860b",
        },
        alt=L["trend_results"],
        limit=(0, 105),
        axis_label="%",
    )


def _trend_section(course: Course, trends: list[CohortTrend], L: dict[str, str]) -> list[str]:
    """The headline figures cohort by cohort: share, trainees and results as charts, then a table."""
    e = html.escape
    target = course.config.programme.interactive_target
    names = [c.name for c in trends]
    unit_colour = course.config.units[0].colour
    parts = [f"<h2>{e(L['trend_title'])}</h2>", f"<h3>{e(L['trend_share'])}</h3>"]
    parts.append(
        charts.lines(
            names,
            {
                L["share_series"]: [100 * c.share if c.share == c.share else None for c in trends],
                L["target_series"]: [100 * target for _ in trends],
            },
            {L["share_series"]: unit_colour, L["target_series"]: "#9e9e9e"},
            alt=L["trend_share"],
            limit=(0, 105),
            axis_label="%",
        )
    )
    parts.append(f"<h3>{e(L['trend_people'])}</h3>")
    parts.append(
        charts.hbars(
            names,
            [c.trainees for c in trends],
            unit_colour,
            alt=L["trend_people"],
            axis_label=L["trainees"],
        )
    )
    parts.append(f"<h3>{e(L['trend_results'])}</h3>")
    parts.append(_results_chart(trends, L))
    parts.append(f"<p class='ck-muted'>{e(L['results_note'])}</p>")
    heads = ("cohort", "start", "trainees", "sessions", "hours", "share_col", "handed_in")
    rows = [
        [e(c.name), e(c.start), c.trainees, c.sessions, num(c.hours), pct(c.share)]
        + [pct(c.handed_in), pct(c.score), num(c.rating) if c.rating == c.rating else "—"]
        for c in trends
    ]
    parts.append(html_table([L["col_" + h] for h in (*heads, "score", "rating")], rows))
    return parts


def _resources_section(course: Course, L: dict[str, str]) -> list[str]:
    """The programme's teaching sites by category and faculty by kind, as charts."""
    e = html.escape
    lang = course.language
    sites = course.sites
    by_cat = [int((sites["category"] == k).sum()) for k in CATEGORIES]
    return [
        f"<h2>{e(L['resources_title'])}</h2>",
        f"<h3>{e(L['sites_by_category'])}</h3>",
        charts.hbars(
            [t(f"site_category.{k}", lang) for k in CATEGORIES],
            by_cat,
            [CATEGORY_COLOURS[k] for k in CATEGORIES],
            alt=L["sites_by_category"],
        ),
        f"<h3>{e(L['faculty_by_kind'])}</h3>",
        charts.hbars(
            [t(f"faculty_kind.{k}", lang) for k in FACULTY_KINDS],
            [int((course.faculty["kind"] == k).sum()) for k in FACULTY_KINDS],
            "#6d4c41",
            alt=L["faculty_by_kind"],
        ),
    ]


def programme_report(
    course: Course | str | Path,
    *,
    db: str | None = None,
    out: str | Path | None = None,
    now: datetime | None = None,
    pdf: bool = False,
) -> Path:
    """Write the programme report (``build/programme/report.html``) and return its path.

    Headline figures (cohorts, sessions, trainees, faculty pool, teaching
    sites by category, readings, interactive share, satisfaction) for the
    whole programme, then their trend per cohort as charts and a table.
    ``pdf`` also prints it to a PDF beside it.
    """
    from kit.pages.handouts import page
    from kit.programme.dashboard import REPORT_CSS, print_or_fail

    course = as_course(course)
    lang = course.language
    L = section("programme", lang)
    trends = programme_trends(course, db=db, now=now)
    parts = [
        _cards(course, trends, L),
        *_trend_section(course, trends, L),
        *_resources_section(course, L),
    ]
    target_path = Path(out) if out else artifacts.programme_report_path(course)
    meta = [
        (t("report.generated", lang), local_time(now or datetime.now().astimezone(), course.zone))
    ]
    artifacts.write_text(  # whole or not at all
        target_path,
        page(
            L["title"],
            "\n".join(parts),
            colour=course.config.units[0].colour,
            programme=course.config.programme.name,
            meta=meta,
            language=lang,
            extra_css=REPORT_CSS,
        ),
    )
    if pdf:
        print_or_fail(target_path)
    return target_path
