"""``feedback``: one graded HTML page per trainee and session, written to teach.

Everything on the page is in the course's language: each question by its
number (as the workbook names it) with a verdict in words, the trainee's
answer as the kind shows it, what was right and wrong about it, the rubric
criteria by their text in the author's order with the points given, the
marker's comment, and for code the tests counted — hidden ones only as a
number, never by name or message — with a failure that stopped the code
named for what it is (a syntax error with its line). The right answer and
the author's explanation appear beside a wrong answer only when the author's
setting allows it (:func:`revealed`: after the due time by default).

Hidden tests never reach a page beyond their count (they are counted, then
dropped, before rendering); every trainee text is escaped; the page goes
through the shared offline page shell (:func:`kit.pages.handouts.page`) with the CSS
in ``kit/pages/templates/feedback.css``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from kit import artifacts, kinds
from kit.course import Course, as_course
from kit.gradebook import Gradebook
from kit.grading.keys import SessionKeys, load_keys
from kit.kinds.base import KeyRecord, QuestionSpec
from kit.messages import t as say
from kit.pages import TEMPLATES
from kit.pages.pdf import to_pdf
from kit.pages.present import local_time, num
from kit.problems import Failure, Outcome

FEEDBACK_CSS = (TEMPLATES / "feedback.css").read_text("utf-8")

#: Statuses counted in the page's summary line, in this order.
_SUMMARY = ("correct", "partial", "wrong", "unanswered", "needs-marking", "marked")
_EXCEPTION = re.compile(r"^[A-Z]\w*(Error|Exception|Exit|Interrupt|Warning)\b")


class FeedbackResult(Outcome):
    """The feedback pages written, and the ones that failed."""


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


# ---------------------------------------------------------------- when answers are shown


def reveal_setting(keys: SessionKeys, qid: str) -> str:
    """The author's setting for a question: its own ``reveal=``, else the session's, else the default."""
    key = keys.keys.get(qid)
    own = key.get("reveal") if key else None
    return own or keys.reveal or artifacts.DEFAULT_REVEAL


def revealed(setting: str, due: datetime, now: datetime) -> bool:
    """Whether a page written at `now` may show the right answer and the explanation."""
    if setting == "always":
        return True
    if setting == "never":
        return False
    return now >= due


# ---------------------------------------------------------------- code: failures and tests


def syntax_failure(code: Any) -> dict[str, Any] | None:
    """A syntax error in a code answer, as a typed failure (``kind``, ``line``, ``detail``), or None.

    Checked on the page itself, so a syntax error is named as such whatever
    the grader reported for the tests that could not run after it.
    """
    if not isinstance(code, str) or not code.strip():
        return None
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(code)
    except Exception:  # noqa: BLE001 - IPython's own parser failing is a syntax problem too
        source = code
    try:
        compile(source, "<answer>", "exec", dont_inherit=True)
    except SyntaxError as e:
        return {"kind": "syntax", "line": e.lineno, "detail": f"SyntaxError: {e.msg}"}
    except ValueError as e:  # e.g. a NUL byte
        return {"kind": "syntax", "line": None, "detail": f"SyntaxError: {e}"}
    return None


def failure_html(failure: dict[str, Any], lang: str) -> str:
    """One typed failure (``kind``, ``line``, ``detail``, see :class:`kit.sandbox.answers.FailureKind`) in words.

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


def _test_why(test: dict[str, Any], lang: str) -> str:
    """Why a visible test failed, by its typed outcome (``kit.sandbox.answers.TestOutcome``)."""
    outcome, message = str(test.get("outcome") or ""), str(test.get("message") or "")
    if outcome == "unanswered":
        return _esc(say("feedback.not_answered", lang))
    if outcome == "not-run":
        return _esc(say("feedback.test_not_run", lang))
    if outcome == "raised":
        return f"{_esc(say('feedback.test_raised', lang))} <code>{_esc(message)}</code>"
    if _EXCEPTION.match(message):  # the author's test raised rather than asserted
        return f"<code>{_esc(message)}</code>"
    return _esc(message)  # the author's own words


