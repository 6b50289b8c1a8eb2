"""The figures a director acts on, computed once for the cohort report and the programme report.

Every rate has its denominator: a session's hand-ins are counted against
the roster, and unit scores are taken over what was due (a trainee who
handed nothing in for a due session scores 0 there), not only over the work
that came back. A session is *due* once its due time has passed (a session
without one: at the end of its class day, in the course's time zone); only
assessed sessions with points count towards scores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from kit import artifacts, kinds
from kit import notebooks as nbs
from kit.course import Course


@dataclass
class SessionRow:
    """One scheduled session with what came back for it."""

    session: str
    number: int  # its place in the cohort's schedule by date (第N讲)
    date: Any
    title: str
    unit: str
    mode: str
    due: datetime
    is_due: bool
    max_points: float | None  # None: not built, so its points are unknown
    handed_in: int = 0
    graded: int = 0
    needs_marking: int = 0
    failed: int = 0
    mean_share: float = float("nan")  # mean points / max of those who handed in
    missing: list[str] = field(default_factory=list)  # trainee ids, roster order

    @property
    def scored(self) -> bool:
        """Counts towards unit scores: assessed, due, with points."""
        return self.mode == "assessed" and self.is_due and bool(self.max_points)


@dataclass
class CohortFigures:
    """What the cohort report shows; see :func:`cohort_figures`."""

    cohort: str
    trainees: list[str]  # roster ids, roster order
    names: dict[str, str]
    sessions: list[SessionRow]
    scores: pd.DataFrame  # trainee, session, points, max_points, status (current submissions)
    unit_scores: pd.DataFrame  # unit, due_sessions, share_due, share_handed_in (programme order)
    nothing_in: list[str]  # trainees who handed in nothing for any due session
    ratings: pd.DataFrame  # trainee, session, question, value, comment

    @property
    def due_sessions(self) -> list[SessionRow]:
        return [s for s in self.sessions if s.is_due and s.max_points is not None]


def _max_points(course: Course, cohort: str, session: str) -> float | None:
    path = artifacts.build_paths(course, cohort, session).keys
    if not path.exists():
        return None
    try:
        keys, _ = artifacts.read_keys(path)
    except Exception:  # noqa: BLE001 - an unreadable keys file: points unknown, like not built
        return None
    total = 0.0
    for spec in keys.questions:
        kind = kinds.find(spec.get("kind"))
        if kind.graded:
            total += kind.max_points(spec)
    return total


def rating_about(course: Course, cohort: str) -> dict[tuple[str, str], str]:
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


def ratings_of(
    question_scores: pd.DataFrame, about: dict[tuple[str, str], str] | None = None
) -> pd.DataFrame:
    """Rating answers as ``trainee, session, question, value, comment, about`` rows.

    A rating's comment is the answer to the text question with the same id
    plus ``-comment`` (``ask.text("r1-eval-comment", ...)``), by the same trainee;
    ``about`` says whether it rates the session or the teacher (:func:`rating_about`).
    """
    about = about or {}
    cols = ["trainee", "session", "question", "value", "comment", "about"]
    if question_scores.empty:
        return pd.DataFrame(columns=cols)
    rated = question_scores[question_scores["kind"].isin(kinds.names(rated=True))]
    if rated.empty:
        return pd.DataFrame(columns=cols)

    def value(raw: Any) -> Any:
        try:
            return json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return None

    texts = question_scores[question_scores["kind"].isin(kinds.names(free_text=True))]
    # plain lists: a programme has hundreds of thousands of answers, and iterating columns is slow
    comments = {
        (s, t, q.removesuffix("-comment")): value(a)
        for s, t, q, a in zip(*_lists(texts, "session trainee question answer"), strict=True)
        if q.endswith("-comment")
    }
    out = rated[["trainee", "session", "question"]].copy()
    out["value"] = [value(a) for a in rated["answer"].tolist()]
    sessions, trainees, questions = _lists(out, "session trainee question")
    out["comment"] = [
        str(comments.get((s, t, q)) or "")
        for s, t, q in zip(sessions, trainees, questions, strict=True)
    ]
    out["about"] = [about.get((s, q), "session") for s, q in zip(sessions, questions, strict=True)]
    return out[cols]


def _lists(df: pd.DataFrame, columns: str) -> list[list[Any]]:
    return [df[c].tolist() for c in columns.split()]


def cohort_figures(
    course: Course, cohort: str, *, db: str | None = None, now: datetime | None = None
) -> CohortFigures:
    """Hand-ins against the roster, scores over what was due, ratings: one cohort at `now`."""
    from kit.gradebook import Gradebook

    now = now or datetime.now(UTC)
    co = course.cohort(cohort)
    trainees = [str(t) for t in co.roster.index]
    names = {str(t): str(n) for t, n in zip(co.roster.index, co.roster["name"], strict=True)}
    with Gradebook.open(course.root, db) as gb:
        qs = gb.question_scores(cohort)
        scores = gb.submission_scores(cohort, questions=qs)
    scores = scores[scores["trainee"].isin(trainees)] if not scores.empty else scores
    rows = []
    for n, s in enumerate(co.by_date(), 1):
        due = course.due_moment(cohort, s.session)
        row = SessionRow(
            s.session,
            n,
            s.date,
            nbs.session_title(course, cohort, s.session),
            s.unit,
            s.mode,
            due,
            now >= due,
            _max_points(course, cohort, s.session),
        )
        mine = scores[scores["session"] == s.session] if not scores.empty else scores
        row.handed_in = len(mine)
        if len(mine):
            row.graded = int((mine["status"] == "graded").sum())
            row.needs_marking = int((mine["status"] == "needs-marking").sum())
            row.failed = int((mine["status"] == "failed").sum())
            mx = mine["max_points"].astype(float)
            share = (mine["points"].astype(float) / mx.where(mx > 0)).dropna()
            row.mean_share = float(share.mean()) if len(share) else float("nan")
        handed: set[str] = set(mine["trainee"]) if len(mine) else set()
        row.missing = [t for t in trainees if t not in handed]
        rows.append(row)
    got = {(r.trainee, r.session): float(r.points) for r in scores.itertuples()}
    units = []
    for u in course.config.units:
        unit_due = [r for r in rows if r.unit == u.id and r.scored]
        if not unit_due:
            continue
        max_total = sum(r.max_points or 0 for r in unit_due)
        per = [sum(got.get((t, r.session), 0.0) for r in unit_due) / max_total for t in trainees]
        handed_pairs = [
            (got[(t, r.session)], r.max_points or 0)
            for t in trainees
            for r in unit_due
            if (t, r.session) in got
        ]
        share_in = (
            sum(p for p, _ in handed_pairs) / sum(m for _, m in handed_pairs)
            if handed_pairs
            else float("nan")
        )
        units.append(
            {
                "unit": u.id,
                "due_sessions": len(unit_due),
                "share_due": sum(per) / len(per) if per else float("nan"),
                "share_handed_in": share_in,
            }
        )
    unit_scores = pd.DataFrame(
        units, columns=["unit", "due_sessions", "share_due", "share_handed_in"]
    )
    due_rows = [r for r in rows if r.scored]
    missing = [set(r.missing) for r in due_rows]
    nothing = [t for t in trainees if due_rows and all(t in m for m in missing)]
    ratings = ratings_of(qs, rating_about(course, cohort))
    ratings = ratings[ratings["trainee"].isin(trainees)] if not ratings.empty else ratings
    return CohortFigures(cohort, trainees, names, rows, scores, unit_scores, nothing, ratings)
