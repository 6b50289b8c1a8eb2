"""The kernel side of a workbook: the runtime question widgets talk to, and ``open_workbook``.

The locked setup cell of a released workbook calls :func:`open_workbook`, which
finds the answer store, registers the questions of the notebook, shows the
progress panel and installs the hook that stores code answers when their cell
runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Unpack, cast

from kit import artifacts, kinds
from kit import kernel_state as kernel
from kit.artifacts import MIME_QUESTION, answer_cell_qid
from kit.kernel_state import in_live_kernel
from kit.kinds.base import PracticeHashes, QuestionSpec
from kit.kinds.upload import UploadedFile
from kit.messages import t
from kit.workbook.display import install
from kit.workbook.livelink import LiveLink
from kit.workbook.panel import ProgressPanel
from kit.workbook.store import AnswerEntry, AnswerExtras, AnswerStore, atomic_write

# ------------------------------------------------------------------ runtimes


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
        practice: dict[str, PracticeHashes] | None = None,
        notebook: Path | None = None,
        title: str | None = None,
        due: str | None = None,
        zone: str | None = None,
    ):
        self.store = store
        #: The due time (ISO, with its offset) and the course's zone it is shown in.
        self.due, self.zone = due, zone
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
        self.questions: dict[str, QuestionSpec] = {}
        self._listeners: dict[str, list[Callable[[AnswerEntry], None]]] = {}
        self._memory: dict[str, AnswerEntry] = {}
        self.panel: ProgressPanel | None = None
        self._live: Any = (
            None  # live class (#12): a kit.workbook.livelink.LiveLink, made on first use
        )

    @property
    def persistent(self) -> bool:
        return self.store is not None

    @property
    def readonly(self) -> bool:
        return self.store is not None and self.store.readonly

    def register(self, spec: QuestionSpec) -> None:
        """Record a question (for progress)."""
        self.questions[spec["id"]] = spec
        if self.panel is not None:
            self.panel.refresh()

    def subscribe(self, qid: str, callback: Callable[[AnswerEntry], None]) -> None:
        """Call `callback(entry)` when `qid` is saved outside its widget (code hook)."""
        # Only the newest view of a question listens: a rebuilt view replaces the old one.
        self._listeners[qid] = [callback]

    def answers(self) -> dict[str, AnswerEntry]:
        """All readable answers (entry dicts by question id)."""
        if self.store is None:
            return dict(self._memory)
        return self.store.read(self.language)

    def lookup(
        self, qid: str, spec: QuestionSpec | None = None
    ) -> tuple[AnswerEntry | None, str | None]:
        """(entry, warning) for `qid`; a bad entry gives (None, message)."""
        answers = self.answers()
        warning = self.store.problems.get(qid) if self.store is not None else None
        entry = answers.get(qid)
        if entry is not None and spec is not None:
            why = kinds.find(spec.get("kind")).valid(spec, entry.get("value"))
            if why:
                file = self.store.path.name if self.store else "memory"
                why = t(why, self.language)
                return None, t("store_warning", self.language, file=file, qid=qid, why=why)
        return entry, warning

    def save(self, qid: str, value: Any, kind: str, **extra: Unpack[AnswerExtras]) -> AnswerEntry:
        """Store an answer now and refresh progress and listeners."""
        if self.store is None:
            entry: AnswerEntry = {"value": value, "at": artifacts.now_iso(), "kind": kind, **extra}
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
        from kit.exchange.clients import ExchangeError, FolderExchange, HubExchange

        if self.exchange is None and HubExchange.from_env() is None:
            return None
        folder = self.exchange

        def factory() -> Any:
            hub = HubExchange.from_env()
            if hub is not None:
                return hub
            if folder is None:
                raise ExchangeError("no exchange for live answers")
            # live answers need no signature: the folder itself, without reading the course secret
            return FolderExchange(folder)

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
        return artifacts.files_dir(artifacts.workbook_of_answers(self.store.path))

    def save_file(self, qid: str, name: str, content: bytes) -> UploadedFile:
        """Write an uploaded file to ``<workbook>.files/<qid>/<safe name>``."""
        safe = safe_filename(name)
        record: UploadedFile = {
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
        atomic_write(folder / safe, content)
        record["file"] = f"{base.name}/{qid}/{safe}"
        return record

    def number(self, qid: str) -> int:
        """A question's number as the workbook shows it (第n题): its place in the notebook, from 1."""
        order = list(self.questions)
        return order.index(qid) + 1 if qid in order else len(order) + 1

    def required(self) -> list[str]:
        """The questions that count for completion (optional ones never block it), in order."""
        return [q for q, spec in self.questions.items() if not spec.get("optional")]

    def answered(self) -> set[str]:
        """Ids of the questions with an answer (each kind says what an empty one is)."""
        out = set()
        for q, e in self.answers().items():
            spec = self.questions.get(q)
            kind = (spec.get("kind") if spec else None) or e.get("kind")
            if not kinds.is_empty(kind, e.get("value")):
                out.add(q)
        return out


