"""``grades``: the gradebook as a table per trainee (CSV or XLSX) with per-unit subtotals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.artifacts import write_whole
from kit.course import Course, as_course
from kit.gradebook import Gradebook
from kit.grading.keys import with_criterion_max
from kit.grading.lms import session_maxima, session_scores, write_lms
from kit.kinds.base import without_controls
from kit.messages import section, t
from kit.pages.present import yes_no
from kit.problems import CourseError, Outcome


@dataclass
class GradesResult(Outcome):
    """The grade exports written; for an LMS file, the provisional grades it left out."""

    left_out: list[str] = field(default_factory=list)


def grades_table(course: Course | Path | str, cohort: str, *, db: str | None = None) -> Any:
    """One row per trainee: points per session, per-unit subtotals, total, max and open items.

    A session counts towards every trainee's maximum once anyone's
    submission of it was graded: a trainee who handed nothing in scores 0 of
    it (or their group's mark), and is not measured against less.
    """
    import pandas as pd

    c = as_course(course)
    co = c.cohort(cohort)
    with Gradebook.open(c.root, db) as gb:
        scores = session_scores(gb, cohort)
        units = gb.per_unit(cohort)
        qs = gb.question_scores(cohort)
    roster = co.roster.reset_index()[["id", "name", "group"]].rename(columns={"id": "trainee"})
    table = roster.copy()
    for s in co.by_date():  # columns in the order the sessions are numbered (第N讲)
        col = scores[scores["session"] == s.session].set_index("trainee")
        table[s.session] = table["trainee"].map(col["points"]).astype(float)
        status = table["trainee"].map(col["status"]).astype(object)
        table[f"{s.session} status"] = status.where(status.notna(), "missing")
    # what each unit is worth per session (the most any graded submission could get), summed
    graded = qs[qs["submission_id"].notna()] if len(qs) else qs
    unit_max = (
        graded.groupby(["session", "submission_id", "unit"])["max_points"].sum()
        .groupby(["session", "unit"]).max().groupby("unit").sum()
        if len(graded)
        else pd.Series(dtype=float)
    )  # fmt: skip
    for u in c.config.units:
        uu = (
            units[units["unit"] == u.id].set_index("trainee") if not units.empty else pd.DataFrame()
        )
        pts = (
            table["trainee"].map(uu["points"])
            if not uu.empty
            else pd.Series(0.0, index=table.index)
        )
        mx = float(unit_max.get(u.id, 0.0))
        if mx > 0:
            table[f"unit {u.id}"] = pts.fillna(0.0).round(4)
            table[f"unit {u.id} max"] = mx
    by_t = scores.groupby("trainee").agg(total=("points", "sum"), open_items=("open_items", "sum"))
    table["total"] = table["trainee"].map(by_t["total"]).fillna(0.0).round(4)
    table["max"] = float(session_maxima(scores).sum())
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
    provisional: bool = False,
) -> GradesResult:
    """Export the gradebook to CSV or XLSX (by ``to``'s suffix) with per-unit subtotals.

    ``format="moodle"`` or ``"canvas"`` writes that LMS's grade import CSV
    instead (``kit.grading.lms``); ``mapping`` (LMS column → roster column) and
    ``assignment_ids`` (session → Canvas assignment id) shape it. An LMS
    file carries final grades only: a session still waiting for marking is
    left empty and listed in ``left_out``, unless ``provisional``.
    """
    c = as_course(course)
    if format not in (None, "table"):  # reach (#14): LMS layouts live in kit.grading.lms
        out = write_lms(c, cohort, to, format, db=db, mapping=mapping,
                        assignment_ids=assignment_ids, provisional=provisional)  # fmt: skip
        return GradesResult(written=out.written, left_out=out.left_out)
    to = Path(to)
    if to.suffix.lower() not in (".xlsx", ".csv"):
        raise CourseError.at(to, t("grades.unknown_format"), t("grades.unknown_format_fix"))
    table = _cells(grades_table(c, cohort, db=db))
    if to.suffix.lower() == ".xlsx":
        with Gradebook.open(c.root, db) as gb:
            qs = gb.question_scores(cohort)
            marks = gb.marks(cohort)
        qs = _cells(qs.drop(columns=["answer", "prompt", "submission_id"], errors="ignore"))
        import pandas as pd

        rubric = with_criterion_max(c, cohort, marks[marks["criterion"] != ""])
        rubric = _cells(rubric[["session", "trainee", "question", "criterion", "points",
                                "max_points", "marker", "source"]])  # fmt: skip
        sheets = section("sheet", c.language)

        def xlsx(tmp: Path) -> None:
            with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
                for_people(c, cohort, table).to_excel(xw, sheet_name=sheets["grades"], index=False)
                questions_for_people(c, cohort, qs).to_excel(
                    xw, sheet_name=sheets["questions"], index=False
                )
                questions_for_people(c, cohort, rubric).to_excel(
                    xw, sheet_name=sheets["rubric"], index=False
                )
                sessions_for_people(c, cohort).to_excel(
                    xw, sheet_name=sheets["sessions"], index=False
                )

        write_whole(to, xlsx)
    else:
        # utf-8-sig so that Excel opens Chinese names correctly
        people = for_people(c, cohort, table)
        write_whole(to, lambda tmp: people.to_csv(tmp, index=False, encoding="utf-8-sig"))
    return GradesResult(written=[to])


def _cells(df: Any) -> Any:
    """Texts without control characters: a spreadsheet refuses them (and they hide text)."""
    texts = [c for c in df.columns if df[c].dtype == object]
    return df.assign(**{c: df[c].map(without_controls) for c in texts}) if texts else df


# ---------------------------------------------------------------- the spreadsheet a person opens
#
# grades_table() keeps machine column names (the API, the LMS files); what a
# person opens speaks the course's language: headers, statuses, yes/no, and
# sessions by their number in the schedule (第N讲) with a sheet that lists them.


def _session_numbers(c: Course, cohort: str) -> dict[str, str]:
    order = c.cohort(cohort).by_date()
    return {s.session: t("page.session_no", c.language, n=n) for n, s in enumerate(order, 1)}


def for_people(c: Course, cohort: str, table: Any) -> Any:
    """The grades table with headers and statuses in the course's language."""
    lang = c.language
    L = section("sheet", lang)
    numbers = _session_numbers(c, cohort)
    names = {
        "trainee": L["trainee"],
        "name": L["name"],
        "group": L["group"],
        "total": L["total"],
        "max": L["max"],
        "open items": L["open_items"],
    }
    for sid, no in numbers.items():
        names[sid] = L["session_points"].format(session=no)
        names[f"{sid} status"] = L["session_status"].format(session=no)
    for u in c.config.units:
        names[f"unit {u.id}"] = L["unit_points"].format(unit=u.name)
        names[f"unit {u.id} max"] = L["unit_max"].format(unit=u.name)
    out = table.copy()
    for sid in numbers:
        col = f"{sid} status"
        if col in out.columns:
            out[col] = out[col].map(lambda v: t(f"sheet.status.{v}", lang))
    return out.rename(columns=names)


def questions_for_people(c: Course, cohort: str, qs: Any) -> Any:
    """Per-question scores with headers, kinds, units and statuses in the course's language."""

    lang = c.language
    L = section("sheet", lang)
    numbers = _session_numbers(c, cohort)
    out = qs.copy()
    if "session" in out.columns:
        out["session"] = out["session"].map(lambda s: numbers.get(s, s))
    if "kind" in out.columns:
        out["kind"] = out["kind"].map(lambda k: t(f"kind_{k}", lang))
    if "unit" in out.columns:
        out["unit"] = out["unit"].map(lambda u: c.units[u].name if u in c.units else u)
    if "status" in out.columns:
        out["status"] = out["status"].map(lambda v: t(f"sheet.status.{v}", lang))
    for col in ("manual", "marked"):
        if col in out.columns:
            out[col] = out[col].map(lambda v: yes_no(bool(v), lang))
    if "position" in out.columns:
        out["position"] = out["position"].astype(int) + 1  # 第1题 is position 0
    return out.rename(columns={k: L[f"q_{k}"] for k in out.columns if f"q_{k}" in L})


def sessions_for_people(c: Course, cohort: str) -> Any:
    """The sheet that says which session 第N讲 is: date, title, unit, file id."""
    import pandas as pd

    from kit.notebooks import session_title

    L = section("sheet", c.language)
    numbers = _session_numbers(c, cohort)
    rows = []
    for s in c.cohort(cohort).by_date():
        unit = c.units.get(s.unit)
        rows.append(
            {
                L["s_no"]: numbers[s.session],
                L["s_date"]: s.date.isoformat(),
                L["s_unit"]: unit.name if unit else s.unit,
                L["s_title"]: session_title(c, cohort, s.session),
                L["s_id"]: s.session,
            }
        )
    return pd.DataFrame(rows)
