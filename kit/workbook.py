"""Kernel-side workbook runtime: answer store, progress, submit; `release()`.

The answer store is ``<workbook-stem>.answers.json`` beside the workbook::

    {"workbook": "s01.ipynb", "trainee": "t001", "session": "s01", "cohort": "c1",
     "exchange": "/srv/exchange", "answers": {qid: {"value": ..., "at": iso, "kind": ...}}}

It is the only record of answers (saved widget state in notebook metadata is
not a store, see DESIGN.md "Answers are never lost"): every change is written
at once, atomically (temporary file + ``os.replace``), after re-reading the file
under a lock and merging per question, so two tabs or two kernels never drop
each other's answers. A damaged file is copied to ``.corrupt-<stamp>`` before
anything rewrites it, and only the bad entries are skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit.course import UserError
from kit.locale import t
from kit.questions import (
    MIME_QUESTION,
    UNIT_COLOURS,
    answer_cell_qid,
    code_is_empty,
    in_live_kernel,
    is_unanswered,
    practice_hashes,
)

try:  # POSIX advisory locks serialise read-merge-write between kernels
    import fcntl
except ImportError:  # pragma: no cover - Windows: os.replace still keeps files whole
    fcntl = None  # type: ignore[assignment]

STORE_SUFFIX = ".answers.json"
FILES_SUFFIX = ".files"
SETUP_CELL_ID = "casekit-setup"
SAFE_ID_RE = re.compile(r"^[\w][\w.-]*$")


class StoreError(UserError):
    """The answer store cannot be read; the message names the file and question."""

    def _render_traceback_(self) -> list[str]:
        return [f"casekit: {self}"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def store_path_for(workbook: Path) -> Path:
    """Where the answers of `workbook` (an .ipynb path) are stored."""
    workbook = Path(workbook)
    return workbook.with_name(workbook.stem + STORE_SUFFIX)


def files_dir_for(workbook: Path) -> Path:
    """Where uploaded files of `workbook` are kept."""
    workbook = Path(workbook)
    return workbook.with_name(workbook.stem + FILES_SUFFIX)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ----------------------------------------------------------------- the store


def _entry_problem(qid: Any, entry: Any) -> str | None:
    if not isinstance(qid, str) or not qid:
        return "the question id is not a text"
    if not isinstance(entry, dict):
        return "the entry is not an object"
    if "value" not in entry:
        return "the entry has no 'value'"
    if not isinstance(entry.get("at", ""), str):
        return "'at' is not a time"
    return None


def parse_store(text: str, path: Path) -> tuple[dict, dict, list[tuple[str, str]]]:
    """Parse store text into (header, good answers, problems [(qid, why)]).

    Raises StoreError when the file as a whole is unusable.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise StoreError(f"{path}: the file must hold a JSON object")
    answers = doc.get("answers", {})
    if not isinstance(answers, dict):
        raise StoreError(f"{path}: 'answers' must be an object of question id → answer")
    header = {k: v for k, v in doc.items() if k != "answers"}
    good, problems = {}, []
    for qid, entry in answers.items():
        why = _entry_problem(qid, entry)
        if why:
            problems.append((str(qid), why))
        else:
            good[qid] = entry
    return header, good, problems


def load_store(path: Path, *, strict: bool = True) -> dict:
    """Read a store for commands (CLI, grading).

    Returns the whole document (``answers`` holds only good entries, the bad
    ones are listed in ``problems``). With ``strict`` a bad entry raises
    StoreError naming the file and the question.
    """
    path = Path(path)
    header, good, problems = parse_store(path.read_text(encoding="utf-8"), path)
    if strict and problems:
        raise StoreError("; ".join(f"{path}: question {qid!r}: {why}" for qid, why in problems))
    return {**header, "answers": good, "problems": [{"question": q, "why": w} for q, w in problems]}


