"""Marks in a spreadsheet, for markers who work offline: `export_marks` and `import_marks`.

One row per hand-marked item (``.xlsx`` or ``.csv``, chosen by the file's
suffix)::

    session question trainee name group answer_group answer max_points c:<criterion>... points comment

``trainee`` and ``name`` give way to ``item`` (答卷 07) in an anonymous sheet.
A criterion column ``c:<id>`` holds that criterion's points (blank: not
given; any amount from 0 to the criterion's points); ``points`` is the total
(blank: the sum of the criteria). A row with no points and no comment is
left unmarked. The ``.xlsx`` file has a second sheet, ``rubric``, with each
criterion's text and points.

Import checks every row first (unknown session, trainee, question or
criterion; points that are not numbers or out of range; the same item twice)
and raises one CourseError naming the file, every bad row as the spreadsheet
numbers it, and the column; only a sheet without problems is written, in one
transaction. Rows equal to the gradebook's marks are left alone, so a sheet
exported and imported back changes nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kit import artifacts, kinds
from kit.course import Cohort, Course, as_course
from kit.gradebook import Gradebook
from kit.kinds.base import QuestionSpec
from kit.marking.book import MarkError, item_label, mark_rows, pseudonyms, queue, rubric_of
from kit.messages import LANGUAGES, t
from kit.numbers import parse_number
from kit.problems import CourseError, Outcome, Problem

CRITERION_PREFIX = "c:"
FIXED = ["session", "question", "trainee", "name", "group", "answer_group", "answer", "max_points"]
ANON_FIXED = ["session", "question", "item", "answer_group", "answer", "max_points"]
# a cell starting with one of these is a formula to a spreadsheet program
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_EXCEL_CELL_MAX = 32_000


@dataclass
class ExportResult(Outcome):
    """The sheet written and how many items it holds."""

    items: int = 0


@dataclass
class ImportResult(Outcome):
    """What an import changed: marks written, rows equal to the gradebook, rows left blank."""

    applied: list[str] = field(default_factory=list)
    unchanged: int = 0
    blank: int = 0


def _cell(text: Any) -> str:
    """Trainee or marker text as a plain cell: never a formula, within a cell's size."""
    s = str(text if text is not None else "")
    if s.startswith(_FORMULA_START):
        s = "'" + s
    return s[:_EXCEL_CELL_MAX]


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def _answer(kind: str, raw: str, path: str, question: str, root: Path) -> str:
    from kit.marking.book import upload_text
    from kit.marking.groups import text_of

    if kinds.find(kind).files:
        return upload_text(root, path, question, raw)

    try:
        return text_of(json.loads(raw))
    except (TypeError, ValueError):
        return str(raw or "")


def _rubrics(
    c: Course, cohort: str, q: pd.DataFrame
) -> tuple[dict[tuple[str, str], dict[str, float]], list[dict[str, Any]]]:
    """Each queued question's rubric (criterion → points), and every criterion's row for the rubric sheet."""
    rubrics: dict[tuple[str, str], dict[str, float]] = {}
    texts: list[dict[str, Any]] = []
    if len(q):
        from kit.grading.keys import load_keys

        for s in q["session"].unique():
            keys = load_keys(c, cohort, s)
            for qid, spec in keys.questions.items():
                rubrics[(s, qid)] = rubric_of(spec)
                for r in spec.get("rubric") or []:
                    texts.append(
                        {
                            "session": s,
                            "question": qid,
                            "criterion": str(r["id"]),
                            "text": r.get("text", ""),
                            "points": float(r.get("points", 0)),
                        }
                    )
    return rubrics, texts


