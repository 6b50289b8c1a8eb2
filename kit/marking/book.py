"""Marking without a widget: the queue, answer groups, marks with partial points, what is left.

`MarkSession` is one marking sitting: it opens the gradebook once, reads the
queue in two queries (hand-marked items with their answers, and the marks so
far), groups similar answers per question (`kit.marking.groups`), and saves a mark in
one transaction. Nothing per item goes back to the database or the keys file,
so the next item is there at once whatever the size of the cohort
(bench/bench_marking.py).

A mark is rubric criteria with points (any amount from 0 to the criterion's
points: partial credit), a total (the sum, unless given) and a comment. It is
given to one item, to every item of the item's answer group, or to every
member of the trainee's roster group (a group task); how it was given is kept
(`kit.gradebook.MARK_SOURCES`) so that marking a group again never replaces a
mark the marker gave one member by hand.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kit import artifacts, kinds
from kit.course import Course, as_course
from kit.gradebook import Gradebook
from kit.grading.keys import load_keys, rubric_of
from kit.kinds.base import QuestionSpec
from kit.messages import t
from kit.problems import CourseError, Problem

QUEUE_COLUMNS = [
    "session", "question", "trainee", "label", "group", "kind", "prompt", "answer",
    "max_points", "marked", "points", "comment", "criteria", "submission_id",
    "source", "agroup", "agroup_size", "position", "path",
]  # fmt: skip
#: marks a group mark may replace: none yet, or an earlier answer-group mark
REPLACEABLE = ("", "answers")
#: upload texts read for grouping and for the marker, at most this many characters
MAX_UPLOAD_TEXT = 50_000


class MarkError(ValueError):
    """A mark that cannot be given (unknown criterion, points out of range); says which and why.

    ``criterion`` names the criterion at fault, or is None for the total.
    """

    def __init__(self, message: str, criterion: str | None = None):
        super().__init__(message)
        self.criterion = criterion


def question_spec(
    course: Course, cohort: str, session: str, question: str, keys: Any = None
) -> QuestionSpec:
    """The spec of one question from the keys file (rubric texts included), or CourseError."""
    keys = keys or load_keys(course, cohort, session)
    if question not in keys.questions:
        raise CourseError(
            [
                Problem(
                    str(artifacts.build_paths(course, cohort, session).keys),
                    field="question",
                    message=f"no question {question!r} in session {session}",
                    fix=f"known questions: {', '.join(keys.questions)}",
                )
            ]
        )
    return keys.questions[question]


def question_max(spec: QuestionSpec) -> float:
    """The points of a hand-marked question (its points, else the sum of its rubric)."""
    return float(spec.get("points") or sum(rubric_of(spec).values()))


def mark_rows(
    spec: QuestionSpec,
    criteria: dict[str, bool | float] | None,
    points: float | None = None,
    comment: str = "",
    *,
    strict: bool = False,
    max_points: float | None = None,
) -> list[dict[str, Any]]:
    """The gradebook rows of one mark: one per criterion given, then the total with the comment.

    A criterion takes ``True``/``False`` (its full points or none) or a number
    of points: partial credit. ``points`` overrides the total (else the sum).
    With ``strict`` points out of range raise MarkError; otherwise they are
    brought into range (the widgets cannot give such points anyway).
    """
    rubric = rubric_of(spec)
    qmax = float(max_points if max_points is not None else question_max(spec))
    rows: list[dict[str, Any]] = []
    total = 0.0
    for cid, given in (criteria or {}).items():
        cid = str(cid)
        if cid not in rubric:
            known = ", ".join(rubric) or "—"
            raise MarkError(t("marks.unknown_criterion", criterion=cid, known=known), cid)
        if isinstance(given, bool | np.bool_):
            pts = rubric[cid] if given else 0.0
        else:
            pts = float(given)
            if not np.isfinite(pts):
                raise MarkError(t("marks.not_points", criterion=cid, value=given), cid)
            if strict and not 0 <= pts <= rubric[cid]:
                why = t("marks.criterion_range", criterion=cid, points=pts, full=rubric[cid])
                raise MarkError(why, cid)
            pts = max(0.0, min(pts, rubric[cid]))
        total += pts
        rows.append({"criterion": cid, "checked": pts > 0, "points": pts, "comment": ""})
    if points is not None:
        total = float(points)
        if not np.isfinite(total):
            raise MarkError(t("marks.total_not_points", value=points))
        if strict and not 0 <= total <= (qmax if qmax else total):
            raise MarkError(t("marks.total_range", points=total, full=qmax))
    total = max(0.0, min(total, qmax)) if qmax else max(0.0, total)
    rows.append({"criterion": "", "checked": True, "points": round(total, 6), "comment": comment})
    return rows


def alias(cohort: str, trainee: str) -> str:
    """A stable, roster-order-free pseudonym key of a trainee (anonymous marking)."""
    return hashlib.sha256(f"{cohort}:{trainee}".encode()).hexdigest()


def pseudonyms(cohort: str, trainees: Any) -> dict[str, int]:
    """Trainee → the number of their anonymous script (stable, not in roster order)."""
    order = sorted(map(str, trainees), key=lambda tr: alias(cohort, tr))
    return {tr: i + 1 for i, tr in enumerate(order)}


def item_label(number: int, language: str) -> str:
    """An anonymous script's label ("答卷 07", "Script 07")."""
    return t("marks.item", language, n=number)