class AnswerStore:
    """The JSON answer file of one workbook, merged per question on each write."""

    def __init__(self, path: Path, header: dict | None = None, *, readonly: bool = False):
        self.path = Path(path)
        self.header = dict(header or {})
        self.readonly = readonly
        # Last answers read or written: survives a corrupt file being replaced.
        self.known: dict[str, dict] = {}
        self.raw_bad: dict[str, Any] = {}
        self.warnings: list[str] = []
        self.problems: dict[str, str] = {}
        self.corrupt: str | None = None
        self._backed_up: set[str] = set()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if fcntl is None or self.readonly:
            yield
            return
        lock = self.path.with_name(f".{self.path.name}.lock")
        with open(lock, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _backup(self, text: str) -> Path:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        backup = self.path.with_name(f"{self.path.name}.corrupt-{_stamp()}")
        if digest not in self._backed_up:
            if not self.readonly:
                shutil.copy2(self.path, backup)
            self._backed_up.add(digest)
        return backup

    def read(self, language: str = "zh") -> dict[str, dict]:
        """Read and return the good answers; record warnings, never raise.

        A wholly corrupt file is backed up and the last known answers are kept
        in memory, so the next write restores everything this kernel knew.
        """
        self.warnings, self.problems, self.corrupt = [], {}, None
        if not self.path.exists():
            return dict(self.known)
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        try:
            header, good, problems = parse_store(text, self.path)
        except StoreError as exc:
            backup = self._backup(text)
            why = str(exc).split(": ", 1)[-1]
            self.corrupt = t(
                "store_corrupt", language, file=self.path.name, why=why, backup=backup.name
            )
            self.warnings.append(self.corrupt)
            self.raw_bad = {}
            return dict(self.known)
        for k, v in header.items():
            self.header.setdefault(k, v)
        answers = json.loads(text).get("answers", {})
        self.raw_bad = {str(q): answers.get(q) for q, _ in problems}
        for qid, why in problems:
            self.problems[qid] = t("store_warning", language, file=self.path.name, qid=qid, why=why)
            self.warnings.append(self.problems[qid])
        if problems:
            self._backup(text)
        merged = dict(good)
        for qid, entry in self.known.items():
            # Per question the latest write wins; an entry missing from the file
            # (hand-edited away, or a rewrite from a corrupt state) is kept.
            if qid not in merged or str(entry.get("at", "")) > str(merged[qid].get("at", "")):
                if qid not in self.problems:
                    merged[qid] = entry
        self.known = dict(merged)
        return merged

    def set(self, qid: str, value: Any, kind: str, language: str = "zh", **extra: Any) -> dict:
        """Store `value` for `qid` now; return the entry written."""
        entry = {"value": value, "at": _now(), "kind": kind, **extra}
        if self.readonly:
            self.known[qid] = entry
            return entry
        with self._locked():
            answers = self.read(language)
            answers[qid] = entry
            self.known[qid] = entry
            doc = dict(self.header)
            # Bad entries are kept as they were (a copy is in the .corrupt file);
            # only an answer to the same question replaces one.
            merged = {q: v for q, v in self.raw_bad.items() if q not in answers}
            merged.update(answers)
            doc["answers"] = merged
            doc["updated_at"] = entry["at"]
            data = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")
            _atomic_write(self.path, data)
        return entry


# ------------------------------------------------------------------ runtimes


def _valid_for_spec(spec: dict, value: Any) -> str | None:
    """Why `value` cannot be an answer to `spec`, or None if it can."""
    if value is None:
        return None
    kind = spec.get("kind")
    if kind == "choice":
        return None if value in spec.get("options", []) else "not one of the options"
    if kind == "multi":
        ok = isinstance(value, list) and all(v in spec.get("options", []) for v in value)
        return None if ok else "not a list of options"
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "not a number"
    if kind in ("text", "essay", "code"):
        return None if isinstance(value, str) else "not a text"
    if kind == "ranking":
        ok = isinstance(value, list) and sorted(map(str, value)) == sorted(spec.get("items", []))
        return None if ok else "not an order of the items"
    if kind == "rating":
        ok = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and 1 <= value <= spec.get("scale", 5)
        )
        return None if ok else "not a point on the scale"
    if kind in ("observation", "upload"):
        return None if isinstance(value, dict) else "not an object"
    return None


