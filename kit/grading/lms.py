"""Grade files for learning management systems: Moodle's and Canvas's CSV import layouts.

Moodle ("Import grades: CSV"): one identifier column that the import maps to
a Moodle user field (``ID number`` → idnumber, ``Email address`` → email,
``Username`` → username), a name column for people to read, one column per
grade item (here: per session) and, beside each, a ``<item> (Feedback)``
column. Moodle asks at import which column maps to what; the headers name
the obvious choice.

Canvas (Gradebook import, the layout of its gradebook export): the columns
``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per
assignment named ``Name (id)`` (just ``Name`` creates a new assignment), a
second row ``Points Possible`` with each assignment's maximum, then one row
per student. An empty cell leaves Canvas's grade as it is.

Which roster column feeds which identifier is a mapping ``header → roster
column`` with defaults from the roster (an ``email`` column is used when it
has values). Files are written whole or not at all.

`session_scores` (what counts per trainee and session) lives here and not in
:mod:`kit.grading.export`: that module's grades table reads it too, and its
``grades --format`` writes these files, so it imports this module and not the
other way round.

An LMS import writes what it reads as the grade of record, so the file holds
final grades only: a session still waiting for marking is left empty (the
LMS keeps what it has) unless the instructor asks for provisional scores,
and the result lists every grade left out.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.course import Course, as_course
from kit.gradebook import Gradebook
from kit.messages import t as say
from kit.problems import CourseError, Outcome, Problem

FORMATS = ("moodle", "canvas")
MOODLE_IDENTIFIERS = {"ID number": "idnumber", "Email address": "email", "Username": "username"}
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "    Points Possible"  # Canvas's export writes it indented, and reads it so


@dataclass
class LmsTable:
    """An LMS file as text: header, rows, and the provisional grades it left out (one line each)."""

    header: list[str]
    rows: list[list[str]]
    left_out: list[str] = field(default_factory=list)


@dataclass
class LmsResult(Outcome):
    """The LMS file written, and the provisional grades left out of it."""

    left_out: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- what counts per session
#
# Here, below kit.grading.export: the grades table and the LMS files read the same scores.

#: The status of a session where a trainee has hand marks (a group mark) but handed nothing in.
MARKED_ONLY = "marked"


def session_scores(gb: Gradebook, cohort: str) -> Any:
    """Per trainee and session: what counts, hand marks of trainees who handed nothing in included.

    :meth:`Gradebook.submission_scores` (one row per current submission) plus
    one row (status ``marked``, no submission) per trainee and session where
    only hand marks exist: a group mark reaches every member of the group.
    """
    import pandas as pd

    scores = gb.submission_scores(cohort)
    qs = gb.question_scores(cohort)
    marked = qs[qs["submission_id"].isna()] if len(qs) else qs
    if marked.empty:
        return scores
    have = set(zip(scores["session"], scores["trainee"], strict=True))
    extra = marked.groupby(["session", "trainee"])["points"].sum().round(4).reset_index()
    extra = extra[
        [(s, t) not in have for s, t in zip(extra["session"], extra["trainee"], strict=True)]
    ]
    extra = extra.assign(
        submission_id=None, raw_points=extra["points"], status=MARKED_ONLY, cause="",
        max_points=extra["session"].map(session_maxima(scores)).fillna(0.0),
        days_late=0, penalty=0.0, open_items=0,
    )  # fmt: skip
    return pd.concat([scores, extra[[c for c in scores.columns if c in extra]]], ignore_index=True)


def session_maxima(scores: Any) -> Any:
    """The most points of each session that was graded for anyone: what every trainee was due."""
    return scores.groupby("session")["max_points"].max() if len(scores) else scores["max_points"]


# ---------------------------------------------------------------- the LMS files


def _fmt(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _has_values(roster: Any, column: str) -> bool:
    return column in roster.columns and (roster[column].astype(str).str.strip() != "").all()


def default_mapping(fmt: str, roster: Any) -> dict[str, str]:
    """The roster columns each LMS identifier is filled from, unless told otherwise."""
    email = "email" if _has_values(roster, "email") else None
    if fmt == "moodle":
        return {"Email address": "email"} if email else {"ID number": "id"}
    return {
        "Student": "name",
        "ID": "",
        "SIS User ID": "id",
        "SIS Login ID": email or "id",
        "Section": "group",
    }


def _mapping(fmt: str, roster: Any, given: dict[str, str] | None, file: str) -> dict[str, str]:
    mapping = default_mapping(fmt, roster)
    allowed, not_allowed = (
        (MOODLE_IDENTIFIERS, "lms.not_moodle_id")
        if fmt == "moodle"
        else (CANVAS_COLUMNS, "lms.not_canvas_column")
    )
    problems = []
    for header, column in (given or {}).items():
        if header not in allowed:
            problems.append(
                Problem(
                    file,
                    field=header,
                    message=say(not_allowed),
                    fix=say("course.use_one_of", options=", ".join(allowed)),
                )
            )
        elif fmt == "moodle":
            mapping = {header: column}  # Moodle maps one identifier column
        else:
            mapping[header] = column
    known = ["id", *roster.columns]
    for header, column in mapping.items():
        if column and column not in known:
            problems.append(
                Problem(
                    file,
                    field=header,
                    message=say("lms.no_column", column=column),
                    fix=say("lms.no_column_fix", columns=", ".join(known)),
                )
            )
    if problems:
        raise CourseError(problems)
    return mapping


def _scores(course: Course, cohort: str, db: str | None) -> Any:
    with Gradebook.open(course.root, db) as gb:
        return session_scores(gb, cohort)  # a group mark counts for a member who handed nothing in


def _check_ids(roster: Any, cols: dict[str, str], where: str) -> None:
    """Refuse a roster where a trainee has no value in a column the LMS matches people by."""
    missing = []
    for header, column in cols.items():
        if column and header not in ("Section", "Student"):
            for t, v in zip(roster["id"], roster[column], strict=True):
                if not str(v).strip():
                    missing.append(
                        Problem(
                            where,
                            say("where.trainee", trainee=t),
                            column,
                            say("lms.empty_id", header=header),
                            say("lms.empty_id_fix", column=column, header=header),
                        )
                    )
    if missing:
        raise CourseError(missing)


@dataclass
class _Cells:
    """A trainee's session as LMS cells: the points (final only, unless provisional) and a note."""

    by: dict[tuple[str, str], dict[str, Any]]  # (trainee, session) → session_scores row
    provisional: bool
    lang: str
    left_out: list[str] = field(default_factory=list)

    def points(self, t: str, s: str) -> str:
        """The points, or empty (the LMS keeps its own) when failed, missing or not final."""
        r = self.by.get((t, s))
        if r is None or r["status"] == "failed":
            return ""
        if r["open_items"] and not self.provisional:
            self.left_out.append(
                say("lms.left_out", trainee=t, session=s, n=int(r["open_items"]),
                    points=_fmt(float(r["points"])))
            )  # fmt: skip
            return ""
        return _fmt(float(r["points"]))

    def note(self, t: str, s: str) -> str:
        """The feedback: not submitted, failed, open items, provisional, late."""
        lang = self.lang
        r = self.by.get((t, s))
        if r is None:
            return say("lms.not_submitted", lang)
        bits = []
        if r["status"] == "failed":
            bits.append(say("lms.failed", lang, cause=str(r["cause"] or "")))
        if r["open_items"]:
            bits.append(say("lms.open_items", lang, n=int(r["open_items"])))
            if self.provisional:
                bits.append(say("lms.provisional", lang))
        if r["penalty"]:
            pct = f"{float(r['penalty']) * 100:.0f}%"
            bits.append(say("lms.late", lang, days=int(r["days_late"]), pct=pct))
        return say("lms.separator", lang).join(bits)