def _tests_html(
    tests: list[dict[str, Any]], hidden: tuple[int, int], stopped: bool, lang: str
) -> list[str]:
    n_hidden, hidden_passed = hidden
    total = len(tests) + n_hidden
    if not total:
        return []
    passed = sum(1 for t in tests if t["passed"]) + hidden_passed
    line = say("feedback.tests", lang, n=total, passed=passed)
    if n_hidden:
        more = (
            say("feedback.hidden_failed", lang, n=n_hidden - hidden_passed)
            if hidden_passed < n_hidden
            else say("feedback.hidden_passed", lang)
        )
        line = say("feedback.tests_and_hidden", lang, tests=line, hidden=more)
    out = [f'<p class="tests-summary">{_esc(line)}</p>']
    if tests:
        out.append('<ul class="tests">')
        for t in tests:
            cls, mark = ("pass", "✓") if t["passed"] else ("fail", "✗")
            # after a failure that stopped the code, each test's own message only repeats it
            why = "" if t["passed"] or stopped else _test_why(t, lang)
            pts = say("feedback.points", lang, got=num(t["points"]), max=num(t["max_points"]))
            out.append(
                f'<li class="{cls}">{mark} {_esc(t["name"])} <span class="tpts">{_esc(pts)}</span>'
                + (f'<span class="why">{why}</span>' if why else "")
                + "</li>"
            )
        out.append("</ul>")
    return out


# ---------------------------------------------------------------- rubric


def _rubric_html(
    spec: QuestionSpec, marks: list[dict[str, Any]], show_texts: bool, lang: str
) -> list[str]:
    given = {str(m["criterion"]): m for m in marks if m["criterion"]}
    if not given:
        return []
    items: list[Mapping[str, Any]] = list(spec.get("rubric") or [])
    known = {str(i.get("id")) for i in items}
    items += [{"id": c, "text": c, "points": None} for c in given if c not in known]
    out = [f'<p class="label">{_esc(say("feedback.rubric", lang))}</p><ul class="rubric">']
    for n, item in enumerate(items, 1):
        m = given.get(str(item.get("id")))
        full = item.get("points")
        got = float(m["points"]) if m is not None else 0.0
        if full is None:  # a criterion the spec no longer lists: what was given, as given
            full = m.get("max_points") if m is not None else None
        if full is not None and full == full and float(full) > 0:
            tick = "☑" if got >= float(full) else ("◐" if got > 0 else "☐")
            shown = f"{num(got)} / {num(full)}"
        else:
            tick = "☑" if m is not None and m.get("checked") else "☐"
            shown = num(got)
        text = item.get("text") if show_texts else say("feedback.criterion_no", lang, n=n)
        out.append(
            f'<li><span class="tick">{tick}</span> {_esc(text or item.get("id"))}'
            f' <span class="cpts">{_esc(shown)}</span></li>'
        )
    out.append("</ul>")
    return out


# ---------------------------------------------------------------- one question


def _status(kind: kinds.Kind, q: dict[str, Any]) -> str:
    if not kind.graded:
        return "unanswered" if q["status"] == "unanswered" else "rated"
    if float(q["max_points"] or 0) == 0:
        return "unanswered" if q["status"] == "unanswered" else "ungraded"
    return str(q["status"])


def question_html(
    n: int,
    q: dict[str, Any],
    spec: Mapping[str, Any],
    key: KeyRecord | None,
    *,
    tests: list[dict[str, Any]],
    hidden: tuple[int, int],
    marks: list[dict[str, Any]],
    reveal: bool,
    lang: str,
) -> str:
    """One question of a feedback page (every text escaped; the prompt cleaned with nh3)."""
    import nh3

    kind = kinds.find(q["kind"])
    try:
        value = json.loads(q["answer"])
    except (TypeError, ValueError):
        value = q["answer"]
    spec = cast(QuestionSpec, {**spec, "id": q["question"], "kind": q["kind"]})
    status = _status(kind, q)
    answered = not kind.is_empty(value)
    label = say("feedback.rating", lang) if not kind.graded else say(f"kind_{q['kind']}", lang)
    if spec.get("optional"):
        label += " · " + say("optional", lang)
    # Trainees know a question by its place, as the workbook numbers it; the id is for the teacher.
    body = [
        f'<section class="q s-{_esc(status)}" id="q-{_esc(q["question"])}" data-qid="{_esc(q["question"])}">',
        '<div class="qhead">'
        f'<h2>{_esc(say("feedback.question_no", lang, n=n))} <small class="kind">{_esc(label)}</small></h2>'
        f'<span class="verdict">{_esc(say(f"feedback.status.{status}", lang))}</span>',
    ]
    if kind.graded and float(q["max_points"] or 0) > 0:
        pts = say("feedback.points", lang, got=num(q["points"]), max=num(q["max_points"]))
        body.append(f'<span class="pts">{_esc(pts)}</span>')
    body.append("</div>")
    body.append(f'<div class="prompt">{nh3.clean(str(q.get("prompt") or ""))}</div>')
    body.append(f'<p class="label">{_esc(say("feedback.your_answer", lang))}</p>')
    body.append(kind.answer_html(value, spec, lang))
    if answered and kind.keyed and status in ("partial", "wrong"):
        verdict = kind.verdict_text(spec, key, value, lang)
        if verdict:
            body.append(f'<p class="detail">{_esc(verdict)}</p>')
    if answered and kind.keyed and status == "ungraded" and float(q["max_points"] or 0) > 0:
        body.append(f'<p class="detail">{_esc(say("feedback.no_key", lang))}</p>')
    if kind.tested and answered:
        failures = [f for f in q.get("failures") or [] if isinstance(f, dict)]
        static = syntax_failure(value)
        if static and not any(f.get("kind") == "syntax" for f in failures):
            failures.insert(0, static)
        body += [failure_html(f, lang) for f in failures]
        body += _tests_html(tests, hidden, bool(failures), lang)
    body += _rubric_html(spec, marks, kind.shows_rubric(spec) or reveal, lang)
    for m in marks:
        if m["comment"]:
            body.append(
                f'<p class="label">{_esc(say("feedback.comment", lang))}</p>'
                f'<p class="comment">{_esc(m["comment"])}</p>'
            )
    if reveal:
        right = kind.key_html(spec, key, lang) if status != "correct" else ""
        explain = str((key or {}).get("explain") or "") if isinstance(key, dict) else ""
        if right or explain:
            body.append('<div class="reveal">')
            if right:
                body.append(
                    f'<p class="label">{_esc(say("feedback.right_answer", lang))}</p>'
                    f'<div class="key">{right}</div>'
                )
            if explain:
                body.append(
                    f'<p class="label">{_esc(say("feedback.explanation", lang))}</p>'
                    f'<div class="explain">{_esc(explain).replace(chr(10), "<br>")}</div>'
                )
            body.append("</div>")
    body.append("</section>")
    return "\n".join(body)