class Runtime:
    """What question widgets talk to: the store, language, mode, progress."""

    def __init__(
        self,
        store: AnswerStore | None,
        *,
        session: str = "",
        trainee: str | None = None,
        name: str | None = None,
        cohort: str | None = None,
        mode: str = "assessed",
        exchange: str | Path | None = None,
        language: str = "zh",
        practice: dict | None = None,
        notebook: Path | None = None,
        title: str | None = None,
    ):
        self.store = store
        self.session = session
        self.title = title or session
        self.trainee = trainee
        self.name = name
        self.cohort = cohort
        self.mode = mode if mode in ("assessed", "practice") else "assessed"
        self.exchange = Path(exchange) if exchange else None
        self.language = language if language in ("zh", "en") else "zh"
        # Practice hashes are only honoured in practice mode (assessed reveals nothing).
        self.practice = dict(practice or {}) if self.mode == "practice" else {}
        self.notebook = notebook
        self.questions: dict[str, dict] = {}
        self._listeners: dict[str, list[Callable[[dict], None]]] = {}
        self._memory: dict[str, dict] = {}
        self.panel: ProgressPanel | None = None
        self._live: Any = None  # live class (#12): a kit.livewire.LiveLink, made on first use

    @property
    def persistent(self) -> bool:
        return self.store is not None

    @property
    def readonly(self) -> bool:
        return self.store is not None and self.store.readonly

    def register(self, spec: dict) -> None:
        """Record a question (for progress)."""
        self.questions[spec["id"]] = spec
        if self.panel is not None:
            self.panel.refresh()

    def subscribe(self, qid: str, callback: Callable[[dict], None]) -> None:
        """Call `callback(entry)` when `qid` is saved outside its widget (code hook)."""
        # Only the newest view of a question listens: a rebuilt view replaces the old one.
        self._listeners[qid] = [callback]

    def answers(self) -> dict[str, dict]:
        """All readable answers (entry dicts by question id)."""
        if self.store is None:
            return dict(self._memory)
        return self.store.read(self.language)

    def lookup(self, qid: str, spec: dict | None = None) -> tuple[dict | None, str | None]:
        """(entry, warning) for `qid`; a bad entry gives (None, message)."""
        answers = self.answers()
        warning = self.store.problems.get(qid) if self.store is not None else None
        entry = answers.get(qid)
        if entry is not None and spec is not None:
            why = _valid_for_spec(spec, entry.get("value"))
            if why:
                file = self.store.path.name if self.store else "memory"
                return None, t("store_warning", self.language, file=file, qid=qid, why=why)
        return entry, warning

    def save(self, qid: str, value: Any, kind: str, **extra: Any) -> dict:
        """Store an answer now and refresh progress and listeners."""
        if self.store is None:
            entry = {"value": value, "at": _now(), "kind": kind, **extra}
            self._memory[qid] = entry
        else:
            entry = self.store.set(qid, value, kind, self.language, **extra)
            # live class (#12): after the local save, never in front of it; returns at once
            with contextlib.suppress(Exception):
                link = self.live_link()
                if link is not None:
                    link.post(qid, value)
        for cb in self._listeners.get(qid, []):
            with contextlib.suppress(Exception):
                cb(entry)
        if self.panel is not None:
            self.panel.refresh()
        return entry

    # -- live class (#12) ---------------------------------------------------
    def live_link(self) -> Any:
        """The link to this session's live class (started on first use), or None when there is none.

        Only a trainee's own workbook has one: a store that is written, with
        cohort, trainee and session known, and an exchange (a folder, or the
        hub's exchange service).
        """
        if self._live is not None:
            return self._live or None
        self._live = False
        if (
            self.store is None
            or self.readonly
            or not (self.cohort and self.trainee and self.session)
        ):
            return None
        from kit.hub.exchange import HubExchange

        if self.exchange is None and HubExchange.from_env() is None:
            return None
        from kit.livewire import LiveLink

        def factory() -> Any:
            from kit.hub.exchange import FolderExchange

            hub = HubExchange.from_env()
            # live answers need no signature: the folder itself, without reading the course secret
            return hub if hub is not None else FolderExchange(self.exchange)

        self._live = LiveLink(self, factory).start()
        return self._live

    def follow_live(self, view: Any) -> None:
        """Show the live class state on a question widget (no-op without a live link)."""
        with contextlib.suppress(Exception):
            link = self.live_link()
            if link is not None:
                link.follow(view)

    # -- end live class ------------------------------------------------------

    def files_dir(self) -> Path | None:
        if self.store is None:
            return None
        return self.store.path.with_name(self.store.path.name[: -len(STORE_SUFFIX)] + FILES_SUFFIX)

    def save_file(self, qid: str, name: str, content: bytes) -> dict:
        """Write an uploaded file to ``<workbook>.files/<qid>/<safe name>``."""
        safe = safe_filename(name)
        record = {
            "name": safe,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
        base = self.files_dir()
        if base is None or self.readonly:
            return record
        folder = base / qid
        folder.mkdir(parents=True, exist_ok=True)
        # Replacing the question's earlier upload: the store records the current one.
        for old in folder.iterdir():
            if old.is_file() and old.name != safe:
                old.unlink()
        _atomic_write(folder / safe, content)
        record["file"] = f"{base.name}/{qid}/{safe}"
        return record

    def answered(self) -> set[str]:
        return {q for q, e in self.answers().items() if not is_unanswered(e.get("value"))}


def safe_filename(name: str) -> str:
    """A file name without directories or characters that upset file systems."""
    base = Path(str(name).replace("\\", "/")).name
    base = re.sub(r"[^\w.\-() ]+", "_", base).strip(" .") or "upload"
    return base[:120]


_CURRENT: Runtime | None = None
_PREVIEW: Runtime | None = None


def current() -> Runtime | None:
    """The runtime opened by `open_workbook` in this kernel, or None."""
    return _CURRENT


def preview_runtime() -> Runtime:
    """An in-memory runtime for an instructor previewing questions (nothing saved)."""
    global _PREVIEW
    if _PREVIEW is None:
        from kit.questions import _language

        _PREVIEW = Runtime(None, language=_language())
    return _PREVIEW


# --------------------------------------------------------------- progress UI


def _unit_label(unit: str | None, language: str) -> str:
    if unit in UNIT_COLOURS:
        return t(f"unit_{unit}", language)
    return str(unit or "—")


class ProgressPanel:
    """Greeting, per-unit progress ("levels"), the submit button and receipt."""

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
        row = w.HBox([self.submit_button, self.receipt])
        if runtime.readonly:
            self.submit_button.disabled = True
        self.box = w.VBox([self.greeting, self.bars, self.warnings, row])
        self.box.add_class("casekit-progress")
        self.box.layout.border = "2px solid #ccc"
        self.box.layout.padding = "10px 16px"
        self.box.layout.margin = "8px 0"
        self.refresh()

    def refresh(self) -> None:
        rt, lang, e = self.rt, self.rt.language, html.escape
        who = rt.name or rt.trainee
        greet = (
            t("greeting", lang, name=who, session=rt.title)
            if who
            else t("greeting_anon", lang, session=rt.title)
        )
        mode = t("mode_practice" if rt.mode == "practice" else "mode_assessed", lang)
        self.greeting.value = (
            f'<div style="font-size:20px;font-weight:600">{e(greet)}</div>'
            f'<div style="font-size:16px;color:#555">{e(mode)}</div>'
        )
        answered = rt.answered() & set(rt.questions)
        total = len(rt.questions)
        units: dict[str, list[str]] = {}
        for qid, spec in rt.questions.items():
            units.setdefault(str(spec.get("unit") or ""), []).append(qid)
        rows = [
            f'<div style="font-size:17px;margin:4px 0" role="status">'
            f"{e(t('progress', lang, done=len(answered), total=total))}</div>"
        ]
        cleared = []
        # Trainees know questions by their place in the workbook, not by their ids.
        number = {q: i + 1 for i, q in enumerate(rt.questions)}
        for unit, qids in units.items():
            colour = next(
                (rt.questions[q].get("colour") for q in qids if rt.questions[q].get("colour")),
                UNIT_COLOURS.get(unit, "#555"),
            )
            label = next(
                (rt.questions[q]["unit_name"] for q in qids if rt.questions[q].get("unit_name")),
                _unit_label(unit, lang),
            )
            done = [q for q in qids if q in answered]
            pct = int(100 * len(done) / len(qids)) if qids else 0
            if len(done) == len(qids):
                cleared.append(label)
            open_items = [t("question_no", lang, n=number[q]) for q in qids if q not in answered]
            rows.append(
                f'<div style="display:flex;align-items:center;gap:10px;font-size:16px;margin:3px 0">'
                f'<span style="min-width:11em;color:{e(colour)};font-weight:600">{e(label)}</span>'
                f'<span style="flex:0 0 14em;height:14px;background:#eee;border-radius:7px;overflow:hidden">'
                f'<span style="display:block;height:100%;width:{pct}%;background:{e(colour)}"></span></span>'
                f"<span>{len(done)} / {len(qids)}{' ✓' if not open_items else ''}</span>"
                + (
                    f'<span style="color:#777">{e(t("level_open", lang, items="、".join(open_items)))}</span>'
                    if open_items
                    else ""
                )
                + "</div>"
            )
        if cleared:
            rows.append(
                f'<div style="font-size:16px">🏅 {e(t("levels", lang, levels="、".join(cleared)))}</div>'
            )
        if total and len(answered) == total:
            rows.append(
                f'<div style="font-size:17px;color:#2e7d32;font-weight:600">{e(t("all_done", lang))}</div>'
            )
        self.bars.value = "".join(rows)
        warns = rt.store.warnings if rt.store is not None else []
        self.warnings.value = "".join(
            f'<div role="alert" style="color:#c0392b;font-weight:600;font-size:16px">⚠ {e(w)}</div>'
            for w in warns
        )

    def do_submit(self) -> Receipt | None:
        """Submit the workbook; show the receipt time or the reason it failed."""
        rt, lang, e = self.rt, self.rt.language, html.escape
        if rt.store is None or rt.notebook is None:
            self.receipt.value = (
                f'<span style="color:#c0392b">{e(t("submit_no_exchange", lang))}</span>'
            )
            return None
        try:
            receipt = submit(rt.notebook, exchange=rt.exchange)
        except Exception as exc:  # shown to the trainee, never a traceback
            self.receipt.value = f'<span role="alert" style="color:#c0392b">{e(t("submit_failed", lang, error=str(exc)))}</span>'
            return None
        when = (
            datetime.fromisoformat(receipt.received_at).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        )
        self.receipt.value = (
            f'<span role="status" class="casekit-receipt" style="font-size:16px;color:#2e7d32">'
            f"{e(t('submitted', lang, time=when, sha=receipt.sha256[:8]))}</span>"
        )
        return receipt


# ------------------------------------------------------------- open_workbook


def _notebook_path(name: str | None) -> Path | None:
    """The workbook file this kernel serves.

    jupyter_server puts the notebook path in ``JPY_SESSION_NAME`` (ipykernel
    copies it to ``__session__``); JupyterLab starts the kernel in the
    notebook's directory, so a relative path is resolved by its file name.
    """
    session_name = os.environ.get("JPY_SESSION_NAME")
    if not session_name:
        from kit.questions import _user_ns

        session_name = _user_ns().get("__session__")
    if session_name and str(session_name).endswith(".ipynb"):
        p = Path(session_name)
        return p if p.is_absolute() else Path.cwd() / p.name
    if name:
        return Path.cwd() / Path(name).name
    return None


def _questions_in_notebook(path: Path | None) -> list[dict]:
    """Question specs found in the notebook's saved outputs (for the total)."""
    if path is None or not path.exists():
        return []
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    specs = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            spec = (out.get("data") or {}).get(MIME_QUESTION)
            if isinstance(spec, dict) and "id" in spec:
                specs.append(spec)
    return specs


def _code_hook(result: Any) -> None:
    """post_run_cell: store the source of a code answer cell under its qid."""
    rt = current()
    if rt is None or rt.readonly:
        return
    source = getattr(getattr(result, "info", None), "raw_cell", None) or ""
    qid = answer_cell_qid(source)
    if not qid:
        return
    if code_is_empty(source):  # the untouched stub is not an answer
        entry, _ = rt.lookup(qid)
        if entry is None or entry.get("value") is None:
            return
        rt.save(qid, None, "code")
        return
    rt.save(qid, source, "code")


def _register_code_hook() -> None:
    from kit.questions import _ipython

    ip = _ipython()
    if ip is None or not hasattr(ip, "events"):
        return
    callbacks = ip.events.callbacks.get("post_run_cell", [])
    if not any(getattr(cb, "__name__", "") == "_code_hook" for cb in callbacks):
        ip.events.register("post_run_cell", _code_hook)


def open_workbook(
    session: str,
    *,
    trainee: str | None = None,
    name: str | None = None,
    cohort: str | None = None,
    mode: str = "assessed",
    exchange: str | Path | None = None,
    language: str = "zh",
    practice: dict | None = None,
    store: Path | None = None,
    title: str | None = None,
) -> Runtime:
    """Open this kernel's workbook: find the store, show greeting and progress.

    Called by the locked setup cell that `release()` writes. ``name`` is the
    trainee's display name; the workbook file is found from the kernel's
    session (``JPY_SESSION_NAME``), falling back to ``<session>.ipynb`` in the
    working directory. ``store`` overrides the store path (tests, tools);
    ``CASEKIT_ANSWERS`` does the same for a grader, and with ``CASEKIT_MODE``
    set the store is read-only: a build or grade run never writes answers.
    """
    global _CURRENT
    from kit import questions

    readonly = bool(os.environ.get("CASEKIT_MODE"))
    notebook = _notebook_path(f"{session}.ipynb")
    if store is None and os.environ.get("CASEKIT_ANSWERS"):
        store = Path(os.environ["CASEKIT_ANSWERS"])
    if store is None and notebook is not None:
        store = store_path_for(notebook)
    if notebook is None and store is not None:
        notebook = store.with_name(store.name[: -len(STORE_SUFFIX)] + ".ipynb")
    header = {
        "workbook": notebook.name if notebook else None,
        "trainee": trainee,
        "name": name,
        "session": session,
        "cohort": cohort,
        "exchange": str(exchange) if exchange else None,
        "mode": mode,
    }
    answer_store = AnswerStore(store, header, readonly=readonly) if store else None
    if answer_store is not None:
        # Identity comes from the setup cell, not from whatever the file says.
        answer_store.header.update({k: v for k, v in header.items() if v is not None})
    rt = Runtime(
        answer_store,
        session=session,
        trainee=trainee,
        name=name,
        cohort=cohort,
        mode=mode,
        exchange=exchange,
        language=language,
        practice=practice,
        notebook=notebook,
        title=title,
    )
    for spec in _questions_in_notebook(notebook):
        rt.questions[spec["id"]] = spec
    for qid, spec in questions.QUESTIONS.items():
        rt.questions.setdefault(qid, spec)
    rt.answers()  # read once so warnings show at the top
    _CURRENT = rt
    _register_code_hook()
    if in_live_kernel():
        from IPython.display import display

        rt.panel = ProgressPanel(rt)
        display(rt.panel.box)
    return rt


def close_workbook() -> None:
    """Forget the current runtime (tests, or a kernel reused for another workbook)."""
    global _CURRENT
    _CURRENT = None


# -------------------------------------------------------------------- submit


@dataclass
class Receipt:
    """What `submit()` hands back (and writes as ``receipt.json``)."""

    trainee: str
    session: str
    cohort: str
    received_at: str
    sha256: str
    folder: Path
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "trainee": self.trainee,
            "session": self.session,
            "cohort": self.cohort,
            "received_at": self.received_at,
            "sha256": self.sha256,
            "files": self.files,
            "warnings": self.warnings,
        }


