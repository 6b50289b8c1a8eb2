"""Code: answered in the next ``solution`` cell's answer area; the author's tests decide."""

from __future__ import annotations

import html
from typing import Any

from kit import kernel
from kit.artifacts import answer_marker
from kit.kinds.base import CORRECT, NEEDS_MARKING, PARTIAL, WRONG, Declared, Kind, Score
from kit.messages import t


class Code(Kind):
    name = "code"
    tested = True

    def declare(self, qid: str, prompt: str, points: float = 1, *, unit=None):
        """Code answered in the next `solution` cell; `test`s decide the score."""
        return Declared(qid, prompt, points, {"language": "python", "unit": unit})

    def is_empty(self, value: Any) -> bool:
        """No code: only comments, blank lines, ``pass`` or ``...`` (the stub as released is no answer)."""
        return not isinstance(value, str) or code_is_empty(value)

    def valid(self, spec: dict, value: Any) -> str | None:
        return None if value is None or isinstance(value, str) else "valid.not_text"

    def score_answer(self, spec, key, answer, maxp, *, tests=None, run_error=None) -> Score:
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

    def answer_html(self, value: Any, spec: dict | None = None, lang: str = "zh") -> str:
        if self.is_empty(value):
            return '<p class="answer"><em>—</em></p>'
        return f'<pre class="answer">{html.escape(str(value), True)}</pre>'

    def widget(self, view: Any, value: Any) -> list:
        if not kernel.in_voila():
            hint = html.escape(t("code_hint", view.lang, qid=view.qid))
            return [view.w.HTML(value=f'<div class="casekit-status">{hint}</div>')]
        return _editor(view, value)


def verdict_words(test: dict) -> str:
    """A failed test in the score's detail (the instructor's view, in the grader's words)."""
    outcome, message = test.get("outcome") or "", str(test.get("message") or "")
    if outcome == "unanswered":
        return "unanswered"
    if outcome == "not-run":
        return "did not run"
    if outcome == "raised":
        return f"the tests cell raised {message}"
    return message


def _editor(view: Any, value: Any) -> list:
    """Voilà shows no cell sources, so the answer cell becomes an editor (kit.hub, #11).

    Running it runs the code in this kernel as the answer cell would, saves what
    ran to the store by question id, and shows the visible tests' verdicts.
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
    view.inputs.update(code=area, run=run)

    def go(_b: Any) -> None:
        from IPython.display import HTML, display

        from kit.questions import rerun_tests  # the registry of the notebook's tests

        source = area.value
        output.clear_output()
        ip = kernel.ipython()
        if ip is not None and not code_is_empty(source):
            with output:
                ip.run_cell(source, store_history=False)
        view.save(None if code_is_empty(source) else source)
        lines = "".join(
            f"<div>{'✓' if r['passed'] else '✗'} {html.escape(str(r['name']))}</div>"
            for r in rerun_tests(view.qid)
            if not r.get("hidden")
        )
        if lines:
            with output:
                display(HTML(lines))

    run.on_click(go)
    return [area, run, output]


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