def upload_file(course_root: Path, path: str, question: str, answer: str) -> Path | None:
    """Where an uploaded file lies in a stored submission (``path``), or None for no upload."""
    try:
        name = json.loads(answer).get("name")
    except (ValueError, AttributeError, TypeError):
        return None
    if not name or not path:
        return None
    return Path(course_root) / path / artifacts.FILES / str(question) / Path(str(name)).name


def upload_text(course_root: Path, path: str, question: str, answer: str) -> str:
    """The text of an uploaded report (.md, .txt, .docx) in the submission store, or ''."""
    file = upload_file(course_root, path, question, answer)
    if file is None:
        return ""
    suffix = file.suffix.lower()
    try:
        if suffix in (".md", ".txt"):
            with open(file, encoding="utf-8", errors="replace") as fh:
                return fh.read(MAX_UPLOAD_TEXT)
        if suffix == ".docx":
            with zipfile.ZipFile(file) as z:
                info = z.getinfo("word/document.xml")
                if info.file_size > 20 * MAX_UPLOAD_TEXT * 4:
                    return ""  # not a report a marker reads; maybe a zip bomb
                xml = z.read(info).decode("utf-8", errors="replace")
            paras = re.sub(r"</w:p>", "\n", xml)
            return re.sub(r"<[^>]+>", "", paras)[:MAX_UPLOAD_TEXT]
    except (OSError, KeyError, zipfile.BadZipFile, ValueError):
        return ""
    return ""


def _answer_texts(items: pd.DataFrame, course_root: Path) -> list[str]:
    from kit.marking.groups import text_of

    out = []
    for kind, raw, path, q in zip(
        items["kind"], items["answer"], items["path"], items["question"], strict=True
    ):
        if kinds.find(kind).files:
            out.append(upload_text(course_root, path, q, raw))
            continue
        try:
            out.append(text_of(json.loads(raw)))
        except (TypeError, ValueError):
            out.append(str(raw or ""))
    return out


def _add_groups(items: pd.DataFrame, course_root: Path) -> pd.DataFrame:
    """Number the answer groups of each question (1 = the largest)."""
    from kit.marking.groups import group_answers

    items["agroup"] = 0
    items["agroup_size"] = 1
    texts = _answer_texts(items, course_root)
    for _, idx in items.groupby(["session", "question"], sort=False).indices.items():
        groups = group_answers([texts[i] for i in idx])
        for num, grp in enumerate(groups, 1):
            rows = idx[list(grp.members)]
            items.iloc[rows, items.columns.get_loc("agroup")] = num
            items.iloc[rows, items.columns.get_loc("agroup_size")] = grp.size
    return items


