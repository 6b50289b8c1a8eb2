"""Code: answered in the next ``solution`` cell's answer area; the author's tests decide."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any, TypedDict

from kit import kernel_state as kernel
from kit.artifacts import JudgedTest, answer_marker
from kit.kinds.base import (
    CORRECT,
    NEEDS_MARKING,
    PARTIAL,
    WRONG,
    Declared,
    KeyRecord,
    Kind,
    QuestionSpec,
    Score,
)
from kit.messages import t


class RunTick(TypedDict):
    """One visible test of a code run in the workbook: its name and whether it passed."""

    name: str
    passed: bool


class EditorRun(TypedDict):
    """The last run of a code answer in the workbook's editor: what it printed, its error, its ticks."""

    stdout: str
    error: str
    tests: list[RunTick]


class Code(Kind):
    name = "code"
    tested = True

    def declare(self, qid: str, prompt: str, points: float = 1, *, unit: Any = None) -> Declared:
        """Code answered in the next `solution` cell; `test`s decide the score."""
        return Declared(qid, prompt, points, {"language": "python", "unit": unit})

    def is_empty(self, value: Any) -> bool:
        """No code: only comments, blank lines, ``pass`` or ``...`` (the stub as released is no answer)."""
        return not isinstance(value, str) or code_is_empty(value)

    def valid(self, spec: QuestionSpec, value: Any) -> str | None:
        return None if value is None or isinstance(value, str) else "valid.not_text"

    def score_answer(self, spec: QuestionSpec, key: KeyRecord | None, answer: Any, maxp: float,
                     *, tests: list[JudgedTest] | None = None,
                     run_error: str | None = None) -> Score:  # fmt: skip
        """Points in proportion to the points of the passed tests; the detail names the failed visible ones."""
        if tests is None:
            return Score(0.0, maxp, NEEDS_MARKING, t("score.no_tests"))
        total = sum(float(r.get("max_points", r.get("points")) or 0) for r in tests)
        got = sum(float(r.get("points") or 0) for r in tests if r.get("passed"))
        qmax = float(spec.get("points", total) or 0)
        pts = round(qmax * got / total, 6) if total else 0.0
        if total and got == total:
            return Score(pts, qmax, CORRECT)
        failed = [r for r in tests if not r.get("passed") and not r.get("hidden")]
        detail = "; ".join(f"{r.get('name', '')}: {verdict_words(r)}" for r in failed)[:2000]
        if run_error:
            detail = (f"{run_error}; " + detail).strip("; ")
        return Score(pts, qmax, PARTIAL if got > 0 else WRONG, detail)

    def answer_html(self, value: Any, spec: QuestionSpec | None = None, lang: str = "zh") -> str:
        if self.is_empty(value):
            return '<p class="answer"><em>—</em></p>'
        return f'<pre class="answer">{html.escape(str(value), True)}</pre>'

    def widget(self, view: Any, value: Any) -> list[Any]:
        if not kernel.in_voila():
            hint = html.escape(t("code_hint", view.lang, qid=view.qid))
            return [view.w.HTML(value=f'<div class="casekit-status">{hint}</div>')]
        return _editor(view, value)


def verdict_words(test: JudgedTest) -> str:
    """A failed test in the score's detail (the instructor's view, in the grader's words)."""
    outcome, message = test.get("outcome") or "", str(test.get("message") or "")
    if outcome == "unanswered":
        return "unanswered"
    if outcome == "not-run":
        return "did not run"
    if outcome == "raised":
        return f"the tests cell raised {message}"
    return message


def _editor(view: Any, value: Any) -> list[Any]:
    """Voilà shows no cell sources, so the answer cell becomes an editor (kit.hub, #11).

    Running it runs the code in this kernel as the answer cell would, saves what
    ran to the store by question id with what it printed and the visible tests'
    verdicts (``run``), and shows them; a reload shows the last run again.
    """
    w = view.w
    area = w.Textarea(
        value=value or "",
        placeholder=t("code_placeholder", view.lang),
        rows=8,
        layout=w.Layout(width="100%"),
    )
    area.add_class("casekit-code")
    run = w.Button(description=t("code_run", view.lang), icon="play", button_style="primary")
    output = w.Output()
    output.add_class("casekit-code-output")
    view.inputs.update(code=area, run=run, output=output)
    last = (view.entry or {}).get("run")
    if isinstance(last, dict) and value:
        output.append_display_data(_run_html(last))

    def go(_b: Any) -> None:
        source = area.value
        output.outputs = ()
        record: EditorRun = {"stdout": "", "error": "", "tests": []}
        ip = kernel.ipython()
        shown: list[Any] = []
        if ip is not None and not code_is_empty(source):
            (record["stdout"], record["error"]), shown = _run_captured(ip, source)
        record["tests"] = [
            {"name": str(r["name"]), "passed": bool(r["passed"])}
            for r in kernel.rerun_tests(view.qid)
            if not r.get("hidden")
        ]
        empty = code_is_empty(source)
        view.save(None if empty else source, **({} if empty else {"run": record}))
        output.append_display_data(_run_html(record))
        # what the code displayed (a table, a chart) shows now; only its text is kept
        output.outputs += tuple(
            {"output_type": "display_data", "data": o.data, "metadata": o.metadata or {}}
            for o in shown
        )

    run.on_click(go)
    return [area, run, output]


#: What a run keeps of its printed output (the store is not a log).
RUN_TEXT_LIMIT = 4000


def _run_captured(ip: Any, source: str) -> tuple[tuple[str, str], list[Any]]:
    """Run `source` in the kernel: (what it printed and its error's last line, what it displayed)."""
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        result = ip.run_cell(source, store_history=False)
    error = result.error_in_exec or result.error_before_exec
    why = f"{type(error).__name__}: {error}" if error is not None else ""
    text = (cap.stdout + cap.stderr)[-RUN_TEXT_LIMIT:]
    return (text, why[:RUN_TEXT_LIMIT]), list(cap.outputs)


def _run_html(record: Mapping[str, Any]) -> Any:
    """A run as the trainee sees it: what it printed, its error, a tick or a cross per visible test.

    An :class:`EditorRun`, or one read back from the store (checked as it is read).
    """
    from IPython.display import HTML

    e = html.escape
    parts = []
    if record.get("stdout"):
        parts.append(f'<pre class="casekit-run-out">{e(str(record["stdout"]))}</pre>')
    if record.get("error"):
        parts.append(
            f'<pre class="casekit-run-error" style="color:#c0392b">{e(str(record["error"]))}</pre>'
        )
    for r in record.get("tests") or []:
        mark = "✓" if r.get("passed") else "✗"
        parts.append(f'<div class="casekit-tick">{mark} {e(str(r.get("name", "")))}</div>')
    return HTML("".join(parts))


def code_is_empty(source: str) -> bool:
    """True when code holds nothing but comments, blank lines, ``pass`` and ``...``."""
    return not any(
        ln.strip() and not ln.lstrip().startswith("#") and ln.strip() not in ("pass", "...")
        for ln in source.splitlines()
    )


def answer_stub(qid: str, language: str = "zh") -> str:
    """Source of the trainee's code answer cell for question `qid`.

    The first line is the marker the runtime looks for when the cell runs.
    """
    hint = t("code_stub_hint", language)
    return f"{answer_marker(qid)}\n{hint}\n"


KIND = Code()
