"""The live widget of a question: the frame every kind shares, bound to a workbook runtime.

The inputs inside the frame come from the question's kind
(``kit.kinds.<kind>.KIND.widget``); the frame adds the header, the status
line, error messages and, in practice mode, the check button.
"""

from __future__ import annotations

import html
from typing import Any

from kit import kinds
from kit.kinds.base import UNIT_COLOURS, PracticeHashes, QuestionSpec, br, num
from kit.kinds.render import unit_name
from kit.messages import t
from kit.pages.present import zone_time
from kit.problems import os_reason
from kit.workbook.store import AnswerEntry

# One style block per view: JupyterLab keeps widget HTML unsanitised, and
# repeating it is harmless; it enlarges text and focus rings for readers who
# are not used to small notebook fonts.
WIDGET_CSS = """<style>
.casekit-q { font-size: 17px; line-height: 1.6; border-left: 6px solid var(--ck-colour, #555);
  padding: 8px 14px; margin: 10px 0; max-width: 52em; }
.casekit-q .widget-label, .casekit-q label, .casekit-q input, .casekit-q textarea,
.casekit-q button, .casekit-q .widget-html-content { font-size: 17px !important; }
.casekit-q .widget-radio-box label, .casekit-q .widget-checkbox label {
  display: flex !important; align-items: center; gap: .5em; line-height: 1.5 !important;
  height: auto !important; margin: .25em 0; }
.casekit-q input[type=radio], .casekit-q input[type=checkbox] { width: 18px; height: 18px;
  margin: 0 !important; flex: none; order: -1; float: none !important; }
.casekit-q .widget-radio-box, .casekit-q .widget-checkbox, .casekit-q .widget-radio { height: auto !important; }
.casekit-q .widget-checkbox { width: 100% !important; max-width: 100%; }
.casekit-q .widget-checkbox > label.widget-label { display: none !important; }
.casekit-q .widget-checkbox > .widget-label-basic { flex: 1 1 auto; min-width: 0; width: auto !important; }
.casekit-q .widget-checkbox .widget-label-basic span { white-space: normal; overflow: visible; }
.casekit-q .casekit-field { font-weight: 600; margin: .4em 0 .1em; }
.casekit-q textarea { line-height: 1.6; }
.casekit-q button:focus-visible, .casekit-q input:focus-visible, .casekit-q textarea:focus-visible
  { outline: 3px solid #1565c0; outline-offset: 2px; }
.casekit-q .casekit-status { color: #555; font-size: 15px; }
.casekit-q .casekit-error { color: #c0392b; font-weight: 600; }
</style>"""