def queue(
    course: Course | Path | str,
    cohort: str,
    session: str | None = None,
    *,
    anonymous: bool = False,
    db: str | None = None,
    gb: Gradebook | None = None,
    groups: bool = True,
) -> pd.DataFrame:
    """Every hand-marked item of the current submissions, one row each, in marking order.

    Two queries for the whole queue (hand-marked items with answers, and
    marks), never one per item. Order: session, question, answer group
    (largest first), trainee (or pseudonym). Columns: `QUEUE_COLUMNS`; label
    is the name, or "答卷 07" when anonymous; criteria maps criterion →
    points; source says how the current mark was given ('' = unmarked);
    agroup numbers the answer group within the question (0 = not grouped).
    """
    c = as_course(course)
    co = c.cohort(cohort)
    own = gb is None
    gb = gb or Gradebook.open(c.root, db)
    try:
        items = gb.manual_items(cohort, session)
        marks = gb.marks(cohort, session)
    finally:
        if own:
            gb.close()
    if items.empty:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    roster = co.roster
    items["group"] = items["trainee"].map(roster["group"]).fillna("")
    if anonymous:
        num = pseudonyms(cohort, roster.index)
        items["label"] = [item_label(num.get(tr, 0), c.language) for tr in items["trainee"]]
        items["sortkey"] = items["trainee"].map(num).fillna(0)
    else:
        items["label"] = items["trainee"].map(roster["name"]).fillna(items["trainee"])
        items["sortkey"] = items["trainee"]
    key = ["session", "trainee", "question"]
    totals = marks[marks["criterion"] == ""].drop_duplicates(key).set_index(key)
    at = pd.MultiIndex.from_frame(items[key])
    found = at.isin(totals.index)
    items["marked"] = found
    items["points"] = totals["points"].reindex(at).fillna(0.0).to_numpy(float)
    items["comment"] = totals["comment"].reindex(at).fillna("").to_numpy(object)
    items["source"] = np.where(
        found, totals["source"].reindex(at).fillna("item").to_numpy(object), ""
    )
    crit: dict[tuple, dict[str, float]] = {}
    for r in marks[marks["criterion"] != ""].itertuples(index=False):
        crit.setdefault((r.session, r.trainee, r.question), {})[r.criterion] = float(r.points)
    items["criteria"] = [crit.get(k, {}) for k in at]
    items["max_points"] = items["max_points"].astype(float)
    items = items.sort_values(["session", "position", "sortkey"]).reset_index(drop=True)
    if groups:
        items = _add_groups(items, c.root)
        items = items.sort_values(["session", "position", "agroup", "sortkey"], kind="stable")
    else:
        items["agroup"], items["agroup_size"] = 0, 1
    return items.reset_index(drop=True)[QUEUE_COLUMNS]


