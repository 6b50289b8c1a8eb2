"""The workbook's side of a live class: answers out as they are given, the class state in.

Kernel-side and light (standard library only; the workbook imports it when it
first saves). A `LiveLink` belongs to one workbook runtime and runs two daemon
threads, so nothing here ever waits in front of the trainee's local save:

* the **poster** sends each answer through the exchange (`Exchange.post_live`:
  the folder exchange on one machine, the hub's exchange service on a hub).
  Answers wait in a dict by question, so while a trainee types only the
  latest text goes out; a failed post is counted (``failed``) and dropped,
  never retried in front of a newer one, never raised: the answer store
  keeps the answer whatever happens here;
* the **watcher** reads the instructor's state (`Exchange.live_state`) every
  second while a class runs (every few seconds otherwise) and shows it on
  the question widgets: open, closed (the inputs disable), revealed
  ("已揭晓", and in a practice session the class result and the key).

Answers are sent only while the session's class runs; when the watcher sees
a class start, every answer given so far goes out once, so the room's view
starts complete.

The state document (written by `kit.live.server`, published through the
exchange; nothing in it is secret before its question is revealed)::

    {"v": 1, "session": "coop", "revision": 7, "running": true,
     "started": iso, "ended": iso | null, "mode": "assessed" | "practice",
     "questions": {qid: {"status": "open" | "closed" | "revealed",
                         "result": {...},      # practice, revealed only
                         "key": "..."}}}       # practice, revealed only
"""

from __future__ import annotations

import contextlib
import html
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kit.messages import t

if TYPE_CHECKING:
    from kit.kinds.base import QuestionSpec

STATE_VERSION = 1
STATUSES = ("open", "closed", "revealed")
#: seconds between state reads while a class runs, and while none does
POLL_RUNNING = 1.0
POLL_IDLE = 5.0
#: a question's latest answer goes out at most this often (typing an essay)
POST_EVERY = 0.3
#: seconds a live call may take before it counts as failed (the hub's default is 30)
CALL_TIMEOUT = 5.0


def question_state(state: dict, qid: str) -> dict:
    """The state of one question in a state document; {} when the class does not run."""
    if not isinstance(state, dict) or not state.get("running"):
        return {}
    q = (state.get("questions") or {}).get(qid)
    return q if isinstance(q, dict) and q.get("status") in STATUSES else {}


class LiveLink:
    """One workbook's link to the live class of its session (see the module docstring)."""

    def __init__(self, runtime: Any, exchange_factory: Callable[[], Any]):
        self.rt = runtime
        self._factory = exchange_factory
        self._exchange: Any = None
        self.sent = 0
        self.failed = 0
        self.state: dict = {}
        self.views: dict[str, Any] = {}
        self._pending: dict[str, Any] = {}
        self._last_post: dict[str, float] = {}
        self._wake = threading.Condition()
        self._lock = threading.Lock()
        self._stopped = False
        self._threads: list[threading.Thread] = []

    # ---- threads
    def start(self) -> LiveLink:
        """Start the poster and the watcher (once)."""
        if not self._threads:
            for name, target in (("poster", self._post_loop), ("watcher", self._watch_loop)):
                th = threading.Thread(target=target, name=f"casekit-live-{name}", daemon=True)
                th.start()
                self._threads.append(th)
        return self

    def stop(self) -> None:
        """Stop both threads (tests; a kernel simply exits)."""
        self._stopped = True
        with self._wake:
            self._wake.notify_all()
        for th in self._threads:
            th.join(timeout=CALL_TIMEOUT + 1)

    def exchange(self) -> Any:
        if self._exchange is None:
            self._exchange = self._factory()
            if hasattr(self._exchange, "timeout"):  # the hub exchange: live calls stay short
                self._exchange.timeout = min(self._exchange.timeout, CALL_TIMEOUT)
        return self._exchange

    @property
    def running(self) -> bool:
        return bool(self.state.get("running"))

    # ---- answers out
    def post(self, qid: str, value: Any) -> None:
        """Queue the latest answer to `qid` for the live view; returns at once."""
        if not self.running:
            return  # no class runs: nothing to send (the start sends everything)
        with self._wake:
            self._pending[qid] = value
            self._wake.notify_all()

    def _post_loop(self) -> None:
        while not self._stopped:
            with self._wake:
                while not self._pending and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                now = time.monotonic()
                due = {
                    q: v
                    for q, v in self._pending.items()
                    if now - self._last_post.get(q, 0.0) >= POST_EVERY
                }
                for q in due:
                    del self._pending[q]
                if not due:
                    soonest = min(self._last_post.get(q, 0.0) for q in self._pending)
                    self._wake.wait(max(0.01, soonest + POST_EVERY - now))
                    continue
            for qid, value in due.items():
                self._send(qid, value)

    def _send(self, qid: str, value: Any) -> None:
        rt = self.rt
        try:
            self.exchange().post_live(rt.cohort, rt.session, qid, value, trainee=rt.trainee)
            self.sent += 1
        except Exception:  # noqa: BLE001 - counted, never raised: the local save is what counts
            self.failed += 1
        self._last_post[qid] = time.monotonic()

    # ---- state in
    def _watch_loop(self) -> None:
        while not self._stopped:
            self.poll()
            with self._wake:
                self._wake.wait(POLL_RUNNING if self.running else POLL_IDLE)

    def poll(self) -> dict:
        """Read the class state once; on a change, show it on the widgets. Returns the state."""
        try:
            state = self.exchange().live_state(self.rt.cohort, self.rt.session)
        except Exception:  # noqa: BLE001 - no state is no class; counted like a failed post
            self.failed += 1
            return self.state
        state = state if isinstance(state, dict) else {}
        if state.get("revision") == self.state.get("revision") and state.get(
            "running"
        ) == self.state.get("running"):
            return self.state
        started = state.get("running") and not self.running
        self.state = state
        if started:
            self._catch_up()
        with self._lock:
            views = dict(self.views)
        for qid, view in views.items():
            with contextlib.suppress(Exception):
                show(view, question_state(state, qid), state)
        return state

    def _catch_up(self) -> None:
        """A class began: send every answer given so far, so the room's view starts complete."""
        try:
            answers = self.rt.answers()
        except Exception:  # noqa: BLE001 - a broken store shows its own warning
            return
        with self._wake:
            for qid, entry in answers.items():
                if isinstance(entry, dict) and entry.get("value") is not None:
                    self._pending.setdefault(qid, entry["value"])
            self._wake.notify_all()

    def follow(self, view: Any) -> None:
        """Show the class state on a question widget from now on (the newest view of a question)."""
        with self._lock:
            self.views[view.qid] = view
        with contextlib.suppress(Exception):
            show(view, question_state(self.state, view.qid), self.state)