def _moodle(
    roster: Any, cols: dict[str, str], sessions: list[str], cells: _Cells, feedback: bool
) -> LmsTable:
    """Moodle's layout: the identifier, the name, then each session (and its feedback)."""
    ((id_header, id_column),) = cols.items()
    columns = [id_header, "Full name"]
    for s in sessions:
        columns.append(s)
        if feedback:
            columns.append(f"{s} (Feedback)")
    rows = []
    for rec in roster.to_dict("records"):
        row = [str(rec[id_column]), str(rec["name"])]
        for s in sessions:
            row.append(cells.points(rec["id"], s))
            if feedback:
                row.append(cells.note(rec["id"], s))
        rows.append(row)
    return LmsTable(columns, rows, cells.left_out)


def _canvas(
    schedule: str,
    roster: Any,
    cols: dict[str, str],
    sessions: list[str],
    cells: _Cells,
    assignment_ids: dict[str, str] | None,
) -> LmsTable:
    """Canvas's layout: its five columns, a column per session, and the Points Possible row."""
    ids = assignment_ids or {}
    unknown = sorted(set(ids) - set(sessions))
    if unknown:
        raise CourseError(
            [
                Problem(
                    schedule,
                    field="session",
                    message=say("lms.no_session", session=u),
                    fix=say("course.use_one_of", options=", ".join(sessions)),
                )
                for u in unknown
            ]
        )
    possible = {
        s: max((r["max_points"] for (_, ss), r in cells.by.items() if ss == s), default=math.nan)
        for s in sessions
    }
    columns = list(CANVAS_COLUMNS) + [f"{s} ({ids[s]})" if s in ids else s for s in sessions]
    rows = [
        [POINTS_POSSIBLE, "", "", "", ""]
        + ["" if math.isnan(possible[s]) else _fmt(possible[s]) for s in sessions]
    ]
    for rec in roster.to_dict("records"):
        row = [str(rec[cols[h]]) if cols.get(h) else "" for h in CANVAS_COLUMNS]
        rows.append(row + [cells.points(rec["id"], s) for s in sessions])
    return LmsTable(columns, rows, cells.left_out)


