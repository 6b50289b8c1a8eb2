"""``grades``: the gradebook as a table per trainee (CSV or XLSX) with per-unit subtotals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit.course import Course, CourseError, Outcome, as_course
from kit.gradebook import Gradebook
from kit.messages import t


class GradesResult(Outcome):
    """The grade exports written."""


def grades_table(course: Course | Path | str, cohort: str, *, db: str | None = None) -> Any:
    """One row per trainee: points per session, per-unit subtotals, total, max and open items."""
    import pandas as pd

    c = as_course(course)
    co = c.cohort(cohort)
    with Gradebook.open(c.root, db) as gb:
        scores = gb.submission_scores(cohort)
        units = gb.per_unit(cohort)
    roster = co.roster.reset_index()[["id", "name", "group"]].rename(columns={"id": "trainee"})
    table = roster.copy()
    for s in co.sessions:
        col = scores[scores["session"] == s.session].set_index("trainee")
        table[s.session] = table["trainee"].map(col["points"]).astype(float)
        table[f"{s.session} status"] = table["trainee"].map(col["status"]).fillna("missing")
    for u in c.config.units:
        uu = (
            units[units["unit"] == u.id].set_index("trainee") if not units.empty else pd.DataFrame()
        )
        pts = (
            table["trainee"].map(uu["points"])
            if not uu.empty
            else pd.Series(0.0, index=table.index)
        )
        mx = (
            table["trainee"].map(uu["max_points"])
            if not uu.empty
            else pd.Series(0.0, index=table.index)
        )
        if mx.fillna(0).sum() > 0:
            table[f"unit {u.id}"] = pts.fillna(0.0).round(4)
            table[f"unit {u.id} max"] = mx.fillna(0.0)
    by_t = scores.groupby("trainee").agg(
        total=("points", "sum"), max=("max_points", "sum"), open_items=("open_items", "sum")
    )
    table["total"] = table["trainee"].map(by_t["total"]).fillna(0.0).round(4)
    table["max"] = table["trainee"].map(by_t["max"]).fillna(0.0)
    table["open items"] = table["trainee"].map(by_t["open_items"]).fillna(0).astype(int)
    return table


def grades(
    course: Course | Path | str,
    cohort: str,
    to: Path | str,
    *,
    db: str | None = None,
    format: str | None = None,
    mapping: dict[str, str] | None = None,
    assignment_ids: dict[str, str] | None = None,
) -> GradesResult:
    """Export the gradebook to CSV or XLSX (by ``to``'s suffix) with per-unit subtotals.

    ``format="moodle"`` or ``"canvas"`` writes that LMS's grade import CSV
    instead (``kit.lms``); ``mapping`` (LMS column → roster column) and
    ``assignment_ids`` (session → Canvas assignment id) shape it.
    """
    c = as_course(course)
    if format not in (None, "table"):  # reach (#14): LMS layouts live in kit.lms
        from kit.lms import write_lms

        out = write_lms(
            c, cohort, to, format, db=db, mapping=mapping, assignment_ids=assignment_ids
        )
        return GradesResult(written=out.written)
    to = Path(to)
    table = grades_table(c, cohort, db=db)
    to.parent.mkdir(parents=True, exist_ok=True)
    if to.suffix.lower() == ".xlsx":
        with Gradebook.open(c.root, db) as gb:
            qs = gb.question_scores(cohort)
        qs = qs.drop(columns=["answer", "prompt", "submission_id"], errors="ignore")
        import pandas as pd

        with pd.ExcelWriter(to, engine="openpyxl") as xw:
            table.to_excel(xw, sheet_name="grades", index=False)
            qs.to_excel(xw, sheet_name="questions", index=False)
    elif to.suffix.lower() == ".csv":
        # utf-8-sig so that Excel opens Chinese names correctly
        table.to_csv(to, index=False, encoding="utf-8-sig")
    else:
        raise CourseError.at(to, t("grades.unknown_format"), t("grades.unknown_format_fix"))
    return GradesResult(written=[to])
