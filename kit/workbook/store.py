"""The answer store: ``<workbook-stem>.answers.json`` beside the workbook.

::

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
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Required, TypedDict, Unpack

from kit import artifacts
from kit.messages import t
from kit.problems import UserError

if TYPE_CHECKING:  # a type only: the store needs no question kinds
    from kit.kinds.code import EditorRun

try:  # POSIX advisory locks serialise read-merge-write between kernels
    import fcntl
except ImportError:  # pragma: no cover - Windows: os.replace still keeps files whole
    fcntl = None  # type: ignore[assignment]


class AnswerExtras(TypedDict, total=False):
    """What a kind keeps beside an answer: a number as it was typed, a code answer's last run."""

    raw: str
    run: EditorRun


class AnswerEntry(AnswerExtras, total=False):
    """One question's answer in an answer store (``answers.json``): the value and when it was saved."""

    value: Required[Any]
    at: str
    kind: str


class StoreError(UserError):
    """The answer store cannot be read or handed in; the message names the file and question.

    ``why`` is the reason without the file (what a trainee is shown in the
    workbook, where a path means nothing to them); ``code`` names the failure
    for callers that answer it differently (``"no-exchange"``).
    """

    def __init__(self, why: str, path: Path | str | None = None, *, code: str = ""):
        self.why, self.path, self.code = why, path, code
        super().__init__(f"{path}: {why}" if path else why)

    def _render_traceback_(self) -> list[str]:
        return [f"casekit: {self}"]


def atomic_write(path: Path, data: bytes) -> None:
    """Write bytes atomically and durably (temporary file, fsync, rename)."""
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
        return t("store.qid_not_text")
    if not isinstance(entry, dict):
        return t("store.entry_not_object")
    if "value" not in entry:
        return t("store.entry_no_value")
    if not isinstance(entry.get("at", ""), str):
        return t("store.entry_bad_time")
    return None


def parse_store(
    text: str, path: Path
) -> tuple[dict[str, Any], dict[str, AnswerEntry], list[tuple[str, str]]]:
    """Parse store text into (header, good answers, problems [(qid, why)]).

    Raises StoreError when the file as a whole is unusable.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(t("store.bad_json", error=exc.msg, line=exc.lineno), path) from None
    if not isinstance(doc, dict):
        raise StoreError(t("store.not_object"), path)
    answers = doc.get("answers", {})
    if not isinstance(answers, dict):
        raise StoreError(t("store.answers_not_object"), path)
    header = {k: v for k, v in doc.items() if k != "answers"}
    good: dict[str, AnswerEntry] = {}
    problems: list[tuple[str, str]] = []
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
        why = "; ".join(t("store.entry_problem", qid=qid, why=why) for qid, why in problems)
        raise StoreError(why, path)
    return {**header, "answers": good, "problems": [{"question": q, "why": w} for q, w in problems]}


class AnswerStore:
    """The JSON answer file of one workbook, merged per question on each write."""

    def __init__(self, path: Path, header: dict | None = None, *, readonly: bool = False):
        self.path = Path(path)
        self.header = dict(header or {})
        self.readonly = readonly
        # Last answers read or written: survives a corrupt file being replaced.
        self.known: dict[str, AnswerEntry] = {}
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
        backup = self.path.with_name(f"{self.path.name}.corrupt-{artifacts.stamp()}")
        if digest not in self._backed_up:
            if not self.readonly:
                shutil.copy2(self.path, backup)
            self._backed_up.add(digest)
        return backup

    def read(self, language: str = "zh") -> dict[str, AnswerEntry]:
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
            why = exc.why
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

    def set(
        self, qid: str, value: Any, kind: str, language: str = "zh", **extra: Unpack[AnswerExtras]
    ) -> AnswerEntry:
        """Store `value` for `qid` now; return the entry written."""
        entry: AnswerEntry = {"value": value, "at": artifacts.now_iso(), "kind": kind, **extra}
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
            atomic_write(self.path, data)
        return entry
