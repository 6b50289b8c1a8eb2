"""The live class view: the room's answers on the projector as trainees give them.

``casekit live COHORT SESSION`` (`live`) runs a small web server on the
instructor's side (tornado, loopback by default) and prints the page's
address. The page (``templates/live.html``: one file, inline CSS and
script, nothing fetched from anywhere else) shows one question at a time in
large type and the unit's colour, with the instructor's buttons: open, close,
reveal, reopen.

Answers arrive through the exchange (`kit.exchange.clients`): a workbook posts
each answer as it is given (`kit.workbook.livelink`), this server reads the room's
latest answers (`Exchange.live`) several times a second, summarises each
question (`kit.live.stats`), and pushes the page a new snapshot by server-sent
events when anything changed. The instructor's state of each question goes
the other way, published through the exchange (`Exchange.set_live_state`)
for the workbooks to show.

Trust: the server reads the keys file (it runs on the instructor side) and
puts a key into the page and into the published state only when its question
is revealed, and into the state only in a practice session. It accepts
answers only from trainees of the roster and only values that fit the
question; a question's answers are frozen when it closes. The page shows no
names unless the instructor asks for them (``anonymous=False``). Every
request needs the token printed with the address.

Instructor-side files: ``build/<cohort>/live/<session>.json`` keeps each
question's state and the frozen answers, so a restarted server resumes the
class where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import signal
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kit import artifacts
from kit.course import Course, as_course
from kit.kinds.base import KeyedKind, KeyRecord, QuestionSpec, key_parts
from kit.live.stats import summarise, trainee_result
from kit.messages import MESSAGES, t
from kit.pages import TEMPLATES
from kit.problems import CourseError
from kit.workbook.livelink import STATE_VERSION

ACTIONS = {
    "open": "open",
    "close": "closed",
    "reveal": "revealed",
    "reopen": "open",
    "reset": "idle",
}
DEFAULT_PORT = 8800
#: seconds between reads of the room's answers: a folder is cheap to read, the hub is a request away
POLL_FOLDER = 0.25
POLL_HUB = 0.5
TEMPLATE = TEMPLATES / "live.html"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _own_keys(
    course: Course, cohort: str, session: str, trainees: set[str]
) -> tuple[dict[str, dict[str, KeyRecord]], dict[str, KeyRecord]]:
    """Each trainee's own key where their variants' keys accept different answers; the shared ones.

    Keys are compared by what they accept (:func:`_accepts`), not as records:
    an explanation or a note written from each trainee's data, a number
    computed to float noise, a multi key listed in another order change no
    answer's score, so the key all variants share is the class's key and the
    reveal shows it (the cohort's reference variant, built from the cohort's
    seed, may differ from every trainee's). A trainee whose variant is not
    built has no key: their answers count as not right.
    """
    by_question: dict[str, dict[str, KeyRecord]] = {}
    specs: dict[str, QuestionSpec] = {}
    for tid in sorted(trainees):
        try:
            own, _ = artifacts.read_keys(artifacts.build_paths(course, cohort, session, tid).keys)
        except (OSError, ValueError, CourseError):
            continue
        specs.update(own.specs())
        for qid, key in own.keys.items():
            by_question.setdefault(qid, {})[tid] = key
    differ, shared = {}, {}
    for qid, keys in by_question.items():
        if len({_accepts(specs.get(qid), k) for k in keys.values()}) > 1:
            differ[qid] = keys
        else:
            shared[qid] = next(iter(keys.values()))
    return differ, shared


def _accepts(spec: QuestionSpec | None, key: KeyRecord) -> str:
    """What a key accepts, as comparable text: its kind's practice texts, else its scoring fields."""
    from kit import kinds

    kind = kinds.find(spec.get("kind") if spec else None)
    value, opts = key_parts(key)
    if spec is not None and isinstance(kind, KeyedKind) and value is not None:
        try:
            texts, extra = kind.practice_texts(spec, value, opts)
            return json.dumps([sorted(texts), extra], sort_keys=True, default=str)
        except (TypeError, ValueError):
            pass
    scoring = {k: v for k, v in key.items() if k not in ("explain", "note", "reveal")}
    return json.dumps(scoring, sort_keys=True, default=str)


@dataclass
class LiveClass:
    """One session's live class on the instructor side: questions, their states, the room's answers."""

    course: Course
    cohort: str
    session: str
    exchange: Any
    anonymous: bool = True
    specs: dict[str, QuestionSpec] = field(default_factory=dict)
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    #: question → trainee → key, for questions whose key differs between trainees' own variants
    own_keys: dict[str, dict[str, KeyRecord]] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    frozen: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: str | None = None
    revision: int = 0
    version: int = 0
    started: str = ""
    mode: str = "assessed"
    roster: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    snapshot: dict = field(default_factory=dict)
    _seen: dict[str, dict[str, dict]] = field(default_factory=dict)
    record_problem: str | None = None
    _cache: dict[str, tuple[str, dict]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def open(
        cls, course: Course, cohort: str, session: str, exchange: Any, *, anonymous: bool = True
    ) -> LiveClass:
        """Load the session's questions and keys (built editions) and any saved class state."""
        from kit.grading.keys import load_keys

        co = course.cohort(cohort)
        sess = co.session(session)
        keys = load_keys(course, cohort, session)
        live = cls(course, cohort, session, exchange, anonymous=anonymous)
        live.specs = dict(keys.questions)
        live.keys = dict(keys.keys)
        live.mode = sess.mode
        live.roster = set(map(str, co.roster.index))
        live.names = {str(k): str(v) for k, v in co.roster["name"].items()}
        if sess.per_trainee:  # each trainee answers from their own data
            live.own_keys, shared = _own_keys(course, cohort, session, live.roster)
            live.keys.update(shared)  # a key every trainee's variant shares is the class's key
        unit = course.units.get(sess.unit)
        from kit.notebooks import title_of

        live.meta = {
            "programme": course.config.programme.name,
            "cohort_name": co.name,
            "title": title_of(keys.instructor, session),
            "unit_name": unit.name if unit else sess.unit,
            "unit_colour": unit.colour if unit else "#444444",
            "language": course.language,
        }
        live._load()
        live._save()  # at once: a record that cannot be written is said before the class starts
        return live

    # ---- the instructor-side record
    def _load(self) -> None:
        path = artifacts.live_class_path(self.course, self.cohort, self.session)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        self.status = {q: s for q, s in (doc.get("status") or {}).items() if q in self.specs}
        self.frozen = {q: a for q, a in (doc.get("frozen") or {}).items() if q in self.specs}
        self.current = doc.get("current") if doc.get("current") in self.specs else None
        self.revision = int(doc.get("revision") or 0)

    def _save(self) -> None:
        path = artifacts.live_class_path(self.course, self.cohort, self.session)
        doc = {"status": self.status, "frozen": self.frozen, "current": self.current,
               "revision": self.revision}  # fmt: skip
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            artifacts.write_json(path, doc)
        except OSError as e:
            # the class goes on (the record only lets a restart resume), and the CLI says so
            self.record_problem = t("live.no_record", path=path, why=e.strerror or e)

    # ---- the state the workbooks read
    def trainee_state(self, *, running: bool = True) -> dict:
        """What the workbooks may know: states; in practice, result and key of revealed questions."""
        questions: dict[str, dict] = {}
        for qid, status in self.status.items():
            if status not in ("open", "closed", "revealed"):
                continue
            q: dict[str, Any] = {"status": status}
            if status == "revealed" and self.mode == "practice":
                summary = (self.snapshot_of(qid) or {}).get("summary") or {}
                q["result"] = trainee_result(summary, self.meta["language"])
                if summary.get("key"):
                    q["key"] = summary["key"]
            questions[qid] = q
        return {
            "v": STATE_VERSION,
            "session": self.session,
            "revision": self.revision,
            "running": running,
            "started": self.started,
            "ended": None if running else _now(),
            "mode": self.mode,
            "questions": questions,
        }

    def publish(self, *, running: bool = True) -> str:
        """Publish the class state through the exchange for the workbooks; the exchange's time."""
        state = self.trainee_state(running=running)
        return self.exchange.set_live_state(self.cohort, self.session, state)

    def start(self) -> None:
        """Begin (or resume) the class: publish the state, read the room once."""
        with self._lock:
            self.started = _now()
            self.revision += 1
            self.refresh(force=True)
            self.publish()

    def end(self) -> None:
        """End the class: the workbooks go back to normal (the record stays for a restart)."""
        with self._lock:
            self.revision += 1
            self._save()
            self.publish(running=False)

    # ---- the instructor's buttons
    def act(self, qid: str, action: str) -> None:
        """open / close / reveal / reopen / reset one question; publish the new state."""
        if qid not in self.specs:
            raise KeyError(f"no question {qid!r} in session {self.session}")
        if action not in ACTIONS:
            raise KeyError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
        with self._lock:
            new = ACTIONS[action]
            if new in ("closed", "revealed") and self.status.get(qid) in ("open", "idle", None):
                # The close is stamped by the exchange's clock as the workbooks learn of it;
                # the answers it had received by then are the ones that count.
                self.status[qid] = "closed"
                self.revision += 1
                closed_at = self.publish()
                self.frozen[qid] = self._answers_before(qid, closed_at)
            if new in ("open", "idle"):
                self.frozen.pop(qid, None)
            self.status[qid] = new
            self.current = qid
            self.revision += 1
            self._save()
            self.refresh(force=True)
            self.publish()

    # ---- the room's answers
    def _fetch(self) -> dict[str, dict[str, dict]]:
        """The room's latest answers, {qid: {trainee: {"value", "at"}}} (at: the exchange's clock)."""
        raw = self.exchange.live(self.cohort, self.session)
        out: dict[str, dict[str, dict]] = {}
        for qid, by in (raw or {}).items() if isinstance(raw, dict) else []:
            if qid in self.specs and isinstance(by, dict):
                # only the roster's trainees: a file named after nobody is not an answer
                out[qid] = {
                    str(k): e if isinstance(e, dict) and "value" in e else {"value": e, "at": None}
                    for k, e in by.items()
                    if str(k) in self.roster
                }
        self._seen = out
        return out

    def _answers_before(self, qid: str, closed_at: str) -> dict[str, Any]:
        """{trainee: value} of the answers the exchange received up to `closed_at`.

        A trainee who changed their answer after the close counts with the
        answer the view had seen before it (every answer seen before the close
        came before it); one whose first answer came after does not count.
        """
        earlier = self._seen.get(qid, {})
        cut = artifacts.parse_time(closed_at)
        out = {}
        for trainee, entry in self._fetch().get(qid, {}).items():
            when = artifacts.parse_time(entry.get("at"))
            if cut is None or when is None or when <= cut:
                out[trainee] = entry["value"]
            elif trainee in earlier:
                out[trainee] = earlier[trainee]["value"]
        return out

    def snapshot_of(self, qid: str) -> dict | None:
        for q in self.snapshot.get("questions", []):
            if q["id"] == qid:
                return q
        return None

    def refresh(self, *, force: bool = False) -> bool:
        """Read the room's answers and rebuild the snapshot; True when it changed."""
        with self._lock:
            answers = {q: {k: e["value"] for k, e in by.items()} for q, by in self._fetch().items()}
            lang = self.meta["language"]
            questions: list[dict] = []
            answered: set[str] = set()
            for qid, spec in self.specs.items():
                status = self.status.get(qid, "idle")
                given = self.frozen[qid] if qid in self.frozen else answers.get(qid, {})
                answered.update(given)
                revealed = status == "revealed"
                sig = hashlib.sha256(
                    json.dumps([status, given], sort_keys=True, default=str).encode()
                ).hexdigest()
                cached = self._cache.get(qid)
                if cached is None or cached[0] != sig:
                    summary = summarise(
                        spec, given, self.keys.get(qid), revealed=revealed, lang=lang,
                        names=None if self.anonymous else self.names,
                        own=self.own_keys.get(qid),
                    )  # fmt: skip
                    self._cache[qid] = cached = (sig, summary)
                questions.append(
                    {
                        "id": qid,
                        "kind": spec.get("kind"),
                        "kind_label": t("kind_" + str(spec.get("kind")), lang),
                        "prompt": spec.get("prompt", ""),
                        "points": spec.get("points", 0),
                        "status": status,
                        "summary": cached[1],
                    }
                )
            body = {
                **self.meta,
                "session": self.session,
                "roster": len(self.roster),
                "answered": len(answered),
                "anonymous": self.anonymous,
                "current": self.current,
                "questions": questions,
            }
            changed = force or body != {k: v for k, v in self.snapshot.items() if k != "version"}
            if changed:
                self.version += 1
                self.snapshot = {**body, "version": self.version}
            return changed


# ================================================================ the web server


def _labels(language: str) -> dict[str, str]:
    cat = MESSAGES.get(language) or MESSAGES["zh"]
    return {k: v for k, v in cat.items() if k.startswith("live_") or k.startswith("kind_")}


class LiveServer:
    """The tornado server of a live class, in a thread of its own (`start`) or in front (`run`)."""

    def __init__(
        self,
        live: LiveClass,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        poll: float | None = None,
        token: str | None = None,
    ):
        from kit.exchange.clients import FolderExchange

        self.live = live
        self.host, self.port = host, port
        self.poll = poll or (POLL_FOLDER if isinstance(live.exchange, FolderExchange) else POLL_HUB)
        self.token = token or secrets.token_urlsafe(18)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._changed: Any = None
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/?token={self.token}"

    def _app(self) -> Any:
        from tornado import web

        server = self

        class Base(web.RequestHandler):
            def set_default_headers(self) -> None:
                # nothing leaves the machine: the page may talk to this server only
                self.set_header(
                    "Content-Security-Policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'",
                )
                self.set_header("Cache-Control", "no-store")
                self.set_header("X-Content-Type-Options", "nosniff")
                self.set_header("Referrer-Policy", "no-referrer")

            def prepare(self) -> None:
                given = self.get_argument("token", "") or self.request.headers.get(
                    "X-Casekit-Token", ""
                )
                if not hmac.compare_digest(given.encode(), server.token.encode()):
                    raise web.HTTPError(403, t("live.need_token", server.live.meta["language"]))

        class Page(Base):
            def get(self) -> None:
                meta = server.live.meta
                html = TEMPLATE.read_text(encoding="utf-8")
                html = html.replace("{{ lang }}", "zh-CN" if meta["language"] == "zh" else "en")
                boot = json.dumps({"labels": _labels(meta["language"])}, ensure_ascii=False)
                html = html.replace("/*{{ boot }}*/", boot.replace("</", "<\\/"))
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.finish(html)

        class Snapshot(Base):
            def get(self) -> None:
                self.set_header("Content-Type", "application/json; charset=utf-8")
                self.finish(json.dumps(server.live.snapshot, ensure_ascii=False))

        class Events(Base):
            async def get(self) -> None:
                from tornado.iostream import StreamClosedError

                self.set_header("Content-Type", "text/event-stream; charset=utf-8")
                sent: Any = -1
                try:
                    while True:
                        snap = server.live.snapshot
                        if snap.get("version") != sent:
                            sent = snap.get("version")
                            self.write(f"data: {json.dumps(snap, ensure_ascii=False)}\n\n")
                        else:
                            self.write(": keep-alive\n\n")
                        await self.flush()
                        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                            await server._changed.wait(timeout=timedelta(seconds=15))
                except StreamClosedError:
                    return

        class Act(Base):
            async def post(self) -> None:
                try:
                    doc = json.loads(self.request.body or b"{}")
                    qid, action = str(doc["question"]), str(doc["action"])
                except (ValueError, KeyError, TypeError):
                    raise web.HTTPError(400, "send {question, action}") from None
                try:
                    await asyncio.get_running_loop().run_in_executor(
                        None, server.live.act, qid, action
                    )
                except KeyError as e:
                    raise web.HTTPError(404, str(e)) from None
                server._changed.notify_all()
                self.finish({"ok": True, "version": server.live.version})

        return web.Application(
            [(r"/", Page), (r"/api/snapshot", Snapshot), (r"/api/events", Events),
             (r"/api/act", Act)],
            log_function=lambda _h: None,
        )  # fmt: skip

    async def _serve(self) -> None:
        from tornado import locks
        from tornado.httpserver import HTTPServer
        from tornado.netutil import bind_sockets

        self._stop = asyncio.Event()
        self._changed = locks.Condition()
        loop = asyncio.get_running_loop()
        try:
            sockets = bind_sockets(self.port, self.host)
        except OSError as e:
            where, why = f"{self.host}:{self.port}", t("live.cannot_listen", why=e.strerror)
            raise CourseError.at(where, why, t("live.cannot_listen_fix")) from None
        self.port = sockets[0].getsockname()[1]
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or a stop ends the class cleanly
                loop.add_signal_handler(sig, self._stop.set)
        await loop.run_in_executor(None, self.live.start)
        http = HTTPServer(self._app(), idle_connection_timeout=60)
        http.add_sockets(sockets)
        self._ready.set()
        try:
            while not self._stop.is_set():
                try:
                    changed = await loop.run_in_executor(None, self.live.refresh)
                except Exception as e:  # noqa: BLE001 - the hub away for a moment: keep the page up
                    changed = False
                    self.error = e
                if changed:
                    self._changed.notify_all()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.poll)
        finally:
            http.stop()
            self._changed.notify_all()
            await loop.run_in_executor(None, self.live.end)

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C ends the class)."""
        asyncio.run(self._serve())

    def start(self) -> LiveServer:
        """Serve in a background thread; returns once the server listens."""

        def target() -> None:
            try:
                self.loop = asyncio.new_event_loop()
                self.loop.run_until_complete(self._serve())
            except BaseException as e:  # noqa: BLE001 - handed to the caller of start()
                self.error = e
                self._ready.set()

        self._thread = threading.Thread(target=target, name="casekit-live", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self.error is not None:
            raise self.error
        return self

    def stop(self) -> None:
        """Stop a server started with `start` and end the class."""
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)


def exchange_for_instructor(course: Course) -> Any:
    """The hub's exchange service when this process is on the hub, else the course's exchange folder."""
    from kit.exchange.clients import FolderExchange, HubExchange

    hub = HubExchange.from_env()
    return hub if hub is not None else FolderExchange(course.exchange_dir)


def live(
    course: Course | Path | str,
    cohort: str,
    session: str,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    anonymous: bool = True,
    poll: float | None = None,
    background: bool = False,
    on_ready: Any = None,
) -> LiveServer:
    """Run the live class view of a session; returns the server (``background``) or when it ends.

    ``on_ready(server)`` is called once it listens (the CLI prints the address).
    """
    c = as_course(course)
    klass = LiveClass.open(c, cohort, session, exchange_for_instructor(c), anonymous=anonymous)
    server = LiveServer(klass, host=host, port=port, poll=poll)
    if background:
        server.start()
        if on_ready:
            on_ready(server)
        return server

    def announce() -> None:
        server._ready.wait()
        if on_ready and server.error is None:
            on_ready(server)

    threading.Thread(target=announce, daemon=True).start()
    server.run()
    return server
