"""``feedback``: one graded HTML page per trainee and session.

Hidden tests never reach a page (they are dropped before rendering), every
trainee text is escaped (each kind renders its answer, :mod:`kit.kinds`), and
the page goes through the shared offline page shell (:func:`kit.export.page`)
with the CSS in ``kit/templates/feedback.css``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from kit import artifacts, kinds
from kit.course import Course, Failure, Outcome, as_course
from kit.gradebook import Gradebook
from kit.messages import t as say

FEEDBACK_CSS = (Path(__file__).parent.parent / "templates" / "feedback.css").read_text("utf-8")


class FeedbackResult(Outcome):
    """The feedback pages written, and the ones that failed."""


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _answer_html(kind: str, raw: str) -> str:
    """The trainee's answer as safe HTML: always escaped text, never markup."""
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return kinds.find(kind).answer_html(value)


def failure_html(failure: dict[str, Any], lang: str) -> str:
    """One typed failure (``kind``, ``line``, ``detail``, see :class:`kit.answers.FailureKind`) in words.

    The detail (an exception and its message) is shown for the trainee's own
    syntax errors and exceptions only: a grader failure's detail is for the
    instructor, so the trainee reads that grading failed, not why.
    """
    kind = str(failure.get("kind") or "error")
    line = failure.get("line")
    where = say("feedback.at_line", lang, n=line) if isinstance(line, int) else ""
    text = say(f"feedback.failure.{kind}", lang, where=where)
    if text == f"feedback.failure.{kind}":
        text = say("feedback.failure.error", lang, where=where)
    detail = str(failure.get("detail") or "") if kind in ("syntax", "error") else ""
    code = f" <code>{_esc(detail)}</code>" if detail else ""
    return f'<p class="failure">⚠ {_esc(text)}{code}</p>'


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def feedback_html(
    course: Course,
    cohort: str,
    session: str,
    trainee: str,
    score: dict[str, Any],
    questions: list[dict[str, Any]],
    tests: list[dict[str, Any]],
    marks: list[dict[str, Any]],
    failures: list[dict[str, Any]] | None = None,
) -> str:
    """One trainee's graded feedback page. Hidden tests are never passed in, and every trainee text is escaped.

    ``failures`` are the submission's own (it could not be graded); a code
    question's come in its row (``failures``), typed as :func:`failure_html` reads them.
    """
    import nh3

    lang = course.language
    co = course.cohort(cohort)
    s = co.session(session)
    unit = course.units.get(s.unit)
    name = co.roster.loc[trainee, "name"] if trainee in co.roster.index else trainee
    body: list[str] = []
    for n, q in enumerate(questions, 1):
        qid = q["question"]
        body.append(f'<section class="q" id="q-{_esc(qid)}">')
        # Trainees know a question by its place and kind; the id is for the teacher.
        heading = say("feedback.question_no", lang, n=n)
        kind = say(f"kind_{q['kind']}", lang)
        body.append(
            f'<span class="pts">{_fmt(q["points"])} / {_fmt(q["max_points"])}</span>'
            f'<h2>{_esc(heading)} <small class="kind">{_esc(kind)} · {_esc(qid)}</small></h2>'
        )
        # prompts come from the author; still cleaned, since they may carry HTML
        body.append(f'<div class="prompt">{nh3.clean(str(q.get("prompt") or ""))}</div>')
        body.append(_answer_html(q["kind"], q["answer"]))
        if q["status"] in ("needs-marking",):
            body.append(f"<p><em>{say('feedback.awaiting', lang)}</em></p>")
        elif q.get("detail") and not kinds.find(q["kind"]).tested:
            body.append(f'<p class="detail">{_esc(q["detail"])}</p>')
        body += [failure_html(f, lang) for f in q.get("failures") or []]
        qt = [t for t in tests if t["question"] == qid and not t["hidden"]]
        if qt:
            body.append('<ul class="tests">')
            for t in qt:
                cls, mark = ("pass", "✓") if t["passed"] else ("fail", "✗")
                unanswered = t["message"] == "unanswered"
                why = say("feedback.not_answered", lang) if unanswered else t["message"]
                msg = "" if t["passed"] else f" — {_esc(why)}"
                body.append(
                    f'<li class="{cls}">{mark} {_esc(t["name"])} ({_fmt(t["points"])}/{_fmt(t["max_points"])}){msg}</li>'
                )
            body.append("</ul>")
        qm = [m for m in marks if m["question"] == qid]
        crit = [m for m in qm if m["criterion"]]
        if crit:
            body.append('<ul class="rubric">')
            for m in crit:
                tick = "☑" if m["checked"] else "☐"
                body.append(f"<li>{tick} {_esc(m['criterion'])} ({_fmt(m['points'])})</li>")
            body.append("</ul>")
        for m in qm:
            if m["comment"]:
                body.append(f'<p class="comment">{_esc(m["comment"])}</p>')
        body.append("</section>")
    pen = ""
    if score.get("penalty"):
        pen = say(
            "feedback.late", lang, days=score["days_late"], pct=f"{score['penalty'] * 100:.0f}"
        )
    total = (
        f'<p class="total">{say("feedback.total", lang)}: <strong>{_fmt(score["points"])}</strong>'
        f" / {_fmt(score['max_points'])}{_esc(pen)}</p>"
    )
    why = "".join(failure_html(f, lang) for f in failures or [])
    content = total + why + "\n".join(body)
    title = f"{say('feedback.title', lang)} · {session} · {name}"
    from kit import export

    rows, _ = export.session_meta(course, cohort, session)
    rows = [*rows, (say("feedback.trainee", lang), str(name))]
    return export.page(
        title,
        content,
        colour=unit.colour if unit else "#444444",
        programme=course.config.programme.name,
        unit_name=unit.name if unit else "",
        meta=rows,
        language=course.language,
        extra_css=FEEDBACK_CSS,
    )