# ----------------------------------------------------------- on the widget


def _inputs(view: Any) -> list[Any]:
    out: list[Any] = []
    for w in view.inputs.values():
        out += list(w) if isinstance(w, list | tuple) else [w]
    if view.check_button is not None:
        out.append(view.check_button)
    return [w for w in out if hasattr(w, "disabled")]


def banner_of(view: Any) -> str:
    """The live banner's HTML on a question widget ('' when it has none)."""
    banner = getattr(view, "_live_banner", None)
    return banner.value if banner is not None else ""


def show(view: Any, qstate: dict, state: dict) -> None:
    """Show a question's live state on its widget: a banner, inputs disabled once it closes."""
    import ipywidgets as w

    lang = view.lang
    status = qstate.get("status")
    banner = getattr(view, "_live_banner", None)
    if banner is None and not status:
        return  # no class, no banner: the widget stays exactly as it was built
    if banner is None:
        banner = view._live_banner = w.HTML(value="")
        banner.add_class("casekit-live")
        children = list(view.box.children)
        view.box.children = children[:2] + [banner] + children[2:]  # under the prompt
    locked = status in ("closed", "revealed")
    saved = getattr(view, "_live_saved", None)
    if locked and saved is None:
        # remember what was disabled before (a ranking's edge buttons) to restore it exactly
        view._live_saved = [(x, x.disabled) for x in _inputs(view)]
        for x, _ in view._live_saved:
            x.disabled = True
    elif not locked and saved is not None:
        for x, was in saved:
            x.disabled = was
        view._live_saved = None
    banner.value = banner_html(view.spec, qstate, state, lang)


def banner_html(spec: QuestionSpec, qstate: dict, state: dict, lang: str) -> str:
    """The live banner of a question (escaped throughout: results carry trainees' words)."""
    e = html.escape
    status = qstate.get("status")
    if not status:
        return ""
    colour = spec.get("colour") or "#555"
    if status == "open":
        text, tone = t("live_banner_open", lang), colour
    elif status == "closed":
        text, tone = t("live_banner_closed", lang), "#555"
    else:
        text, tone = t("live_banner_revealed", lang), colour
    parts = [
        f'<div role="status" class="casekit-live-{e(status)}" style="font-size:17px;'
        f"font-weight:600;color:{e(tone)};border:2px solid {e(tone)};border-radius:6px;"
        f'padding:6px 10px;margin:6px 0">{e(text)}'
    ]
    result = qstate.get("result") if status == "revealed" else None
    if result:
        rows = "".join(
            f"<li>{e(str(r.get('label', '')))} — {e(str(r.get('value', '')))}</li>"
            for r in result.get("rows", [])[:8]
        )
        parts.append(
            f'<div class="casekit-live-result" style="font-weight:400;color:#222;margin-top:4px">'
            f"{e(t('live_class_result', lang))}{e(' · ' + result['note'] if result.get('note') else '')}"
            f"<ul style='margin:2px 0'>{rows}</ul></div>"
        )
    if status == "revealed" and qstate.get("key") not in (None, ""):
        parts.append(
            f'<div class="casekit-live-key" style="color:#2e7d32">'
            f"{e(t('live_your_key', lang, key=qstate['key']))}</div>"
        )
    parts.append("</div>")
    return "".join(parts)
