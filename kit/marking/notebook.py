"""Rubric marking: ``record_mark`` (plain Python) and ``mark`` (an ipywidgets marking notebook).

Hand-marked items are essays, observation logs, uploads and any other manual
question with points. A mark is a set of rubric criteria (each given full,
partial or no points), a total and a comment; it is stored per trainee and
saved to the gradebook at once, so a marker can stop at any time and pick up
where they left. Similar answers come in answer groups (`kit.marking.groups`): one
mark can go to the whole group, and a mark given to one member by hand stays.
The queue, groups and saving live in `kit.marking.book`; this module is the
marker's widget and the one-call API.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import nbformat

from kit import artifacts, kinds
from kit.course import Course, as_course
from kit.gradebook import Gradebook
from kit.marking.book import (  # noqa: F401 - queue is part of this module's API
    MarkSession,
    mark_rows,
    question_spec,
    queue,
    upload_file,
    upload_text,
)
from kit.messages import t
from kit.numbers import num
from kit.problems import CourseError, Problem


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
    criterion's full points) or to a number of points (partial credit, capped
    at the criterion's points). ``points`` overrides the total, which otherwise
    is the sum of the criteria; the total is capped at the question's points
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
        spec = question_spec(c, cohort, session, question)
    except CourseError:
        if max_points is None:
            raise
        spec = {"id": question, "points": max_points, "rubric": []}
    rows = mark_rows(spec, criteria, points, comment, max_points=max_points)
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
            source="team" if group else "item",
        )
    finally:
        if own:
            gb.close()
    return members


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
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    title = f"# {t('mark.title', c.language)} · {cohort}" + (f" · {session}" if session else "")
    hint = t("mark.hint", c.language)
    args = [repr(str(c.root.resolve())), repr(cohort), repr(session)]
    code = (
        "from kit.marking.notebook import MarkingApp\n\n"
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
    """The marking widget: one item at a time, rubric points, comment, answer groups, save as you go."""

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

        self.marker = marker or __import__("getpass").getuser()
        # one gradebook session, one queue read and one keys read per session for the sitting
        self.book = MarkSession(course, cohort, session, anonymous=anonymous, db=db,
                                marker=self.marker)  # fmt: skip
        self.course, self.gb = self.book.course, self.book.gb
        self.cohort, self.session, self.anonymous, self.db = cohort, session, anonymous, db
        self.pos = 0
        self.lang = self.course.language
        self.status = W.HTML()
        self.group_info = W.HTML()
        self.prompt = W.HTML()
        self.answer = W.HTML(layout=W.Layout(border="1px solid #ccc", padding="6px"))
        self.rubric_box = W.VBox()
        self.points = W.BoundedFloatText(
            description=self.say("mark.points"), min=0, max=0, step=0.5
        )
        self.comment = W.Textarea(
            description=self.say("mark.comment"), layout=W.Layout(width="100%", height="5em")
        )
        self.only_open = W.Checkbox(value=True, description=self.say("mark.only_open"))
        # An issue-based task (课题) is one report per group: one mark for every member.
        self.whole_group = W.Checkbox(value=False, layout=W.Layout(width="100%"))
        # Similar answers (kit.marking.groups): one mark for the answer group, members marked by hand stay.
        self.same_answers = W.Checkbox(value=False, layout=W.Layout(width="100%"))
        self.prev_b = W.Button(description=self.say("mark.previous"))
        self.save_b = W.Button(description=self.say("mark.save_next"), button_style="primary")
        self.next_b = W.Button(description=self.say("mark.skip"))
        self.message = W.HTML()
        self.prev_b.on_click(lambda _: self.move(-1))
        self.next_b.on_click(lambda _: self.move(1))
        self.save_b.on_click(lambda _: self.save(advance=True))
        self.widget = W.VBox(
            [
                self.status,
                self.only_open,
                self.group_info,
                self.prompt,
                self.answer,
                self.rubric_box,
                self.points,
                self.comment,
                self.same_answers,
                self.whole_group,
                W.HBox([self.prev_b, self.save_b, self.next_b]),
                self.message,
            ]
        )
        self._checks: dict[str, Any] = {}
        self._points: dict[str, Any] = {}
        self._syncing = False
        if self.only_open.value:
            self.pos = self.book.first_open()
        self.show()

    @property
    def items(self) -> Any:
        """The queue (a DataFrame, see `kit.marking.book.queue`)."""
        return self.book.items

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def left(self) -> int:
        """How many items have no mark yet."""
        return self.book.left()

    def show(self) -> None:
        """Render the current item."""
        import ipywidgets as W

        e = html.escape
        n = len(self.items)
        if n == 0:
            self.status.value = f"<b>{self.say('mark.nothing')}</b>"
            return
        it = self.items.iloc[self.pos]
        self.status.value = (
            f"<b>{e(str(it['session']))} · {e(str(it['question']))}</b> — "
            f"{e(str(it['label']))} &nbsp; ({self.pos + 1}/{n}; "
            f"{self.say('mark.left')} {self.left()})"
        )
        spec = self.book.spec(it["session"], it["question"])
        group = str(it["group"] or "")
        self.whole_group.layout.display = "" if group else "none"
        self.whole_group.value = False
        # Anonymous marking names no group either: the group would identify the trainees.
        shown = self.say("mark.this_group") if self.anonymous else group
        self.whole_group.description = self.say("mark.whole_group", group=shown)
        self._show_answer_group(it)
        self.prompt.value = f"<p>{e(str(spec.get('prompt', '')))}</p>"
        self.answer.value = _answer_html(it["answer"]) + self._upload_html(it)
        self._checks, self._points = {}, {}
        rows = []
        for r in spec.get("rubric") or []:
            cid, full = str(r["id"]), float(r.get("points", 0))
            given = float(it["criteria"].get(cid, 0.0))
            cb = W.Checkbox(
                value=given >= full > 0,
                description=f"{r.get('text', cid)} ({num(full)})",
                indent=False,
                layout=W.Layout(width="auto", flex="1 1 auto"),
            )
            box = W.BoundedFloatText(
                value=given, min=0, max=full, step=0.5, layout=W.Layout(width="7em")
            )
            cb.observe(lambda ch, cid=cid, full=full: self._tick(cid, full, ch["new"]), "value")
            box.observe(lambda ch, cid=cid, full=full: self._typed(cid, full, ch["new"]), "value")
            self._checks[cid], self._points[cid] = cb, box
            rows.append(W.HBox([cb, box, W.HTML(f"/ {num(full)}")]))
        self.rubric_box.children = rows
        self.points.max = float(it["max_points"])
        self.points.value = float(it["points"]) if it["marked"] else 0.0
        self.comment.value = str(it["comment"] or "")

    def say(self, key: str, **kwargs: object) -> str:
        """A marking text in the course's language (kit.messages)."""
        return t(key, self.lang, **kwargs)

    def _show_answer_group(self, it: Any) -> None:
        e = html.escape
        size = int(it["agroup_size"] or 1)
        self.same_answers.value = False
        if size < 2:
            self.group_info.value = ""
            self.same_answers.layout.display = "none"
            return
        members = self.book.answer_group(self.pos)
        others = [p for p in members if p != self.pos]
        kept = int((~self.items["source"].iloc[others].isin(["", "answers"])).sum())
        self.same_answers.layout.display = ""
        self.same_answers.description = self.say("mark.same_answers", size=size, kept=kept)
        peek = "".join(
            f"<li>{e(str(self.items.iloc[p]['label']))}：{e(_excerpt(self.items.iloc[p]['answer']))}</li>"
            for p in others[:8]
        )
        self.group_info.value = (
            f"<div style='color:#555'>{self.say('mark.answer_group')} "
            f"{int(it['agroup'])} · {self.say('mark.answers_n', size=size)}"
            f"<details><summary>{self.say('mark.others')}</summary>"
            f"<ul>{peek}</ul></details></div>"
        )

    def _tick(self, cid: str, full: float, on: bool) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            box = self._points[cid]
            if on:
                box.value = full
            elif box.value >= full:
                box.value = 0.0
        finally:
            self._syncing = False
        self._sum()

    def _typed(self, cid: str, full: float, value: float) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self._checks[cid].value = value >= full > 0
        finally:
            self._syncing = False
        self._sum()

    def _sum(self) -> None:
        self.points.value = sum(float(b.value) for b in self._points.values())

    def _upload_html(self, it: Any) -> str:
        """Where an uploaded report lies in the store, and a text report's content to read."""
        if not kinds.find(it["kind"]).files:
            return ""
        path = upload_file(self.course.root, it["path"], it["question"], it["answer"])
        if path is None:
            return ""
        if not path.is_file():
            return f"<p>{self.say('mark.file_missing')}{html.escape(str(path))}</p>"
        out = f"<p>{self.say('mark.file')}<code>{html.escape(str(path))}</code></p>"
        text = upload_text(self.course.root, it["path"], it["question"], it["answer"])
        if text:
            out += f"<pre style='white-space:pre-wrap;max-height:30em;overflow:auto'>{html.escape(text)}</pre>"
        return out

    def save(self, advance: bool = True) -> None:
        """Save the current item's mark to the gradebook (and move on)."""
        if not len(self.items):
            return
        it = self.items.iloc[self.pos]
        if self.whole_group.value and it["group"]:
            scope = "team"
        elif self.same_answers.value and int(it["agroup_size"] or 1) > 1:
            scope = "answers"
        else:
            scope = "item"
        given = self.book.save(
            self.pos,
            criteria={c: float(b.value) for c, b in self._points.items()},
            points=self.points.value,
            comment=self.comment.value,
            scope=scope,
        )
        self.message.value = (
            self.say("mark.saved_n", n=len(given)) if len(given) > 1 else self.say("mark.saved")
        )
        if advance:
            self.move(1)

    def move(self, step: int) -> None:
        """Go to the next (or previous) item; with "unmarked only", skip marked ones."""
        if not len(self.items):
            return
        self.pos = self.book.next_open(self.pos, step, only_open=self.only_open.value)
        self.show()


def _excerpt(raw: str, n: int = 80) -> str:
    from kit.marking.groups import text_of

    try:
        text = text_of(json.loads(raw))
    except (TypeError, ValueError):
        text = str(raw or "")
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