def _value(q: dict[str, Any]) -> Any:
    try:
        return json.loads(q["answer"])
    except (TypeError, ValueError):
        return None


def _failures_by_question(df: Any) -> dict[tuple[int, str], list[dict[str, Any]]]:
    """(submission, question) → its typed failures; question "" holds the submission's own."""
    out: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in df.to_dict("records"):
        line = r["line"] if r["line"] == r["line"] and r["line"] is not None else None
        f = {"kind": r["kind"], "line": int(line) if line is not None else None}
        out.setdefault((int(r["submission_id"]), str(r["question"])), []).append(
            {**f, "detail": r["detail"]}
        )
    return out


def feedback(
    course: Course | Path | str, cohort: str, *, db: str | None = None, session: str | None = None
) -> FeedbackResult:
    """Write ``build/<cohort>/feedback/<trainee>/<session>.html`` for every graded current submission."""
    c = as_course(course)
    c.cohort(cohort)  # an unknown cohort is an error, not "0 pages"
    res = FeedbackResult()
    with Gradebook.open(c.root, db) as gb:
        scores = gb.submission_scores(cohort, session)
        qs = gb.question_scores(cohort, session)
        # hidden tests are dropped here, before anything reaches a page
        ts = gb.tests(cohort, session)
        ts = ts[~ts["hidden"].astype(bool)] if not ts.empty else ts
        marks = gb.marks(cohort, session)
        failed = gb.failures(cohort, session)
    typed = _failures_by_question(failed)
    for row in scores.to_dict("records"):
        t, s = row["trainee"], row["session"]
        out = artifacts.feedback_path(c, cohort, t, s)
        try:
            sub = row["submission_id"]
            questions = qs[qs["submission_id"] == sub].to_dict("records")
            for q in questions:
                if kinds.find(q["kind"]).tested and not kinds.is_empty("code", _value(q)):
                    q["failures"] = typed.get((sub, q["question"]), []) + typed.get((sub, ""), [])
            page = feedback_html(
                c,
                cohort,
                s,
                t,
                row,
                questions,
                ts[ts["submission_id"] == row["submission_id"]].to_dict("records")
                if not ts.empty
                else [],
                marks[(marks["trainee"] == t) & (marks["session"] == s)].to_dict("records"),
                typed.get((sub, ""), []) if not questions else [],
            )
            res.written.append(artifacts.write_text(out, page))
        except Exception as e:  # noqa: BLE001 - one page never sinks the batch
            res.failures.append(Failure(f"{t}/{s}", f"{type(e).__name__}: {e}", str(out)))
    return res