class QuestionView:
    """A live widget for one question, bound to a runtime (answer store).

    Attributes tests and the runtime use: ``box`` (the displayed VBox),
    ``inputs`` (kind-specific input widgets), ``status`` and ``message`` (HTML),
    ``check_button`` and ``feedback`` (practice mode only). A kind may attach
    its own actions (a ranking's ``move(i, step)``, an upload's
    ``receive_upload(files)``).
    """

    def __init__(self, spec: QuestionSpec, runtime: Any):
        import ipywidgets as w

        self.w = w
        self.spec = spec
        self.qid = spec["id"]
        self.kind = spec["kind"]
        self.kind_def = kinds.get(self.kind)
        self.runtime = runtime
        self.lang = runtime.language
        self.inputs: dict[str, Any] = {}
        self.message = w.HTML(value="")
        self.status = w.HTML(value="")
        self.check_button = None
        self.feedback = None
        runtime.register(spec)
        entry, warning = runtime.lookup(self.qid, spec)
        self.entry = entry
        value = None if entry is None else entry.get("value")
        body = self.kind_def.widget(self, value)
        header = w.HTML(value=self._header_html())
        children = [w.HTML(value=WIDGET_CSS), header, *body]
        hashes = (runtime.practice or {}).get(self.qid) if runtime.mode == "practice" else None
        if hashes:
            self.check_button = w.Button(description=t("check", self.lang), icon="check")
            self.check_button.tooltip = t("check", self.lang)
            self.feedback = w.HTML(value="")
            self.check_button.on_click(lambda _b: self.check())
            children.append(w.HBox([self.check_button, self.feedback]))
        children += [self.message, self.status]
        self.box = w.VBox(children)
        self.box.add_class("casekit-q")
        self.box.add_class(f"casekit-q-{self.qid}")
        colour = spec.get("colour") or UNIT_COLOURS.get(str(spec.get("unit") or ""), "#555")
        self.box.layout.border_left = f"6px solid {colour}"
        self.status.add_class("casekit-status")
        if warning:
            self.error(warning)
        self._show_status()
        runtime.subscribe(self.qid, self._on_external)
        if hasattr(runtime, "follow_live"):  # live class (#12): closed / revealed on the widget
            runtime.follow_live(self)

    def _header_html(self) -> str:
        e, spec = html.escape, self.spec
        # numbered as the progress panel names it (第5题); the id is for files, not for readers
        number = t("question_no", self.lang, n=self.runtime.number(self.qid))
        meta = [t("kind_" + self.kind, self.lang)]
        if spec.get("points"):
            meta.append(t("points", self.lang, n=num(spec["points"])))
        if spec.get("optional"):
            meta.append(t("optional", self.lang))
        if spec.get("unit"):
            meta.append(unit_name(spec, self.lang))
        return (
            f'<div style="font-size:14px;color:#555" class="casekit-meta">'
            f'<b class="casekit-number" style="font-size:16px;color:#222">{e(number)}</b>'
            f" · {e(' · '.join(meta))}</div>"
            f'<div style="font-weight:600;font-size:18px" id="casekit-prompt-{e(self.qid)}">'
            f"{br(spec['prompt'])}</div>"
        )

    def error(self, text: str) -> None:
        """Show an error under the inputs (replacing the previous one)."""
        self.message.value = f'<div class="casekit-error" role="alert">⚠ {html.escape(text)}</div>'

    def clear_error(self) -> None:
        self.message.value = ""

    def _show_status(self) -> None:
        entry = self.entry
        if self.runtime.readonly:
            text = t("store_readonly", self.lang)
        elif entry is None or self.kind_def.is_empty(entry.get("value")):
            text = t("unanswered", self.lang)
        else:
            stamp = zone_time(entry.get("at"), getattr(self.runtime, "zone", None), "%H:%M:%S")
            text = t("code_saved" if self.kind_def.tested else "saved", self.lang, time=stamp)
            if not self.runtime.persistent:
                text += " · " + t("not_saved", self.lang)
        # data-at changes with every save, even within a second: the page's watcher
        # (casekit's Voilà template) knows by it that the kernel answered an edit
        at = html.escape(str((entry or {}).get("at") or ""), True)
        self.status.value = (
            f'<span class="casekit-status" data-at="{at}" aria-live="polite">'
            f"{html.escape(text)}</span>"
        )

    def save(self, value: Any, **extra: Any) -> None:
        """Store `value` now (None = the trainee cleared the answer)."""
        try:
            self.entry = self.runtime.save(self.qid, value, self.kind, **extra)
        except Exception as exc:  # a failed write must be visible, never silent
            why = os_reason(exc, self.lang) if isinstance(exc, OSError) else str(exc)
            self.error(why)
            # the old "已保存 HH:MM" would say this edit is safe: it is not
            self.status.value = (
                f'<span class="casekit-status casekit-unsaved" aria-live="polite">'
                f"{html.escape(t('save_failed_status', self.lang))}</span>"
            )
            return
        if self.feedback is not None:
            self.feedback.value = ""
        self._show_status()

    def _on_external(self, entry: AnswerEntry) -> None:
        self.entry = entry
        self._show_status()

    def current(self) -> Any:
        """The stored answer value, or None."""
        return None if self.entry is None else self.entry.get("value")

    def check(self) -> bool | None:
        """Practice mode: compare the stored answer with the salted hashes."""
        table: dict[str, PracticeHashes] = self.runtime.practice or {}
        hashes: PracticeHashes = table.get(self.qid) or {}
        result = self.kind_def.practice_check(self.spec, hashes, self.current())
        if self.feedback is not None:
            if self.current() is None:
                msg, colour = t("check_none", self.lang), "#555"
            elif result is None:
                msg, colour = t("check_unavailable", self.lang), "#555"
            elif result:
                msg, colour = t("check_right", self.lang), "#2e7d32"
            else:
                msg, colour = t("check_wrong", self.lang), "#c0392b"
            self.feedback.value = f'<span role="status" style="color:{colour};font-weight:600">{html.escape(msg)}</span>'
        return result


def build_view(spec: QuestionSpec, runtime: Any) -> QuestionView:
    """Build a live widget view of `spec` bound to `runtime`."""
    return QuestionView(spec, runtime)