class MarkSession:
    """One marking sitting: queue, answer groups and specs loaded once; one transaction per mark."""

    def __init__(
        self,
        course: Course | Path | str,
        cohort: str,
        session: str | None = None,
        *,
        anonymous: bool = False,
        db: str | None = None,
        marker: str = "",
        groups: bool = True,
    ):
        self.course = as_course(course)
        self.cohort, self.session, self.anonymous = cohort, session, anonymous
        self.roster = self.course.cohort(cohort).roster
        self.marker = marker
        self.gb = Gradebook.open(self.course.root, db)
        self.items = queue(self.course, cohort, session, anonymous=anonymous, gb=self.gb,
                           groups=groups)  # fmt: skip
        self._marked = self.items["marked"].to_numpy(bool).copy()
        self._keys: dict[str, Any] = {}

    def close(self) -> None:
        """Close the gradebook."""
        self.gb.close()

    def __enter__(self) -> MarkSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- reading
    def spec(self, session: str, question: str) -> QuestionSpec:
        """A question's spec (the keys file is read once per session)."""
        if session not in self._keys:
            self._keys[session] = load_keys(self.course, self.cohort, session)
        return question_spec(self.course, self.cohort, session, question, self._keys[session])

    def left(self) -> int:
        """How many items have no mark yet."""
        return int((~self._marked).sum())

    def next_open(self, pos: int, step: int = 1, *, only_open: bool = True) -> int:
        """The next item after `pos` in direction `step` (wrapping), unmarked ones only if asked."""
        n = len(self.items)
        if not n:
            return 0
        order = (pos + step * np.arange(1, n + 1)) % n
        if not only_open or self._marked.all():
            return int(order[0])
        return int(order[np.argmax(~self._marked[order])])

    def first_open(self) -> int:
        """The first unmarked item (or 0)."""
        open_ = np.flatnonzero(~self._marked)
        return int(open_[0]) if len(open_) else 0

    def answer_group(self, pos: int) -> np.ndarray:
        """Positions of the items in the same answer group as `pos` (itself included)."""
        it = self.items
        row = it.iloc[pos]
        if not row["agroup"]:
            return np.array([pos])
        same = (
            (it["session"].to_numpy() == row["session"])
            & (it["question"].to_numpy() == row["question"])
            & (it["agroup"].to_numpy() == row["agroup"])
        )
        return np.flatnonzero(same)

    # ---- writing
    def save(
        self,
        pos: int,
        *,
        criteria: dict[str, bool | float] | None = None,
        points: float | None = None,
        comment: str = "",
        scope: str = "item",
    ) -> list[str]:
        """Mark the item at `pos` (scope "item"), its answer group ("answers") or roster group ("team").

        An answer-group mark goes to the members that have no mark or an
        earlier answer-group mark; a mark given to one member by hand (or
        imported, or given to the roster group) stays. Returns who got it.
        """
        row = self.items.iloc[pos]
        session, question = str(row["session"]), str(row["question"])
        spec = self.spec(session, question)
        rows = mark_rows(spec, criteria, points, comment, max_points=float(row["max_points"]))
        if scope == "item":
            positions, trainees = np.array([pos]), [str(row["trainee"])]
        elif scope == "answers":
            group = self.answer_group(pos)
            keep = self.items["source"].to_numpy()[group]
            positions = group[np.isin(keep, REPLACEABLE) | (group == pos)]
            trainees = [str(tr) for tr in self.items["trainee"].to_numpy()[positions]]
        elif scope == "team":
            team = str(row["group"] or "")
            if not team:
                raise MarkError(t("marks.no_team", trainee=row["trainee"]))
            trainees = sorted(str(tr) for tr in self.roster.index[self.roster["group"] == team])
            it = self.items
            positions = np.flatnonzero(
                (it["session"].to_numpy() == session)
                & (it["question"].to_numpy() == question)
                & it["trainee"].isin(trainees).to_numpy()
            )
        else:
            raise ValueError(f"scope {scope!r} is not item, answers or team")
        subs = dict(zip(self.items["trainee"].to_numpy()[positions],
                        self.items["submission_id"].to_numpy()[positions], strict=True))  # fmt: skip
        self.gb.write_marks(
            cohort=self.cohort,
            session=session,
            trainees=trainees,
            question=question,
            rows=rows,
            group=str(row["group"] or "") if scope == "team" else "",
            marker=self.marker,
            submission_ids={tr: int(subs[tr]) if tr in subs else None for tr in trainees},
            source=scope,
        )
        total = rows[-1]["points"]
        crit = {r["criterion"]: r["points"] for r in rows[:-1]}
        it = self.items
        for p in positions:
            it.iat[p, it.columns.get_loc("marked")] = True
            it.iat[p, it.columns.get_loc("points")] = total
            it.iat[p, it.columns.get_loc("comment")] = comment
            it.iat[p, it.columns.get_loc("criteria")] = dict(crit)
            it.iat[p, it.columns.get_loc("source")] = scope
        self._marked[positions] = True
        return trainees


def left(
    course: Course | Path | str, cohort: str, session: str | None = None, *, db: str | None = None
) -> pd.DataFrame:
    """What is left to mark, per session and question.

    Columns: session, question, kind, items, marked, left, groups (answer
    groups), groups_left (answer groups with an unmarked item).
    """
    q = queue(course, cohort, session, db=db)
    cols = ["session", "question", "kind", "items", "marked", "left", "groups", "groups_left"]
    if q.empty:
        return pd.DataFrame(columns=cols)
    q["open"] = ~q["marked"].astype(bool)
    out = (
        q.groupby(["session", "position", "question", "kind"], sort=True)
        .agg(
            items=("trainee", "size"),
            marked=("marked", "sum"),
            left=("open", "sum"),
            groups=("agroup", "nunique"),
        )
        .reset_index()
    )
    open_groups = q[q["open"]].groupby(["session", "question"])["agroup"].nunique()
    out["groups_left"] = [
        int(open_groups.get((s, qq), 0))
        for s, qq in zip(out["session"], out["question"], strict=True)
    ]
    out[["items", "marked", "left"]] = out[["items", "marked", "left"]].astype(int)
    return out[cols]