def _check_id(value: Any, what: str) -> str:
    value = str(value or "")
    if not SAFE_ID_RE.match(value) or value in (".", ".."):
        raise StoreError(f"{what} {value!r} cannot be used as a folder name")
    return value


def _exchange_of(workbook: Path, cohort: str, trainee: str) -> Path | None:
    """The exchange a released workbook came from: ``<exchange>/<cohort>/outbox/<trainee>/``."""
    parts = workbook.parent.parts
    if len(parts) >= 4 and parts[-3:] == (cohort, "outbox", trainee):
        return workbook.parents[3]
    return None


def submit(workbook: Path, *, exchange: Path | None = None) -> Receipt:
    """Hand `workbook` (.ipynb), its answers and files to the exchange.

    On a JupyterHub (the single-user server's environment names the exchange
    service and holds the hub's API token) the hand-in goes to the exchange
    service, which files it under the signed-in account at its own time;
    otherwise into the folder exchange's inbox
    ``exchange/<cohort>/inbox/<trainee>/<session>/<utc-stamp>-<sha8>/``
    (`kit.hub.exchange`). ``exchange`` forces that folder. Nothing is ever
    overwritten. A store with bad entries is still handed in as it is (the
    receipt lists the problems), and so is a workbook with no answers at all:
    refusing would lose work.
    """
    # -- casekit hub (#11): identity for routing only; collect verifies it (kit.hub.trust)
    from kit.hub.exchange import FolderExchange, Handin, course_of_exchange, exchange_for
    from kit.hub.trust import course_secret

    workbook = Path(workbook).resolve()
    store_file = store_path_for(workbook)
    if not workbook.exists():
        raise StoreError(f"{workbook}: workbook not found")
    warnings: list[str] = []
    if store_file.exists():
        doc = load_store(store_file, strict=False)
        warnings = [
            f"{store_file.name}: question {p['question']!r}: {p['why']}" for p in doc["problems"]
        ]
        answers = store_file.read_bytes()
    else:  # nothing answered yet: hand in an empty store made from the workbook's metadata
        try:
            meta = json.loads(workbook.read_text(encoding="utf-8"))["metadata"]["casekit"]
        except (OSError, ValueError, KeyError, TypeError):
            raise StoreError(
                f"{workbook}: neither answers ({store_file.name}) nor casekit metadata; "
                "is this a workbook released by `casekit release`?"
            ) from None
        doc = {k: meta.get(k) for k in ("trainee", "session", "cohort")}
        doc.update(workbook=workbook.name, answers={})
        answers = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
    trainee = _check_id(doc.get("trainee"), "trainee")
    session = _check_id(doc.get("session"), "session")
    cohort = _check_id(doc.get("cohort"), "cohort")
    contents: dict[str, bytes] = {
        "workbook.ipynb": workbook.read_bytes(),
        "answers.json": answers,
    }
    files_dir = files_dir_for(workbook)
    if files_dir.is_dir():
        for p in sorted(files_dir.rglob("*")):
            if p.is_file():
                contents["files/" + p.relative_to(files_dir).as_posix()] = p.read_bytes()
    folder = (
        doc.get("exchange")
        or os.environ.get("CASEKIT_EXCHANGE")
        or _exchange_of(workbook, cohort, trainee)
    )
    handin = Handin(cohort, session, trainee, contents, warnings)
    if exchange is not None:
        root = course_of_exchange(Path(exchange))
        secret = course_secret(root, create=False) if root else None
        target = FolderExchange(Path(exchange), secret=secret)
    else:
        target = exchange_for(Path(folder) if folder and str(folder) != "." else None)
    accepted = target.submit(handin)
    r = accepted.receipt
    return Receipt(
        trainee=r["trainee"],
        session=r["session"],
        cohort=r["cohort"],
        received_at=r["received_at"],
        sha256=r["sha256"],
        folder=Path(accepted.location),
        files=list(r.get("files") or sorted(contents)),
        warnings=warnings,
    )
    # -- end casekit hub


