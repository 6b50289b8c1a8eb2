"""The progress panel of a workbook: greeting, progress per unit ("levels"), submit and receipt."""

from __future__ import annotations

import html
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from kit.kinds.base import UNIT_COLOURS
from kit.messages import speaking, t
from kit.pages.present import zone_time
from kit.problems import os_reason
from kit.workbook.handin import Receipt, submit
from kit.workbook.store import StoreError

if TYPE_CHECKING:  # the runtime builds the panel; the panel only reads it
    from kit.workbook.runtime import Runtime

# --------------------------------------------------------------- progress UI


def _unit_label(unit: str | None, language: str) -> str:
    if unit in UNIT_COLOURS:
        return t(f"unit_{unit}", language)
    return str(unit or "—")


def _why(exc: Exception, language: str) -> str:
    """Why a hand-in failed, as a trainee should read it: the reason, never a path or a traceback."""
    from kit.exchange.clients import ExchangeError, ExchangeUnreachable

    if isinstance(exc, StoreError):
        # the command line's advice (--exchange) is not the trainee's to follow
        return t("submit_no_exchange", language) if exc.code == "no-exchange" else exc.why
    if isinstance(exc, ExchangeUnreachable):
        return t("submit_unreachable", language)
    if isinstance(exc, ExchangeError):
        return t("submit_refused", language)
    if isinstance(exc, OSError):
        return t("submit_os_error", language, error=os_reason(exc, language))
    return t("submit_unexpected", language)


def due_text(due: str | None, zone: str | None, language: str) -> str:
    """The due time in the course's zone, as a trainee reads it ("2026-05-22 22:00（北京时间）")."""
    if not due:
        return ""
    try:
        tz = ZoneInfo(zone) if zone else None
        when = datetime.fromisoformat(due)
        shown = (when.astimezone(tz) if tz else when).strftime("%Y-%m-%d %H:%M")
    except (ValueError, KeyError):
        return ""
    key = f"zone_name.{zone}"
    name = t(key, language)
    return t("due", language, time=shown, zone=zone if name == key else name)


def _greeting_html(rt: Runtime) -> str:
    """Who the workbook is for, its mode and due time, and the page's own offline texts."""
    lang, e = rt.language, html.escape
    who = rt.name or rt.trainee
    greet = (
        t("greeting", lang, name=who, session=rt.title)
        if who
        else t("greeting_anon", lang, session=rt.title)
    )
    mode = t("mode_practice" if rt.mode == "practice" else "mode_assessed", lang)
    due = due_text(rt.due, rt.zone, lang)
    # what the page says by itself when the server is out of reach (Voilà template's watcher)
    said = (
        f'<span class="casekit-said" hidden data-unsaved="{e(t("page_unsaved", lang))}" '
        f'data-offline-handin="{e(t("page_offline_handin", lang))}"></span>'
    )
    return (
        said + f'<div style="font-size:20px;font-weight:600">{e(greet)}</div>'
        f'<div style="font-size:16px;color:#555">{e(mode)}</div>'
        + (
            f'<div class="casekit-due" style="font-size:16px;font-weight:600">{e(due)}</div>'
            if due
            else ""
        )
    )


def _unit_row(
    rt: Runtime, unit: str, qids: list[str], required: list[str], answered: set[str]
) -> tuple[str, str | None]:
    """One unit's progress bar, and the unit's label when every required question of it is answered."""
    lang, e = rt.language, html.escape
    colour = str(
        next(
            (rt.questions[q].get("colour") for q in qids if rt.questions[q].get("colour")),
            UNIT_COLOURS.get(unit, "#555"),
        )
    )
    label = str(
        next(
            (rt.questions[q]["unit_name"] for q in qids if rt.questions[q].get("unit_name")),
            _unit_label(unit, lang),
        )
    )
    counted = [q for q in qids if q in required]
    done = [q for q in counted if q in answered]
    pct = int(100 * len(done) / len(counted)) if counted else 100
    # Trainees know questions by their place in the workbook, not by their ids.
    open_items = [t("question_no", lang, n=rt.number(q)) for q in counted if q not in answered]
    row = (
        f'<div style="display:flex;flex-wrap:wrap;align-items:center;gap:4px 10px;font-size:16px;margin:3px 0">'
        f'<span style="min-width:11em;color:{e(colour)};font-weight:600">{e(label)}</span>'
        f'<span style="flex:0 0 14em;height:14px;background:#eee;border-radius:7px;overflow:hidden">'
        f'<span style="display:block;height:100%;width:{pct}%;background:{e(colour)}"></span></span>'
        f"<span>{len(done)} / {len(counted)}{' ✓' if not open_items else ''}</span>"
        + (
            f'<span style="color:#777">{e(t("level_open", lang, items="、".join(open_items)))}</span>'
            if open_items
            else ""
        )
        + "</div>"
    )
    return row, None if open_items else label