# ---------------------------------------------------------------- the page


def _question_sections(
    questions: list[dict[str, Any]],
    tests: list[dict[str, Any]],
    marks: list[dict[str, Any]],
    keys: SessionKeys,
    hidden: dict[str, tuple[int, int]],
    due: datetime,
    now: datetime,
    lang: str,
) -> tuple[list[str], dict[str, int], bool]:
    """Each question's section in order, how many questions have each status, and whether
    a graded question's answer is held back until the due time.
    """
    body: list[str] = []
    held_back = False
    counts: dict[str, int] = {}
    for n, q in enumerate(sorted(questions, key=lambda r: r["position"]), 1):
        qid = q["question"]
        kind = kinds.find(q["kind"])
        setting = reveal_setting(keys, qid)
        show = revealed(setting, due, now)
        held_back |= not show and setting == "after-due" and kind.graded
        status = _status(kind, q)
        counts[status] = counts.get(status, 0) + 1
        body.append(
            question_html(
                n,
                q,
                keys.questions.get(qid) or {},
                keys.keys.get(qid),
                tests=[t for t in tests if t["question"] == qid and not t["hidden"]],
                hidden=hidden.get(qid, (0, 0)),
                marks=[m for m in marks if m["question"] == qid],
                reveal=show,
                lang=lang,
            )
        )
    return body, counts, held_back


def _head(
    course: Course,
    score: dict[str, Any],
    counts: dict[str, int],
    held_back: bool,
    due: datetime,
    failures: list[dict[str, Any]],
    lang: str,
) -> list[str]:
    """The page's top: the total (with a late penalty) and questions by status.

    Then when held-back answers show, and why the submission could not be graded.
    """
    pen = ""
    if score.get("penalty"):
        pen = say(
            "feedback.late", lang, days=score["days_late"], pct=f"{score['penalty'] * 100:.0f}"
        )
    summary = " · ".join(
        say("feedback.count", lang, label=say(f"feedback.status.{st}", lang), n=counts[st])
        for st in _SUMMARY
        if counts.get(st)
    )
    head = [
        f'<p class="total">{_esc(say("feedback.total", lang))}: '
        f"<strong>{num(score['points'])}</strong> / {num(score['max_points'])}{_esc(pen)}</p>"
    ]
    if summary:
        head.append(f'<p class="summary">{_esc(summary)}</p>')
    if held_back:
        when = local_time(due, course.zone)
        head.append(f'<p class="note">{_esc(say("feedback.reveal_later", lang, when=when))}</p>')
    head += [failure_html(f, lang) for f in failures]
    return head