# ------------------------------------------------------------------- release


@dataclass
class ReleaseFailure:
    """One item `release()` could not write, with its cause."""

    item: str
    message: str

    def __str__(self) -> str:
        return f"{self.item}: {self.message}"


@dataclass
class ReleaseResult:
    """Outcome of `release()`: files written, unchanged, failures."""

    written: list[Path] = field(default_factory=list)
    failures: list[ReleaseFailure] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


def setup_source(
    session: str,
    *,
    trainee: str,
    name: str | None,
    cohort: str,
    mode: str,
    exchange: Path,
    language: str,
    practice: dict | None,
    title: str | None = None,
) -> str:
    """Source of the locked first cell of a released workbook."""
    note = {
        "zh": "# 作业本设置（请勿修改本单元，运行即可）",
        "en": "# Workbook setup (do not edit this cell; just run it)",
    }.get(language, "# casekit workbook setup")
    return (
        f"{note}\n"
        "from kit.workbook import open_workbook\n\n"
        # Assigned, so the cell shows the panel and not the object's repr.
        "_workbook = open_workbook(\n"
        f"    {session!r},\n"
        f"    title={title!r},\n"
        f"    trainee={trainee!r},\n"
        f"    name={name!r},\n"
        f"    cohort={cohort!r},\n"
        f"    mode={mode!r},\n"
        f"    exchange={str(exchange)!r},\n"
        f"    language={language!r},\n"
        f"    practice={practice!r},\n"
        ")\n"
    )