def lms_rows(
    course: Course | Path | str,
    cohort: str,
    fmt: str,
    *,
    db: str | None = None,
    mapping: dict[str, str] | None = None,
    assignment_ids: dict[str, str] | None = None,
    feedback: bool = True,
    provisional: bool = False,
) -> LmsTable:
    """The LMS file as a header and rows of text (for ``fmt`` ``moodle`` or ``canvas``).

    A session with items still waiting for marking is left empty unless
    ``provisional``; each one left out is named in ``left_out``.
    """
    c = as_course(course)
    co = c.cohort(cohort)
    if fmt not in FORMATS:
        raise CourseError.choice(fmt, "format", say("lms.unknown_format"), FORMATS)
    roster = co.roster.reset_index()
    where = str(co.folder / "roster.csv")
    cols = _mapping(fmt, roster, mapping, where)
    _check_ids(roster, cols, where)
    scores = _scores(c, cohort, db)
    by = {(r["trainee"], r["session"]): r for r in scores.to_dict("records")}
    sessions = [s.session for s in co.by_date()]  # as numbered: 第1讲, 第2讲, …
    cells = _Cells(by, provisional, c.language)
    if fmt == "moodle":
        return _moodle(roster, cols, sessions, cells, feedback)
    schedule = str(co.folder / "schedule.csv")
    return _canvas(schedule, roster, cols, sessions, cells, assignment_ids)


def write_lms(
    course: Course | Path | str,
    cohort: str,
    to: Path | str,
    fmt: str,
    *,
    db: str | None = None,
    mapping: dict[str, str] | None = None,
    assignment_ids: dict[str, str] | None = None,
    feedback: bool = True,
    provisional: bool = False,
) -> LmsResult:
    """Write the Moodle or Canvas grade file ``to`` (UTF-8 CSV), whole or not at all.

    Final grades only, unless ``provisional``: the result's ``left_out``
    names each session left empty because marking is still open.
    """
    to = Path(to)
    if to.suffix.lower() != ".csv":
        raise CourseError(
            [
                Problem(
                    str(to),
                    message=say("lms.csv_only", format=fmt),
                    fix=say("lms.csv_only_fix"),
                )
            ]
        )
    table = lms_rows(
        course,
        cohort,
        fmt,
        db=db,
        mapping=mapping,
        assignment_ids=assignment_ids,
        feedback=feedback,
        provisional=provisional,
    )
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.header)
    w.writerows(table.rows)
    to.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{to.name}.", dir=to.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
        os.replace(tmp, to)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return LmsResult(written=[to], left_out=table.left_out)