def _marks_table(
    c: Course,
    q: pd.DataFrame,
    rubrics: dict[tuple[str, str], dict[str, float]],
    anonymous: bool,
) -> pd.DataFrame:
    """The marks sheet: one row per queued item, a column per criterion of a queued question."""
    crit_cols: list[str] = []
    for (s, qid), rub in rubrics.items():
        if ((q["session"] == s) & (q["question"] == qid)).any():
            crit_cols += [
                CRITERION_PREFIX + cid for cid in rub if CRITERION_PREFIX + cid not in crit_cols
            ]
    rows = []
    for it in q.itertuples(index=False):
        row: dict[str, Any] = {"session": it.session, "question": it.question}
        if anonymous:
            row["item"] = it.label
        else:
            row.update(trainee=it.trainee, name=_cell(it.label), group=_cell(it.group))
        row.update(
            answer_group=int(it.agroup),
            answer=_cell(_answer(it.kind, it.answer, it.path, it.question, c.root)),
            max_points=float(it.max_points),
        )
        for col in crit_cols:
            cid = col[len(CRITERION_PREFIX) :]
            row[col] = (
                it.criteria.get(cid)
                if it.marked and cid in rubrics.get((it.session, it.question), {})
                else None
            )
        row["points"] = float(it.points) if it.marked else None
        row["comment"] = _cell(it.comment) if it.marked else ""
        rows.append(row)
    cols = (ANON_FIXED if anonymous else FIXED) + crit_cols + ["points", "comment"]
    return pd.DataFrame(rows, columns=cols)


def _write_sheet(to: Path, table: pd.DataFrame, texts: list[dict[str, Any]]) -> None:
    """`table` to ``to``: .xlsx with a bold, frozen header and the rubric sheet, or .csv."""

    def write(tmp: Path) -> None:
        if to.suffix.lower() == ".xlsx":
            with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
                table.to_excel(xw, sheet_name="marks", index=False)
                pd.DataFrame(
                    texts, columns=["session", "question", "criterion", "text", "points"]
                ).to_excel(xw, sheet_name="rubric", index=False)
                from openpyxl.styles import Font

                sheet = xw.sheets["marks"]
                for cell in sheet[1]:
                    cell.font = Font(bold=True)
                sheet.freeze_panes = "A2"
        else:  # utf-8-sig: Excel opens Chinese text right
            table.to_csv(tmp, index=False, encoding="utf-8-sig")

    # whole or not at all: a sheet that fails half-way leaves the one before and no temp file
    artifacts.write_whole(to, write)


def export_marks(
    course: Course | Path | str,
    cohort: str,
    to: Path | str,
    *,
    session: str | None = None,
    anonymous: bool = False,
    db: str | None = None,
) -> ExportResult:
    """Write the marking queue with its marks so far to ``to`` (.xlsx or .csv)."""
    c = as_course(course)
    to = Path(to)
    if to.suffix.lower() not in (".xlsx", ".csv"):
        raise CourseError.at(to, t("marks.sheet_format"), t("marks.sheet_format_fix"))
    q = queue(c, cohort, session, anonymous=anonymous, db=db)
    rubrics, texts = _rubrics(c, cohort, q)
    table = _marks_table(c, q, rubrics, anonymous)
    _write_sheet(to, table, texts)
    return ExportResult(written=[to], items=len(table))