def _practice_for(keys_file: Path, trainee: str) -> dict:
    """Practice hashes of every checkable question in an instructor keys file.

    Reads ``{"questions": [spec] | {qid: spec}, "keys": {qid: key} | [key]}``.
    The salt is derived from the keys file and the trainee, so it is stable
    between releases (idempotent) yet not computable from the workbook.
    """
    if not keys_file.exists():
        return {}
    doc = json.loads(keys_file.read_text(encoding="utf-8"))
    specs = doc.get("questions") or {}
    if isinstance(specs, list):
        specs = {s["id"]: s for s in specs if isinstance(s, dict) and "id" in s}
    keys = doc.get("keys") or {}
    if isinstance(keys, list):
        keys = {k["id"]: k for k in keys if isinstance(k, dict) and "id" in k}
    secret = hashlib.sha256(keys_file.read_bytes() + trainee.encode()).hexdigest()[:16]
    out = {}
    for qid, spec in specs.items():
        if qid in keys:
            h = practice_hashes(spec, keys[qid], f"{secret}:{qid}")
            if h:
                out[qid] = h
    return out


def release(
    course: Path,
    cohort: str,
    *,
    sessions: list[str] | None = None,
    trainees: list[str] | None = None,
) -> ReleaseResult:
    """Write one personalised workbook per trainee and session into the outbox.

    Reads ``cohorts/<cohort>/roster.csv`` and ``schedule.csv`` and the built
    trainee editions ``build/<cohort>/trainee/<session>.ipynb``; writes
    ``exchange/<cohort>/outbox/<trainee>/<session>.ipynb`` whose first cell is
    a locked setup cell calling `open_workbook`. Unchanged files are not
    rewritten; a failing item is reported and the rest continue.
    """
    import nbformat

    from kit.course import load_course
    from kit.notebooks import title_of  # not at the top: nbformat costs a workbook ~2.4 s to open

    course_obj = load_course(course)  # a broken course raises CourseError (problems listed)
    result = ReleaseResult()
    co = course_obj.cohort(cohort)
    roster = co.roster.reset_index() if "id" not in co.roster.columns else co.roster
    modes = {s.session: s.mode for s in co.sessions}
    trainee_dir = course_obj.build_dir / cohort / "trainee"
    if sessions is None:
        sessions = list(modes)
    rows = [r for _, r in roster.iterrows() if trainees is None or str(r["id"]) in trainees]
    language = course_obj.language
    exchange = course_obj.exchange_dir
    # casekit hub (#11): release tokens and the folder exchange's signing need the course secret
    from kit.hub.exchange import mark_exchange
    from kit.hub.trust import course_secret, release_token

    secret = course_secret(course_obj.root)
    mark_exchange(exchange, course_obj.root)
    for session in sessions:
        source = trainee_dir / f"{session}.ipynb"
        if not source.exists():
            result.failures.append(
                ReleaseFailure(str(source), "trainee edition not built (run `casekit build` first)")
            )
            continue
        try:
            base_nb = nbformat.read(source, as_version=4)
        except Exception as exc:
            result.failures.append(ReleaseFailure(str(source), f"cannot read notebook: {exc}"))
            continue
        mode = modes.get(session, "assessed")
        keys_file = course_obj.build_dir / cohort / "instructor" / f"{session}.keys.json"
        practice_file = trainee_dir / f"{session}.practice.json"
        for row in rows:
            tid = str(row["id"])
            item = f"{tid}/{session}"
            try:
                _check_id(tid, "trainee id")
                practice = None
                if mode == "practice":
                    # The build writes salted hashes beside the trainee edition;
                    # without them, derive them from the instructor keys file.
                    if practice_file.exists():
                        practice = json.loads(practice_file.read_text(encoding="utf-8"))
                    else:
                        practice = _practice_for(keys_file, tid)
                    practice = practice or None
                src = setup_source(
                    session,
                    title=title_of(base_nb, session),
                    trainee=tid,
                    name=str(row.get("name") or "") or None,
                    cohort=cohort,
                    mode=mode,
                    exchange=exchange,
                    language=language,
                    practice=practice,
                )
                nb = nbformat.from_dict(json.loads(json.dumps(base_nb)))
                nb.cells = [
                    c for c in nb.cells if (c.metadata.get("casekit") or {}).get("role") != "setup"
                ]
                cell = nbformat.v4.new_code_cell(src)
                cell.id = SETUP_CELL_ID
                cell.metadata["tags"] = ["locked"]
                cell.metadata["editable"] = False
                cell.metadata["deletable"] = False
                cell.metadata["jupyter"] = {"source_hidden": True}  # the panel is what counts
                cell.metadata["casekit"] = {
                    "role": "setup",
                    "lock": hashlib.sha256(src.encode()).hexdigest(),
                }
                nb.cells.insert(0, cell)
                nb.metadata.setdefault("casekit", {})
                nb.metadata["casekit"].pop("practice", None)
                nb.metadata["casekit"].update(
                    {"trainee": tid, "session": session, "cohort": cohort, "mode": mode}
                )
                # casekit hub (#11): who this copy was released to, unforgeable by trainees
                nb.metadata["casekit"]["release"] = release_token(secret, cohort, session, tid)
                target = exchange / cohort / "outbox" / tid / f"{session}.ipynb"
                data = (nbformat.writes(nb) + "\n").encode("utf-8")
                if target.exists() and target.read_bytes() == data:
                    result.unchanged.append(target)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                _atomic_write(target, data)
                result.written.append(target)
            except Exception as exc:  # one trainee's failure never sinks the batch
                result.failures.append(ReleaseFailure(item, str(exc)))
    return result