def safe_filename(name: str) -> str:
    """A file name without directories or characters that upset file systems."""
    base = Path(str(name).replace("\\", "/")).name
    base = re.sub(r"[^\w.\-() ]+", "_", base).strip(" .") or "upload"
    return base[:120]


_PREVIEW: Runtime | None = None


def current() -> Runtime | None:
    """The runtime opened by `open_workbook` in this kernel, or None."""
    return kernel.current_runtime()


def preview_runtime() -> Runtime:
    """An in-memory runtime for an instructor previewing questions (nothing saved)."""
    global _PREVIEW
    if _PREVIEW is None:
        _PREVIEW = Runtime(None, language=kernel.language())
    return _PREVIEW


# ------------------------------------------------------------- open_workbook


def _notebook_path(name: str | None) -> Path | None:
    """The workbook file this kernel serves.

    jupyter_server puts the notebook path in ``JPY_SESSION_NAME`` (ipykernel
    copies it to ``__session__``); JupyterLab starts the kernel in the
    notebook's directory, so a relative path is resolved by its file name.
    """
    session_name = os.environ.get("JPY_SESSION_NAME")
    if not session_name:
        session_name = kernel.user_ns().get("__session__")
    if session_name and str(session_name).endswith(".ipynb"):
        p = Path(session_name)
        return p if p.is_absolute() else Path.cwd() / p.name
    if name:
        return Path.cwd() / Path(name).name
    return None


def _questions_in_notebook(path: Path | None) -> list[QuestionSpec]:
    """Question specs found in the notebook's saved outputs (for the total)."""
    if path is None or not path.exists():
        return []
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    specs: list[QuestionSpec] = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            spec = (out.get("data") or {}).get(MIME_QUESTION)
            if isinstance(spec, dict) and "id" in spec:
                specs.append(cast(QuestionSpec, spec))  # as `ask` displayed it
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
    if kinds.is_empty("code", source):
        # The untouched stub is not an answer, and running it never clears one: Voilà
        # runs every stub on open while the answer lives in the store (kit.hub).
        return
    rt.save(qid, source, "code")


def _register_code_hook() -> None:
    ip = kernel.ipython()
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
    due: str | None = None,
    zone: str | None = None,
) -> Runtime:
    """Open this kernel's workbook: find the store, show greeting and progress.

    Called by the locked setup cell that `release()` writes. ``name`` is the
    trainee's display name; the workbook file is found from the kernel's
    session (``JPY_SESSION_NAME``), falling back to ``<session>.ipynb`` in the
    working directory. ``due`` (ISO with offset) is shown in ``zone``, the
    course's time zone. ``store`` overrides the store path (tests, tools);
    ``CASEKIT_ANSWERS`` does the same for a grader, and with ``CASEKIT_MODE``
    set the store is read-only: a build or grade run never writes answers.
    """
    readonly = bool(os.environ.get("CASEKIT_MODE"))
    notebook = _notebook_path(f"{session}.ipynb")
    if store is None and os.environ.get("CASEKIT_ANSWERS"):
        store = Path(os.environ["CASEKIT_ANSWERS"])
    if store is None and notebook is not None:
        store = artifacts.answers_path(notebook)
    if notebook is None and store is not None:
        notebook = artifacts.workbook_of_answers(store)
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
        due=due,
        zone=zone,
    )
    for spec in _questions_in_notebook(notebook):
        rt.questions[spec["id"]] = spec
    for qid, spec in kernel.QUESTIONS.items():
        rt.questions.setdefault(qid, spec)
    rt.answers()  # read once so warnings show at the top
    kernel.set_runtime(rt)
    _register_code_hook()
    if in_live_kernel():
        from IPython.display import display

        install(kernel.ipython(), rt.language)
        rt.panel = ProgressPanel(rt)
        display(rt.panel.box)
    return rt


def close_workbook() -> None:
    """Forget the current runtime (tests, or a kernel reused for another workbook)."""
    kernel.set_runtime(None)