def _read_sheet(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        try:
            return pd.read_excel(path, sheet_name="marks", dtype=object)
        except ValueError:  # no sheet called marks: the first sheet
            return pd.read_excel(path, sheet_name=0, dtype=object)
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    raise CourseError.at(path, t("marks.sheet_format"), t("marks.sheet_format_fix"))


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == ""


def _text(v: Any) -> str:
    if _blank(v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _columns(table: pd.DataFrame, where: str) -> tuple[str, list[str]]:
    """The sheet's identifying column (``trainee`` or ``item``) and its criterion columns.

    Names the columns as text first (a spreadsheet may give a number); a sheet
    without ``session``, ``question`` or an identifying column is a CourseError.
    """
    cols = [str(col) for col in table.columns]
    table.columns = cols
    who = "trainee" if "trainee" in cols else "item" if "item" in cols else None
    problems = [
        Problem(where, "", need, t("marks.column_missing"), t("marks.column_missing_fix"))
        for need in ("session", "question")
        if need not in cols
    ]
    if who is None:
        problems.append(
            Problem(where, "", "trainee", t("marks.who_missing"), t("marks.column_missing_fix"))
        )
    if problems or who is None:
        raise CourseError(problems)
    return who, [col for col in cols if col.startswith(CRITERION_PREFIX)]


@dataclass
class _MarksNow:
    """The gradebook's marks before an import, so rows equal to them are left alone."""

    totals: pd.DataFrame  # indexed by (session, trainee, question)
    criteria: dict[tuple[str, str, str], dict[str, float]]
    submissions: dict[tuple[str, str], Any]

    @classmethod
    def read(cls, gb: Gradebook, cohort: str) -> _MarksNow:
        current = gb.marks(cohort)
        criteria: dict[tuple[str, str, str], dict[str, float]] = {}
        for r in current[current["criterion"] != ""].itertuples(index=False):
            criteria.setdefault((r.session, r.trainee, r.question), {})[r.criterion] = float(
                r.points
            )
        return cls(
            totals=current[current["criterion"] == ""].set_index(
                ["session", "trainee", "question"]
            ),
            criteria=criteria,
            submissions={(s.session, s.trainee): s.id for s in gb.current_submissions(cohort)},
        )

    def holds(self, k: tuple[str, str, str], rows: list[dict[str, Any]], comment: str) -> bool:
        """Whether the gradebook already has these mark rows and comment for item `k`."""
        if k not in self.totals.index:
            return False
        points, said = self.totals.loc[k, "points"], self.totals.loc[k, "comment"]
        want_crit = {r["criterion"]: r["points"] for r in rows[:-1]}
        return (
            math.isclose(float(points), rows[-1]["points"])
            and str(said) == comment
            and self.criteria.get(k, {}) == want_crit
        )


@dataclass
class _SheetRows:
    """Reads a marks sheet row by row against the cohort, collecting every bad row as a Problem."""

    course: Course
    cohort: str
    co: Cohort
    where: str
    who: str  # "trainee" or "item"
    problems: list[Problem] = field(default_factory=list)
    keys_of: dict[str, Any] = field(default_factory=dict)
    seen: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sessions = {s.session for s in self.co.sessions}
        self.by_item: dict[str, str] = {}
        if self.who == "item":
            # a script's label in either language: a sheet may be filled in by a marker of the other
            self.by_item = {
                item_label(n, lang): tr
                for tr, n in pseudonyms(self.cohort, self.co.roster.index).items()
                for lang in LANGUAGES
            }

    def bad(self, row: int, column: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(self.where, t("where.row", n=row), column, message, fix))

    def item(self, rec: dict[str, Any], n: int) -> tuple[str, str, str, QuestionSpec] | None:
        """Row `n`'s session, trainee, question and the question's spec; None when one is wrong."""
        session, qid, ident = _text(rec["session"]), _text(rec["question"]), _text(rec[self.who])
        trainee = self.by_item.get(ident) if self.who == "item" else ident
        if session not in self.sessions:
            known = ", ".join(sorted(self.sessions))
            why = t("marks.unknown_session", session=session)
            self.bad(
                n, "session", why, t("marks.unknown_session_fix", cohort=self.cohort, known=known)
            )
            return None
        if trainee is None or trainee not in self.co.roster.index:
            why = t("marks.unknown_trainee", column=self.who, value=ident)
            self.bad(
                n,
                self.who,
                why,
                t("marks.unknown_trainee_fix", roster=self.co.folder / "roster.csv"),
            )
            return None
        spec = self._question(session, qid, n)
        if spec is None:
            return None
        k = (session, trainee, qid)
        if k in self.seen:
            why = t("marks.twice", item=ident, question=qid, other=self.seen[k])
            self.bad(n, self.who, why, t("marks.twice_fix"))
            return None
        self.seen[k] = n
        return session, trainee, qid, spec

    def _question(self, session: str, qid: str, n: int) -> QuestionSpec | None:
        """The spec of hand-marked question `qid` of a built `session`; None when it is not one."""
        from kit.grading.keys import load_keys

        if session not in self.keys_of:
            try:
                self.keys_of[session] = load_keys(self.course, self.cohort, session)
            except CourseError as e:
                why = t("marks.not_built", session=session, why=e.problems[0].message)
                self.bad(n, "session", why, t("marks.not_built_fix", cohort=self.cohort))
                return None
        spec: QuestionSpec | None = self.keys_of[session].questions.get(qid)
        if spec is None:
            known = ", ".join(self.keys_of[session].questions)
            why = t("marks.unknown_question", question=qid, session=session)
            self.bad(n, "question", why, t("marks.known", known=known))
            return None
        if not kinds.find(spec.get("kind")).manual:
            self.bad(n, "question", t("marks.automatic", question=qid))
            return None
        return spec

    def marks(
        self,
        spec: QuestionSpec,
        criteria_raw: dict[str, Any],
        points_raw: Any,
        comment: str,
        n: int,
    ) -> list[dict[str, Any]] | None:
        """Row `n`'s mark rows for `spec` (criteria, then the total); None when a number is wrong."""
        rubric = rubric_of(spec)
        criteria: dict[str, float] = {}
        row_ok = True
        for cid, v in criteria_raw.items():
            col = CRITERION_PREFIX + cid
            if cid not in rubric:
                known = ", ".join(rubric) or "—"
                self.bad(n, col, t("marks.unknown_criterion", criterion=cid, known=known))
                row_ok = False
                continue
            try:
                criteria[cid] = parse_number(v)
            except ValueError:
                self.bad(n, col, t("marks.not_points", criterion=cid, value=v))
                row_ok = False
        points = None
        if not _blank(points_raw):
            try:
                points = parse_number(points_raw)
            except ValueError:
                self.bad(n, "points", t("marks.total_not_points", value=points_raw))
                row_ok = False
        if not row_ok:
            return None
        try:
            return mark_rows(spec, criteria, points, comment, strict=True)
        except MarkError as e:
            self.bad(n, CRITERION_PREFIX + e.criterion if e.criterion else "points", str(e))
            return None


def import_marks(
    course: Course | Path | str,
    cohort: str,
    sheet: Path | str,
    *,
    marker: str = "",
    db: str | None = None,
) -> ImportResult:
    """Read marks from a sheet made by `export_marks` (or written by hand in its shape) into the gradebook."""
    c = as_course(course)
    co = c.cohort(cohort)
    path = Path(sheet)
    table = _read_sheet(path)
    who, crit_cols = _columns(table, str(path))
    sheet_rows = _SheetRows(c, cohort, co, str(path), who)
    with Gradebook.open(c.root, db) as gb:
        now = _MarksNow.read(gb, cohort)
        writes: list[dict[str, Any]] = []
        result = ImportResult()
        for i, rec in enumerate(table.to_dict("records")):
            n = i + 2  # the header is row 1, as the spreadsheet numbers rows
            criteria_raw = {
                col[len(CRITERION_PREFIX) :]: rec[col] for col in crit_cols if not _blank(rec[col])
            }
            points_raw, comment = rec.get("points"), _uncell(_text(rec.get("comment")))
            if not criteria_raw and _blank(points_raw) and not comment:
                result.blank += 1
                continue
            item = sheet_rows.item(rec, n)
            if item is None:
                continue
            session, trainee, qid, spec = item
            rows = sheet_rows.marks(spec, criteria_raw, points_raw, comment, n)
            if rows is None:
                continue
            if now.holds((session, trainee, qid), rows, comment):
                result.unchanged += 1
                continue
            writes.append(
                dict(
                    cohort=cohort,
                    session=session,
                    trainees=[trainee],
                    question=qid,
                    rows=rows,
                    marker=marker,
                    submission_ids={trainee: now.submissions.get((session, trainee))},
                    source="import",
                )
            )
            result.applied.append(f"{trainee}/{session}/{qid}")
        if sheet_rows.problems:
            raise CourseError(sheet_rows.problems)
        gb.write_marks_many(writes)
    return result
