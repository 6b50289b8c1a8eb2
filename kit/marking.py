"""Rubric marking: ``record_mark`` (plain Python) and ``mark`` (an ipywidgets marking notebook).

Hand-marked items are essays, observation logs, uploads and any other manual
question with points. A mark is a set of rubric criteria (ticked or given
points), a total and a comment; it is stored per trainee (a group mark is
stored for every member of the roster group) and saved to the gradebook at
once, so a marker can stop at any time and pick up where they left.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from kit import artifacts, kinds
from kit.course import Course, CourseError, Problem, as_course
from kit.gradebook import Gradebook


def _spec(course: Course, cohort: str, session: str, question: str) -> dict[str, Any]:
    from kit.grading import load_keys

    keys = load_keys(course, cohort, session)
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


def record_mark(
    course: Course | Path | str,
    cohort: str,
    session: str,
    question: str,
    *,
    trainee: str | None = None,
    group: str | None = None,
    criteria: dict[str, bool | float] | None = None,
    points: float | None = None,
    comment: str = "",
    marker: str = "",
    db: str | None = None,
    gb: Gradebook | None = None,
    max_points: float | None = None,
) -> list[str]:
    """Store a hand mark for one trainee, or for every member of a roster group; return who got it.

    ``criteria`` maps rubric criterion ids to ``True``/``False`` (ticked: the
    criterion's full points) or to a number of points (capped at the
    criterion's points). ``points`` overrides the total, which otherwise is
    the sum of the criteria; the total is capped at the question's points
    (or ``max_points`` for a question that has no keys file, e.g. a group task
    recorded from elsewhere). Marking again replaces the earlier mark.
    """
    c = as_course(course)
    co = c.cohort(cohort)
    if (trainee is None) == (group is None):
        raise ValueError("give exactly one of trainee= or group=")
    if group is not None:
        members = sorted(co.roster.index[co.roster["group"] == group])
        if not members:
            raise CourseError(
                [
                    Problem(
                        str(co.folder / "roster.csv"),
                        field="group",
                        message=f"no trainee in group {group!r}",
                    )
                ]
            )
    else:
        if trainee not in co.roster.index:
            raise CourseError(
                [
                    Problem(
                        str(co.folder / "roster.csv"),
                        field="id",
                        message=f"unknown trainee {trainee!r}",
                    )
                ]
            )
        members = [trainee]
    try:
        spec = _spec(c, cohort, session, question)
    except CourseError:
        if max_points is None:
            raise
        spec = {"id": question, "points": max_points, "rubric": []}
    rubric = {str(r["id"]): float(r.get("points", 0)) for r in spec.get("rubric") or []}
    qmax = float(
        max_points if max_points is not None else spec.get("points") or sum(rubric.values())
    )
    rows: list[dict[str, Any]] = []
    total = 0.0
    for cid, given in (criteria or {}).items():
        if cid not in rubric:
            raise ValueError(f"unknown rubric criterion {cid!r}; known: {', '.join(rubric)}")
        if isinstance(given, bool):
            pts = rubric[cid] if given else 0.0
        else:
            pts = max(0.0, min(float(given), rubric[cid]))
        total += pts
        rows.append({"criterion": cid, "checked": pts > 0, "points": pts, "comment": ""})
    total = float(points) if points is not None else total
    total = max(0.0, min(total, qmax)) if qmax else max(0.0, total)
    rows.append({"criterion": "", "checked": True, "points": round(total, 6), "comment": comment})
    own = gb is None
    gb = gb or Gradebook.open(c.root, db)
    try:
        subs = {s.trainee: s.id for s in gb.current_submissions(cohort, session)}
        gb.write_marks(
            cohort=cohort,
            session=session,
            trainees=members,
            question=question,
            rows=rows,
            group=group or "",
            marker=marker,
            submission_ids={t: subs.get(t) for t in members},
        )
    finally:
        if own:
            gb.close()
    return members


def _alias(cohort: str, trainee: str) -> str:
    return hashlib.sha256(f"{cohort}:{trainee}".encode()).hexdigest()


def queue(
    course: Course | Path | str,
    cohort: str,
    session: str | None = None,
    *,
    anonymous: bool = False,
    db: str | None = None,
    gb: Gradebook | None = None,
) -> pd.DataFrame:
    """Every hand-marked item of the current submissions, one row each, in marking order.

    Two queries for the whole queue (scores with answers, and marks), never
    one per item. Columns: session, question, trainee, label (the name, or
    "答卷 07" when anonymous), group, prompt, answer, max_points, marked,
    points, comment, criteria (dict criterion → points), submission_id.
    """
    c = as_course(course)
    co = c.cohort(cohort)
    own = gb is None
    gb = gb or Gradebook.open(c.root, db)
    try:
        qs = gb.question_scores(cohort, session)
        marks = gb.marks(cohort, session)
    finally:
        if own:
            gb.close()
    cols = ["session", "question", "trainee", "label", "group", "kind", "prompt", "answer",
            "max_points", "marked", "points", "comment", "criteria", "submission_id"]  # fmt: skip
    if qs.empty:
        return pd.DataFrame(columns=cols)
    items = qs[qs["manual"].astype(bool)].copy()
    if items.empty:
        return pd.DataFrame(columns=cols)
    roster = co.roster
    items["group"] = items["trainee"].map(roster["group"]).fillna("")
    if anonymous:
        # a stable number per trainee that does not follow the roster order
        order = sorted(roster.index, key=lambda t: _alias(cohort, t))
        num = {t: i + 1 for i, t in enumerate(order)}
        items["label"] = [f"答卷 {num.get(t, 0):02d}" for t in items["trainee"]]
        items["sortkey"] = items["trainee"].map(num)
    else:
        items["label"] = items["trainee"].map(roster["name"]).fillna(items["trainee"])
        items["sortkey"] = items["trainee"]
    crit = marks[marks["criterion"] != ""]
    crit_map: dict[tuple, dict[str, float]] = {}
    for r in crit.itertuples(index=False):
        crit_map.setdefault((r.session, r.trainee, r.question), {})[r.criterion] = float(r.points)
    tot = marks[marks["criterion"] == ""].set_index(["session", "trainee", "question"])
    items["comment"] = [
        tot["comment"].get((s, t, q), "") if not tot.empty else ""
        for s, t, q in zip(items["session"], items["trainee"], items["question"], strict=True)
    ]
    items["criteria"] = [
        crit_map.get((s, t, q), {})
        for s, t, q in zip(items["session"], items["trainee"], items["question"], strict=True)
    ]
    items = items.sort_values(["session", "position", "sortkey"]).reset_index(drop=True)
    return items[cols]


def mark(
    course: Course | Path | str,
    cohort: str,
    session: str | None = None,
    *,
    anonymous: bool = False,
    db: str | None = None,
) -> Path:
    """Write the marking notebook ``build/<cohort>/marking/<session|all>[-anon].ipynb`` and return its path.

    Open it in JupyterLab and run it: one item at a time, rubric checkboxes,
    points, comment; every save goes to the gradebook at once.
    """
    c = as_course(course)
    c.cohort(cohort)
    out = artifacts.marking_path(c, cohort, session, anonymous)
    out.parent.mkdir(parents=True, exist_ok=True)
    zh = c.language == "zh"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    title = f"# {'批阅' if zh else 'Marking'} · {cohort}" + (f" · {session}" if session else "")
    hint = (
        "运行下面的单元开始批阅。每次“保存”都会立即写入成绩册；可以随时停下，下次从未批的开始。"
        if zh
        else "Run the cell below. Every save goes to the gradebook at once; stop any time."
    )
    args = [repr(str(c.root.resolve())), repr(cohort), repr(session)]
    code = (
        "from kit.marking import MarkingApp\n\n"
        f"app = MarkingApp({', '.join(args)}, anonymous={anonymous!r}, db={db!r})\n"
        "app"
    )
    nb.cells = [
        nbformat.v4.new_markdown_cell(title + "\n\n" + hint),
        nbformat.v4.new_code_cell(code),
    ]
    artifacts.write_whole(out, lambda tmp: nbformat.write(nb, str(tmp)))
    return out


def _answer_html(raw: str) -> str:
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if value is None or value == "":
        return "<em>—</em>"
    if isinstance(value, dict):
        return (
            "<dl>"
            + "".join(
                f"<dt><b>{html.escape(str(k))}</b></dt><dd style='white-space:pre-wrap'>{html.escape(str(v))}</dd>"
                for k, v in value.items()
            )
            + "</dl>"
        )
    return f"<div style='white-space:pre-wrap'>{html.escape(str(value))}</div>"


class MarkingApp:
    """The marking widget: one item at a time, rubric checkboxes, points, comment, save as you go."""

    def __init__(
        self,
        course: Course | Path | str,
        cohort: str,
        session: str | None = None,
        *,
        anonymous: bool = False,
        db: str | None = None,
        marker: str = "",
    ):
        import ipywidgets as W

        self.course = as_course(course)
        self.cohort, self.session, self.anonymous, self.db = cohort, session, anonymous, db
        self.marker = marker or __import__("getpass").getuser()
        self.gb = Gradebook.open(self.course.root, db)  # one session for the whole marking sitting
        self.items = queue(self.course, cohort, session, anonymous=anonymous, gb=self.gb)
        subs = self.gb.submissions(cohort, session)
        self._folders = dict(zip(subs["id"], subs["path"], strict=True))  # for uploaded reports
        self._specs: dict[tuple[str, str], dict] = {}
        self.pos = 0
        zh = self.course.language == "zh"
        self.t = lambda a, b: a if zh else b  # noqa: E731
        self.status = W.HTML()
        self.prompt = W.HTML()
        self.answer = W.HTML(layout=W.Layout(border="1px solid #ccc", padding="6px"))
        self.rubric_box = W.VBox()
        self.points = W.BoundedFloatText(
            description=self.t("得分", "Points"), min=0, max=0, step=0.5
        )
        self.comment = W.Textarea(
            description=self.t("评语", "Comment"), layout=W.Layout(width="100%", height="5em")
        )
        self.only_open = W.Checkbox(value=True, description=self.t("只看未批", "Unmarked only"))
        # An issue-based task (课题) is one report per group: one mark for every member.
        self.whole_group = W.Checkbox(value=False, layout=W.Layout(width="100%"))
        self.prev_b = W.Button(description=self.t("上一份", "Previous"))
        self.save_b = W.Button(
            description=self.t("保存并下一份", "Save & next"), button_style="primary"
        )
        self.next_b = W.Button(description=self.t("跳过", "Skip"))
        self.message = W.HTML()
        self.prev_b.on_click(lambda _: self.move(-1))
        self.next_b.on_click(lambda _: self.move(1))
        self.save_b.on_click(lambda _: self.save(advance=True))
        self.widget = W.VBox(
            [
                self.status,
                self.only_open,
                self.prompt,
                self.answer,
                self.rubric_box,
                self.points,
                self.comment,
                self.whole_group,
                W.HBox([self.prev_b, self.save_b, self.next_b]),
                self.message,
            ]
        )
        self._checks: dict[str, Any] = {}
        if self.only_open.value:
            self._first_open()
        self.show()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _spec(self, session: str, question: str) -> dict:
        k = (session, question)
        if k not in self._specs:
            self._specs[k] = _spec(self.course, self.cohort, session, question)
        return self._specs[k]

    def _first_open(self) -> None:
        open_ = [i for i, m in enumerate(self.items["marked"]) if not m]
        self.pos = open_[0] if open_ else 0

    def left(self) -> int:
        """How many items have no mark yet."""
        return int((~self.items["marked"].astype(bool)).sum()) if len(self.items) else 0

    def show(self) -> None:
        """Render the current item."""
        import ipywidgets as W

        n = len(self.items)
        if n == 0:
            self.status.value = f"<b>{self.t('没有需要批阅的答卷。', 'Nothing to mark.')}</b>"
            return
        it = self.items.iloc[self.pos]
        self.status.value = (
            f"<b>{html.escape(str(it['session']))} · {html.escape(str(it['question']))}</b> — "
            f"{html.escape(str(it['label']))} &nbsp; ({self.pos + 1}/{n}; "
            f"{self.t('未批', 'left')} {self.left()})"
        )
        spec = self._spec(it["session"], it["question"])
        group = str(it["group"] or "")
        self.whole_group.layout.display = "" if group else "none"
        self.whole_group.value = False
        # Anonymous marking names no group either: the group would identify the trainees.
        shown = self.t("本组", "this group") if self.anonymous else group
        self.whole_group.description = self.t(
            f"全组同分（{shown}，课题报告等小组作业）", f"Same mark for the whole group ({shown})"
        )
        self.prompt.value = f"<p>{html.escape(str(spec.get('prompt', '')))}</p>"
        self.answer.value = _answer_html(it["answer"]) + self._upload_html(it)
        self._checks = {}
        boxes = []
        for r in spec.get("rubric") or []:
            cid = str(r["id"])
            cb = W.Checkbox(
                value=it["criteria"].get(cid, 0) > 0,
                description=f"{r.get('text', cid)} ({r.get('points', 0)})",
                layout=W.Layout(width="100%"),
            )
            cb.observe(lambda _ch: self._sum(), names="value")
            self._checks[cid] = cb
            boxes.append(cb)
        self.rubric_box.children = boxes
        self.points.max = float(it["max_points"])
        self.points.value = float(it["points"]) if it["marked"] else 0.0
        self.comment.value = str(it["comment"] or "")

    def _sum(self) -> None:
        it = self.items.iloc[self.pos]
        spec = self._spec(it["session"], it["question"])
        pts = {str(r["id"]): float(r.get("points", 0)) for r in spec.get("rubric") or []}
        self.points.value = sum(pts[c] for c, cb in self._checks.items() if cb.value)

    def _upload_html(self, it: Any) -> str:
        """Where an uploaded report lies in the store, and a text report's content to read."""
        if not kinds.find(it["kind"]).files:
            return ""
        try:
            name = json.loads(it["answer"]).get("name")
        except (ValueError, AttributeError, TypeError):
            return ""
        folder = self._folders.get(it["submission_id"])
        if not name or not folder:
            return ""
        path = self.course.root / folder / "files" / str(it["question"]) / Path(name).name
        if not path.is_file():
            return f"<p>{self.t('文件缺失：', 'File missing: ')}{html.escape(str(path))}</p>"
        out = f"<p>{self.t('文件：', 'File: ')}<code>{html.escape(str(path))}</code></p>"
        if path.suffix.lower() in (".md", ".txt"):
            text = path.read_text(encoding="utf-8", errors="replace")[:20000]
            out += f"<pre style='white-space:pre-wrap;max-height:30em;overflow:auto'>{html.escape(text)}</pre>"
        return out

    def save(self, advance: bool = True) -> None:
        """Save the current item's mark to the gradebook (and move on)."""
        if not len(self.items):
            return
        it = self.items.iloc[self.pos]
        group = it["group"] if self.whole_group.value and it["group"] else None
        marked = record_mark(
            self.course,
            self.cohort,
            it["session"],
            it["question"],
            trainee=None if group else it["trainee"],
            group=group,
            criteria={c: cb.value for c, cb in self._checks.items()},
            points=self.points.value,
            comment=self.comment.value,
            marker=self.marker,
            gb=self.gb,
        )
        same = (
            (self.items["session"] == it["session"])
            & (self.items["question"] == it["question"])
            & self.items["trainee"].isin(marked or [it["trainee"]])
        )
        criteria = {c: (1.0 if cb.value else 0.0) for c, cb in self._checks.items()}
        for idx in self.items.index[same]:
            self.items.at[idx, "marked"] = True
            self.items.at[idx, "points"] = self.points.value
            self.items.at[idx, "comment"] = self.comment.value
            self.items.at[idx, "criteria"] = criteria
        self.message.value = self.t("已保存。", "Saved.")
        if advance:
            self.move(1)

    def move(self, step: int) -> None:
        """Go to the next (or previous) item; with "unmarked only", skip marked ones."""
        n = len(self.items)
        if not n:
            return
        pos = self.pos
        for _ in range(n):
            pos = (pos + step) % n
            if not self.only_open.value or not self.items.iloc[pos]["marked"] or self.left() == 0:
                break
        self.pos = pos
        self.show()
