"""The interactive share: teaching hours in interactive methods against the course's target."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kit.course import Course, as_course
from kit.messages import t
from kit.problems import Problem

ALL = "all"  # the unit value of a cohort's total row in interactive_share()

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
                    t("where.cohort", cohort=r.cohort),
                    "method",
                    t(
                        "share.below",
                        cohort=r.cohort,
                        share=r.share,
                        hours=r.hours,
                        target=target,
                    ),
                    t("share.below_fix", need=need),
                    severity="warning",
                )
            )
    return out