def feedback_html(
    course: Course,
    cohort: str,
    session: str,
    trainee: str,
    score: dict[str, Any],
    questions: list[dict[str, Any]],
    tests: list[dict[str, Any]],
    marks: list[dict[str, Any]],
    *,
    keys: SessionKeys,
    hidden: dict[str, tuple[int, int]] | None = None,
    now: datetime | None = None,
    failures: list[dict[str, Any]] | None = None,
) -> str:
    """One trainee's graded feedback page.

    ``tests`` are the visible tests only; ``hidden`` gives, per question, how
    many hidden tests there were and how many passed — nothing else of them
    reaches the page. ``now`` decides what the author's reveal setting allows
    (default: the current time). ``failures`` are the submission's own, typed
    as :func:`failure_html` reads them (why it could not be graded); a code
    question's come in its row (``failures``).
    """
    from kit import notebooks as nbs
    from kit.pages import handouts as export

    lang = course.language
    co = course.cohort(cohort)
    s = co.session(session)
    unit = course.units.get(s.unit)
    name = co.roster.loc[trainee, "name"] if trainee in co.roster.index else trainee
    now = now or datetime.now(UTC)
    due = course.due_moment(cohort, session)
    body, counts, held_back = _question_sections(
        questions, tests, marks, keys, hidden or {}, due, now, lang
    )
    head = _head(course, score, counts, held_back, due, failures or [], lang)
    title = nbs.title_of(keys.instructor, session)
    rows, _ = export.session_meta(course, cohort, session)
    rows = [*rows, (say("feedback.trainee", lang), str(name))]
    return export.page(
        say("feedback.page_title", lang, title=title, date=s.date.isoformat(), name=name),
        "\n".join(head + body),
        colour=unit.colour if unit else "#444444",
        programme=course.config.programme.name,
        unit_name=unit.name if unit else "",
        meta=rows,
        language=lang,
        extra_css=FEEDBACK_CSS,
    )


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


def _hidden_counts(tests: Any) -> dict[tuple[int, str], tuple[int, int]]:
    """(submission, question) → (hidden tests, passed): all a page may know of hidden tests."""
    if tests.empty:
        return {}
    hid = tests[tests["hidden"].astype(bool)]
    out = {}
    for (sub, qid), g in hid.groupby(["submission_id", "question"]):
        out[(int(sub), str(qid))] = (len(g), int(g["passed"].astype(bool).sum()))
    return out


def feedback(
    course: Course | Path | str,
    cohort: str,
    *,
    db: str | None = None,
    session: str | None = None,
    now: datetime | None = None,
    pdf: bool = False,
) -> FeedbackResult:
    """Write ``build/<cohort>/feedback/<trainee>/<session>.html`` for every graded current submission.

    ``now`` (default: the current time) decides which right answers the
    authors' reveal settings allow on the pages. ``pdf`` also prints each
    page to a PDF beside it (:mod:`kit.pages.pdf`).
    """
    c = as_course(course)
    c.cohort(cohort)  # an unknown cohort is an error, not "0 pages"
    res = FeedbackResult()
    with Gradebook.open(c.root, db) as gb:
        scores = gb.submission_scores(cohort, session)
        qs = gb.question_scores(cohort, session)
        ts = gb.tests(cohort, session)
        marks = gb.marks(cohort, session)
        failed = gb.failures(cohort, session)
    typed = _failures_by_question(failed)
    # hidden tests are counted, then dropped, before anything reaches a page
    hidden = _hidden_counts(ts)
    ts = ts[~ts["hidden"].astype(bool)] if not ts.empty else ts
    # by session and variant: a trainee with a variant of their own reads its right answers
    session_keys: dict[tuple[str, str | None], SessionKeys | Exception] = {}
    for row in scores.to_dict("records"):
        t, s = row["trainee"], row["session"]
        out = artifacts.feedback_path(c, cohort, t, s)
        try:
            which = (s, artifacts.variant_of(c, cohort, s, t))
            if which not in session_keys:
                try:
                    session_keys[which] = load_keys(c, cohort, s, t)
                except Exception as e:  # noqa: BLE001 - reported per page below
                    session_keys[which] = e
            keys = session_keys[which]
            if isinstance(keys, Exception):
                raise keys
            sub = row["submission_id"]
            questions = qs[qs["submission_id"] == sub].to_dict("records")
            for q in questions:
                if kinds.find(q["kind"]).tested:
                    q["failures"] = typed.get((sub, q["question"]), []) + typed.get((sub, ""), [])
            page = feedback_html(
                c,
                cohort,
                s,
                t,
                row,
                questions,
                ts[ts["submission_id"] == sub].to_dict("records") if not ts.empty else [],
                marks[(marks["trainee"] == t) & (marks["session"] == s)].to_dict("records"),
                keys=keys,
                hidden={q: v for (sid, q), v in hidden.items() if sid == int(sub)},
                now=now,
                failures=typed.get((sub, ""), []) if not questions else [],
            )
            res.written.append(artifacts.write_text(out, page))
        except Exception as e:  # noqa: BLE001 - one page never sinks the batch
            res.failures.append(Failure(f"{t}/{s}", f"{type(e).__name__}: {e}", str(out)))
    if pdf:
        printed = to_pdf(list(res.written))
        res.written += printed.written
        res.failures += printed.failures
    return res