def _progress_html(rt: Runtime) -> str:
    """How many required questions are answered, a bar per unit, the units cleared, all done."""
    lang, e = rt.language, html.escape
    answered = rt.answered() & set(rt.questions)
    required = rt.required()
    optional = [q for q in rt.questions if q not in required]
    done_required = [q for q in required if q in answered]
    line = t("progress", lang, done=len(done_required), total=len(required))
    if optional:
        line += t("progress_optional", lang, n=len(optional))
    rows = [f'<div style="font-size:17px;margin:4px 0" role="status">{e(line)}</div>']
    units: dict[str, list[str]] = {}
    for qid, spec in rt.questions.items():
        units.setdefault(str(spec.get("unit") or ""), []).append(qid)
    cleared = []
    for unit, qids in units.items():
        row, label = _unit_row(rt, unit, qids, required, answered)
        if label is not None:
            cleared.append(label)
        rows.append(row)
    if cleared:
        rows.append(
            f'<div style="font-size:16px">🏅 {e(t("levels", lang, levels="、".join(cleared)))}</div>'
        )
    if required and len(done_required) == len(required):
        rows.append(
            f'<div class="casekit-all-done" style="font-size:17px;color:#2e7d32;font-weight:600">{e(t("all_done", lang))}</div>'
        )
    return "".join(rows)


class ProgressPanel:
    """Greeting, due time, per-unit progress ("levels"), the submit button (with a warning) and receipt."""

    def __init__(self, runtime: Runtime):
        import ipywidgets as w

        self.rt = runtime
        lang = runtime.language
        self.greeting = w.HTML()
        self.bars = w.HTML()
        self.warnings = w.HTML()
        self.submit_button = w.Button(
            description=t("submit", lang),
            icon="paper-plane",
            button_style="primary",
            tooltip=t("submit", lang),
            layout=w.Layout(width="auto", height="2.6em"),
        )
        self.submit_button.style.font_size = "17px"
        self.receipt = w.HTML()
        self.submit_button.on_click(lambda _b: self.do_submit())
        # Handing in with items still open asks first: a trainee at 8/10 may not know.
        self.confirm_text = w.HTML()
        self.confirm_button = w.Button(
            description=t("submit_anyway", lang),
            button_style="warning",
            layout=w.Layout(width="auto"),
        )
        self.back_button = w.Button(
            description=t("keep_answering", lang), layout=w.Layout(width="auto")
        )
        self.confirm_button.on_click(lambda _b: self.do_submit(confirmed=True))
        self.back_button.on_click(lambda _b: self._ask(False))
        self.confirm = w.VBox(
            [self.confirm_text, w.HBox([self.confirm_button, self.back_button])],
            layout=w.Layout(display="none"),
        )
        self.confirm.add_class("casekit-confirm")
        row = w.HBox([self.submit_button, self.receipt])
        if runtime.readonly:
            self.submit_button.disabled = True
        self.box = w.VBox([self.greeting, self.bars, self.warnings, row, self.confirm])
        self.box.add_class("casekit-progress")
        self.box.layout.border = "2px solid #ccc"
        self.box.layout.padding = "10px 16px"
        self.box.layout.margin = "8px 0"
        self.refresh()

    def open_items(self) -> list[str]:
        """Required questions not answered yet, in order."""
        answered = self.rt.answered()
        return [q for q in self.rt.required() if q not in answered]

    def refresh(self) -> None:
        """Show the greeting, the progress by unit and the store's warnings as they are now."""
        e = html.escape
        self.greeting.value = _greeting_html(self.rt)
        self.bars.value = _progress_html(self.rt)
        warns = self.rt.store.warnings if self.rt.store is not None else []
        self.warnings.value = "".join(
            f'<div role="alert" style="color:#c0392b;font-weight:600;font-size:16px">⚠ {e(w)}</div>'
            for w in warns
        )

    def _ask(self, show: bool, open_items: list[str] | None = None) -> None:
        lang, e = self.rt.language, html.escape
        if show and open_items:
            items = "、".join(t("question_no", lang, n=self.rt.number(q)) for q in open_items)
            text = t("submit_open_items", lang, n=len(open_items), items=items)
            self.confirm_text.value = f'<div role="alert" style="font-size:16px;color:#8a4b00;font-weight:600">⚠ {e(text)}</div>'
        self.confirm.layout.display = "flex" if show else "none"

    def do_submit(self, confirmed: bool = False) -> Receipt | None:
        """Submit the workbook; show the receipt time or the reason it failed.

        With required items still open, ask first (``confirmed`` hands in anyway).
        """
        rt, lang, e = self.rt, self.rt.language, html.escape
        open_items = self.open_items()
        if open_items and not confirmed:
            self._ask(True, open_items)
            return None
        self._ask(False)
        if rt.store is None or rt.notebook is None:
            self.receipt.value = (
                f'<span style="color:#c0392b">{e(t("submit_no_exchange", lang))}</span>'
            )
            return None
        # the hand-in may wait on the network: say so, and never take a second click for a first
        self.receipt.value = f'<span role="status">{e(t("submit_sending", lang))}</span>'
        self.submit_button.disabled = True
        try:
            with speaking(lang):  # why it failed, in the workbook's language
                # the store names the folder exchange; on a hub the service wins
                receipt = submit(rt.notebook)
        except Exception as exc:  # shown to the trainee: no traceback, no file path
            error = _why(exc, lang)
            self.receipt.value = f'<span role="alert" class="casekit-handin-failed" style="color:#c0392b">{e(t("submit_failed", lang, error=error))}</span>'
            return None
        finally:
            self.submit_button.disabled = rt.readonly
        when = zone_time(receipt.received_at, rt.zone)  # the course's clock, not the machine's
        self.receipt.value = (
            f'<span role="status" class="casekit-receipt" style="font-size:16px;color:#2e7d32">'
            f"{e(t('submitted', lang, time=when, sha=receipt.sha256[:8]))}</span>"
        )
        return receipt
