"""Every artifact that passes between casekit's steps: where it lies and what it holds.

One home for the layout of the course, build, exchange and submission-store
folders, the keys file the build writes for grading, the receipt of a hand-in,
the content digest of a submission, the time stamp in folder names, the
practice-hash salt, the build cache and the mime types and answer-cell marker
inside executed notebooks. Writers write through this module and readers read
through it, so a format is changed in one place and no reader guesses::

    <course>/cohorts/<cohort>/deliberations/<session>.toml   and .history.jsonl
    <course>/build/<cohort>/instructor/<session>.ipynb        instructor edition
    <course>/build/<cohort>/instructor/<session>.keys.json    KeysFile (instructor only)
    <course>/build/<cohort>/trainee/<session>.ipynb           trainee edition
    <course>/build/<cohort>/trainee/<session>.practice.json   practice hashes (practice mode)
    <course>/build/<cohort>/variants/<trainee>/instructor/<session>.ipynb, .keys.json
    <course>/build/<cohort>/variants/<trainee>/trainee/<session>.ipynb, .practice.json
                              a trainee's own variant of a session with ``variants = trainee``
    <course>/build/<cohort>/.cache.json                       build cache: session[/trainee] → digest
    <course>/build/<cohort>/handouts/<session>.html, index.html    trainee handouts (to share)
    <course>/build/<cohort>/instructor/handouts/<session>.html, index.html   (never to share)
    <course>/build/<cohort>/feedback/<trainee>/<session>.html
    <course>/build/<cohort>/marking/<session|all>[-anon].ipynb
    <course>/build/<cohort>/report.html     <course>/build/guide/index.html
    <course>/build/programme/report.html
    <exchange>/<cohort>/outbox/<trainee>/<session>.ipynb      released workbook
    <exchange>/<cohort>/outbox/<trainee>/<session>.answers.json and <session>.files/
    <exchange>/<cohort>/inbox/<trainee>/<session>/<stamp>-<sha8>/   a hand-in
    <course>/submissions/<cohort>/<trainee>/<session>/<stamp>-<sha8>/   the store
        workbook.ipynb  answers.json  receipt.json  files/<question>/<name>
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Required, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kit.messages import t
from kit.problems import CourseError, Problem

if TYPE_CHECKING:  # types only: artifacts must stay importable without loading a course
    from kit.course import Course
    from kit.kinds.base import KeyRecord, PracticeHashes, QuestionSpec

# ---------------------------------------------------------------- notebook formats

#: Mime types casekit writes into executed notebooks (see docs/architecture.md).
MIME_QUESTION = "application/vnd.casekit.question+json"
MIME_KEY = "application/vnd.casekit.key+json"
MIME_TEST = "application/vnd.casekit.test+json"
MIME_WIDGET = "application/vnd.jupyter.widget-view+json"
#: ``reveal(when)`` in a key cell: when a session's feedback pages may show right answers.
MIME_REVEAL = "application/vnd.casekit.reveal+json"

#: When a feedback page shows the right answer and the author's explanation
#: (``key(qid, value, explain=..., reveal=...)`` per question, ``reveal(...)``
#: per session): after the session's due time (the default; a session without
#: one is due at the end of its day), as soon as feedback is written, or never.
REVEAL_WHEN = ("after-due", "always", "never")
DEFAULT_REVEAL = "after-due"

# The first line of a code answer cell: the build writes it, the workbook runtime
# finds answers by it when a cell runs, grading finds answer cells by it.
ANSWER_MARKER = "# 答题区 answer: {qid}"
ANSWER_MARKER_RE = re.compile(r"^\s*#\s*答题区\s+answer:\s*([a-z0-9][a-z0-9-]*)\s*$")


def answer_marker(qid: str) -> str:
    """The marker line that opens the code answer cell of question ``qid``."""
    return ANSWER_MARKER.format(qid=qid)


def answer_cell_qid(source: str) -> str | None:
    """The question id of a code answer cell (its first non-empty line), or None."""
    for line in (source or "").splitlines():
        if line.strip():
            m = ANSWER_MARKER_RE.match(line)
            return m.group(1) if m else None
    return None


# ---------------------------------------------------------------- test records

# A test as it ran (MIME_TEST, keys.json) and as grading judged it (the gradebook).
# Records are JSON objects: a TypedDict names their fields for the type checker and
# leaves the JSON as it is; ``total=False`` because they are read back from files,
# where a reader checks what it needs. The spec and key records are the kinds'
# (kit.kinds.base), an answer the store's (kit.workbook.store).


class RecordedTest(TypedDict, total=False):
    """One ``@test`` as it ran (MIME_TEST), and as keys.json lists it with its cell and role."""

    question: Required[str]
    name: Required[str]
    points: float
    passed: bool
    message: str
    hidden: bool
    cell: int
    role: str | None


class JudgedTest(TypedDict, total=False):
    """One author test of a code answer as grading judged it (the gradebook's tests)."""

    question: Required[str]
    name: Required[str]
    hidden: bool
    passed: bool
    points: float
    max_points: float
    message: str
    outcome: str  # kit.sandbox.answers.TestOutcome
    withheld: bool  # its message is kept from the trainee


# ---------------------------------------------------------------- time stamps

#: The one time-stamp format of folder names (exchange inbox, store, backups): UTC, sortable.
STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"


def stamp(t: datetime | None = None) -> str:
    """A folder-name time stamp of ``t`` (default: now), in UTC."""
    t = t or datetime.now(UTC)
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return t.strftime(STAMP_FORMAT)


def parse_stamp(text: str) -> datetime | None:
    """The UTC time of a folder name written with :func:`stamp` (``<stamp>-<sha8>``), or None."""
    head = str(text).split("-", 1)[0]
    try:
        return datetime.strptime(head, STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as written in receipts; naive means UTC. None when it is not one."""
    if not value or not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def now_iso() -> str:
    """Now in UTC as ISO 8601 with milliseconds (answer entries, receipts)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------- writing files


def write_whole(path: Path, write: Callable[[Path], Any]) -> Path:
    """Write a file whole or not at all: ``write`` fills a temporary file beside ``path``, which then replaces it.

    An error half-way (a cell a spreadsheet refuses, a full disk) leaves the
    file that was there before, and no temporary file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text whole or not at all (:func:`write_whole`)."""
    return write_whole(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file, then rename): a crash never leaves half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------- course layout


def deliberations_dir(course: Course, cohort_id: str) -> Path:
    """The folder holding a cohort's deliberation records."""
    return course.cohort(cohort_id).folder / "deliberations"


def record_path(course: Course, cohort_id: str, session_id: str) -> Path:
    """Where a session's deliberation record lives (it may not exist)."""
    return deliberations_dir(course, cohort_id) / f"{session_id}.toml"


def history_path(course: Course, cohort_id: str, session_id: str) -> Path:
    """The append-only history beside a session's record."""
    return deliberations_dir(course, cohort_id) / f"{session_id}.history.jsonl"


# ---------------------------------------------------------------- build layout


@dataclass(frozen=True)
class BuildPaths:
    """Where the build writes one session of a cohort."""

    instructor: Path
    trainee: Path
    keys: Path
    practice: Path


def cohort_build_dir(course: Course, cohort: str) -> Path:
    """``build/<cohort>/``: everything built or written for one cohort."""
    return course.build_dir / cohort


def variant_of(course: Course, cohort: str, session: str, trainee: str | None) -> str | None:
    """Whose variant of a session ``trainee`` works on: their own, or None for the cohort's reference.

    A trainee has a variant of their own exactly when the session's schedule
    row says ``variants = trainee``; everyone else (and an unknown session)
    shares the cohort's reference variant, which handouts show.
    """
    if trainee is None:
        return None
    for s in course.cohort(cohort).sessions:
        if s.session == session:
            return trainee if s.per_trainee else None
    return None


def variants_dir(course: Course, cohort: str) -> Path:
    """``build/<cohort>/variants/``: one folder per trainee with their own editions and keys."""
    return cohort_build_dir(course, cohort) / "variants"


def build_paths(
    course: Course, cohort: str, session: str, trainee: str | None = None
) -> BuildPaths:
    """The editions, keys file and practice hashes of one session, as ``trainee`` gets it.

    Without ``trainee``, or for a session everyone shares, the cohort's
    reference variant; for a session with a variant per trainee, that
    trainee's own (see :func:`variant_of`). Release, grading, ``try`` and
    feedback pass the trainee and so read the right keys without asking.
    """
    variant = variant_of(course, cohort, session, trainee)
    base = cohort_build_dir(course, cohort)
    if variant is not None:
        base = variants_dir(course, cohort) / variant
    return BuildPaths(
        instructor=base / "instructor" / f"{session}.ipynb",
        trainee=base / "trainee" / f"{session}.ipynb",
        keys=base / "instructor" / f"{session}.keys.json",
        practice=base / "trainee" / f"{session}.practice.json",
    )


def build_sources(course: Course, cohort: str) -> list[Path]:
    """The folders of a cohort's build that release and grading read (editions, keys, variants)."""
    base = cohort_build_dir(course, cohort)
    return [base / "instructor", base / "trainee", variants_dir(course, cohort)]


def edition_path(course: Course, cohort: str, session: str, edition: str) -> Path:
    """The built ``instructor`` or ``trainee`` edition of a session (the cohort's reference variant)."""
    return cohort_build_dir(course, cohort) / edition / f"{session}.ipynb"


def handouts_dir(course: Course, cohort: str) -> Path:
    """``build/<cohort>/handouts/``: the trainee handouts ``<session>.html`` and their ``index.html``.

    Only what trainees may read lies here, so the folder can be shared whole.
    """
    return cohort_build_dir(course, cohort) / "handouts"


def instructor_handouts_dir(course: Course, cohort: str) -> Path:
    """``build/<cohort>/instructor/handouts/``: instructor handouts (keys, notes) and their own index.

    Beside the instructor editions and keys files, never inside the folder
    that is shared with trainees.
    """
    return cohort_build_dir(course, cohort) / "instructor" / "handouts"


def feedback_path(course: Course, cohort: str, trainee: str, session: str) -> Path:
    """One trainee's graded feedback page for one session."""
    return cohort_build_dir(course, cohort) / "feedback" / trainee / f"{session}.html"


def try_page_path(course: Course, cohort: str, session: str) -> Path:
    """The feedback page ``casekit try`` writes for a set of trial answers."""
    return cohort_build_dir(course, cohort) / "try" / f"{session}.html"


def marking_path(course: Course, cohort: str, session: str | None, anonymous: bool) -> Path:
    """The marking notebook of a session (or of all sessions)."""
    name = (session or "all") + ("-anon" if anonymous else "")
    return cohort_build_dir(course, cohort) / "marking" / f"{name}.ipynb"


def live_class_path(course: Course, cohort: str, session: str) -> Path:
    """The instructor's record of a live class: question states, answers frozen at close (#12)."""
    return cohort_build_dir(course, cohort) / "live" / f"{session}.json"


def report_path(course: Course, cohort: str) -> Path:
    """The cohort dashboard."""
    return cohort_build_dir(course, cohort) / "report.html"


def guide_path(course: Course) -> Path:
    """The programme guide of the whole course."""
    return course.build_dir / "guide" / "index.html"


def programme_report_path(course: Course) -> Path:
    """The programme report: every cohort's headline figures and their trend."""
    return course.build_dir / "programme" / "report.html"


# ---------------------------------------------------------------- build cache


def build_cache_path(course: Course, cohort: str) -> Path:
    return cohort_build_dir(course, cohort) / ".cache.json"


def cache_key(session: str, variant: str | None = None) -> str:
    """A build-cache entry's name: ``session``, or ``session/trainee`` for a trainee's own variant."""
    return session if variant is None else f"{session}/{variant}"


def read_build_cache(course: Course, cohort: str) -> dict[str, str]:
    """The build cache, :func:`cache_key` → digest of (notebook, parameters, kit); ``{}`` when absent or damaged."""
    path = build_cache_path(course, cohort)
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        return {}  # a damaged cache only costs a rebuild
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def write_build_cache(course: Course, cohort: str, cache: dict[str, str]) -> None:
    write_json(build_cache_path(course, cohort), cache)


# ---------------------------------------------------------------- build stamp

#: What casekit writes into a course folder (never an input of a build).
WRITTEN = frozenset({"build", "submissions", "exchange", ".git"})


def written_by_casekit(name: str) -> bool:
    """Whether an entry of a course folder is casekit's output rather than the author's input."""
    return name in WRITTEN or name.startswith("gradebook.")


def inputs_fingerprint(root: Path, salt: str = "") -> str:
    """Names, sizes and modification times of every input file of a course folder, hashed.

    Everything a build reads lies in the course folder (datasets must, too),
    so when this is unchanged since a complete build, nothing is to be built.
    It is a make-style check on file metadata, not contents: a changed file
    only sends the build down its full path, which compares contents. Skipped:
    what casekit writes (:data:`WRITTEN`, the configured exchange), hidden
    entries and ``__pycache__``.
    """
    root = Path(root)
    skip = {root / name for name in WRITTEN}
    try:
        exchange = tomllib.loads((root / "course.toml").read_text("utf-8")).get("exchange")
        if isinstance(exchange, str):
            skip.add((root / exchange).resolve())
    except (OSError, ValueError):
        pass  # the full path reports an unreadable course.toml
    h = hashlib.sha256(salt.encode())
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d != "__pycache__"
            and here / d not in skip
            and (here / d).resolve() not in skip
        )
        for name in sorted(files):
            if name.startswith(".") or (here == root and written_by_casekit(name)):
                continue
            try:
                st = (here / name).stat()
            except OSError:
                continue
            rel = (here / name).relative_to(root).as_posix()
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


class BuildStamp(BaseModel):
    """What a complete, successful build of a cohort leaves behind for the next one to compare.

    ``inputs`` is :func:`inputs_fingerprint` as it was when that build began;
    ``sessions`` and ``variants`` are the session ids (and ``session/trainee``
    cache keys) it built, with their output files relative to the course.
    """

    model_config = ConfigDict(extra="forbid")
    inputs: str
    sessions: list[str] = Field(default_factory=list)
    variants: list[str] = Field(default_factory=list)
    outputs: dict[str, list[str]] = Field(default_factory=dict)


def build_stamp_path(root: Path, cohort: str) -> Path:
    """``build/<cohort>/.stamp.json`` of the course folder ``root`` (readable without loading it)."""
    return Path(root) / "build" / cohort / ".stamp.json"


def read_build_stamp(root: Path, cohort: str) -> BuildStamp | None:
    """The stamp of the last complete build, or None (absent, damaged: the build takes its full path)."""
    try:
        return BuildStamp.model_validate_json(build_stamp_path(root, cohort).read_bytes())
    except (OSError, ValueError):
        return None


def write_build_stamp(root: Path, cohort: str, stamp_: BuildStamp) -> None:
    write_json(build_stamp_path(root, cohort), stamp_.model_dump())


def drop_build_stamp(root: Path, cohort: str) -> None:
    """Forget the last complete build: the next one takes its full path."""
    build_stamp_path(root, cohort).unlink(missing_ok=True)


# ---------------------------------------------------------------- the keys file


if TYPE_CHECKING:
    _Specs = list[QuestionSpec]
    _Keys = dict[str, KeyRecord]
    _Tests = list[RecordedTest]
else:
    # pydantic reads the records as plain JSON objects: validated as TypedDicts their
    # numbers would become floats and a kind's own fields be dropped, and keys.json
    # must read back as it was written
    _Specs = list[dict[str, Any]]
    _Keys = dict[str, dict[str, Any]]
    _Tests = list[dict[str, Any]]


class KeysFile(BaseModel):
    """What the build records about one session for grading, release and marking.

    ``questions`` are the question specs in notebook order (each with the
    index of the cell that asked it), ``keys`` the key records by question id
    (``{"id", "value", ...options}``), ``tests`` the test records with the
    role of the cell that ran them, ``locks`` cell id → checksum of locked
    cells, ``answer_cells`` question id → cell id of code answer cells.
    """

    model_config = ConfigDict(extra="forbid")
    cohort: str
    session: str
    #: the trainee whose own variant this is; None: the cohort's reference variant
    variant: str | None = None
    notebook: str
    unit: str
    mode: str
    due: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    modules: list[str] = Field(default_factory=list)
    locks: dict[str, str] = Field(default_factory=dict)
    questions: _Specs = Field(default_factory=list)
    keys: _Keys = Field(default_factory=dict)
    tests: _Tests = Field(default_factory=list)
    answer_cells: dict[str, str] = Field(default_factory=dict)
    #: The session's ``reveal(...)`` setting (None: :data:`DEFAULT_REVEAL`).
    reveal: str | None = None

    def specs(self) -> dict[str, QuestionSpec]:
        """Question specs by id, in notebook order."""
        return {q["id"]: q for q in self.questions}


def write_keys(path: Path, keys: KeysFile) -> None:
    # model_dump in Python mode: parameters may hold values only json's default=str can write
    write_json(path, keys.model_dump())


def read_keys(path: Path) -> tuple[KeysFile, bytes]:
    """The keys file and its bytes (grading fingerprints them). Raises CourseError when unreadable."""

    data = path.read_bytes()
    try:
        return KeysFile.model_validate(json.loads(data)), data
    except (ValueError, ValidationError) as e:
        raise CourseError(
            [
                Problem(
                    str(path),
                    message=t("keys.not_keys_file", error=str(e).splitlines()[0]),
                    fix=t("keys.not_keys_file_fix"),
                )
            ]
        ) from None


# ---------------------------------------------------------------- practice hashes


def practice_secret(seed: bytes) -> str:
    """The secret part of practice-hash salts, from something trainees never hold."""
    return hashlib.sha256(seed).hexdigest()[:16]


def practice_salt(secret: str, qid: str) -> str:
    """The salt of one question's practice hashes: per question, so equal keys hash differently."""
    return f"{secret}:{qid}"


def read_practice(path: Path) -> dict[str, PracticeHashes]:
    """Practice hashes written by the build (question id → hashes); ``{}`` when absent."""
    table: dict[str, PracticeHashes] = (
        json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    )
    return table


# ---------------------------------------------------------------- exchange layout

ANSWERS_SUFFIX = ".answers.json"
FILES_SUFFIX = ".files"


def outbox_path(exchange: Path, cohort: str, trainee: str, session: str) -> Path:
    """A released workbook."""
    return Path(exchange) / cohort / "outbox" / trainee / f"{session}.ipynb"


def exchange_of(workbook: Path, cohort: str, trainee: str) -> Path | None:
    """The exchange a released workbook lies in (``<exchange>/<cohort>/outbox/<trainee>/``), or None."""
    parts = workbook.parent.parts
    if len(parts) >= 4 and parts[-3:] == (cohort, "outbox", trainee):
        return workbook.parents[3]
    return None


def live_path(exchange: Path, cohort: str, session: str, trainee: str) -> Path:
    """A trainee's latest answers of one session, for the live class view."""
    return exchange / cohort / "live" / session / f"{trainee}.json"


def live_state_path(exchange: Path, cohort: str, session: str) -> Path:
    """The state of a live class the instructor publishes (format: kit.workbook.livelink)."""
    return exchange / cohort / "live" / f"{session}.state.json"


def secret_path(course_root: Path) -> Path:
    """The course secret (instructor side only; kit.exchange.trust)."""
    return Path(course_root) / ".casekit" / "secret"


def hub_state_dir(course_root: Path, cohort: str) -> Path:
    """A cohort hub's configuration, database, log and passwords (kit.hub)."""
    return Path(course_root) / ".casekit" / "hub" / cohort


def inbox_dir(exchange: Path, cohort: str) -> Path:
    """Where hand-ins of a cohort arrive (``collect``'s default source)."""
    return Path(exchange) / cohort / "inbox"


def inbox_session_dir(exchange: Path, cohort: str, trainee: str, session: str) -> Path:
    """The folder that holds every hand-in of one trainee for one session."""
    return inbox_dir(exchange, cohort) / trainee / session


def answers_path(workbook: Path) -> Path:
    """The answer store beside a workbook: ``<stem>.answers.json``."""
    workbook = Path(workbook)
    return workbook.with_name(workbook.stem + ANSWERS_SUFFIX)


def files_dir(workbook: Path) -> Path:
    """Uploaded files beside a workbook: ``<stem>.files/<question>/<name>``."""
    workbook = Path(workbook)
    return workbook.with_name(workbook.stem + FILES_SUFFIX)


def workbook_of_answers(store: Path) -> Path:
    """The workbook an answer store belongs to."""
    return store.with_name(store.name[: -len(ANSWERS_SUFFIX)] + ".ipynb")


# ---------------------------------------------------------------- a submission

WORKBOOK = "workbook.ipynb"
ANSWERS = "answers.json"
RECEIPT = "receipt.json"
FILES = "files"


def submission_digest(files: dict[str, bytes]) -> str:
    """Content hash of a submission: relative paths and bytes, the receipt excluded (it differs per hand-in)."""
    h = hashlib.sha256()
    for name in sorted(files):
        if name == RECEIPT:
            continue
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def submission_folder_name(received: datetime, sha256: str) -> str:
    """``<stamp>-<sha8>``: sorts by time, tells equal times apart by content."""
    return f"{stamp(received)}-{sha256[:8]}"


class Receipt(BaseModel):
    """What ``submit`` hands back and writes as ``receipt.json``; ``collect`` adds ``collected_at``."""

    model_config = ConfigDict(extra="ignore")
    trainee: str = ""
    session: str = ""
    cohort: str = ""
    received_at: str = ""
    sha256: str = ""
    files: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    collected_at: str | None = None
    source: str | None = None  # who wrote it when not the exchange (an importer)
    via: str | None = None  # the exchange that received it: "folder" or "hub" (kit.hub)
    claimed_trainee: str | None = None  # the hub account decided; the workbook claimed this
    signature: str | None = None  # HMAC with the course secret (kit.exchange.trust)
    #: what collect established (received_at, time_source, notes): the store's only trusted time
    collected: dict[str, Any] | None = None
    folder: Path | None = Field(default=None, exclude=True)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_bytes(self) -> bytes:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=1).encode("utf-8")

    @classmethod
    def parse(cls, data: bytes | None) -> Receipt | None:
        """A receipt from ``receipt.json`` bytes; None when there is none or it is not a receipt."""
        if data is None:
            return None
        try:
            return cls.model_validate(json.loads(data.decode("utf-8")))
        except (UnicodeDecodeError, ValueError, ValidationError):
            return None

    def received(self) -> datetime | None:
        return parse_time(self.received_at)


def received_time(files: dict[str, bytes], where: str) -> datetime | None:
    """When a stored submission was received, as collect established it (never a trainee's field).

    The receipt's ``collected.received_at`` (a signed exchange time or the
    arrival at collect), else the stamp of the store folder's name.
    """
    receipt = Receipt.parse(files.get(RECEIPT))
    t = parse_time((receipt.collected or {}).get("received_at")) if receipt else None
    if t:
        return t
    for part in reversed(where.split("/")):
        t = parse_stamp(part)
        if t:
            return t
    return None


# ---------------------------------------------------------------- submission store


def store_dir(course: Course, cohort: str) -> Path:
    """The append-only submission store of a cohort."""
    return course.root / "submissions" / cohort


def submission_dir(
    course: Course, cohort: str, trainee: str, session: str, received: datetime, sha256: str
) -> Path:
    """The store folder of one submission."""
    return store_dir(course, cohort) / trainee / session / submission_folder_name(received, sha256)


def stored_names(
    course: Course, cohort: str, session: str | None = None
) -> list[tuple[str, str, str]]:
    """``(trainee, session, folder name)`` of every submission folder in the store, sorted.

    Only one session's with ``session``.  Names, not paths: a programme's
    store holds tens of thousands of folders, and whoever only compares them
    need not build a path for each.
    """
    store = str(store_dir(course, cohort))
    found = []
    for trainee in _subdirs(store):
        sessions = [session] if session else _subdirs(os.path.join(store, trainee))
        for one in sessions:
            for name in _subdirs(os.path.join(store, trainee, one)):
                if not name.startswith("."):
                    found.append((trainee, one, name))
    found.sort()
    return found


def _subdirs(path: str) -> list[str]:
    try:
        with os.scandir(path) as it:
            return [e.name for e in it if e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def gradebook_url(course_root: Path | str, db: str | None = None) -> str:
    """The gradebook's URL (``kit.gradebook.resolve_url``): ``db`` if given, else course.toml ``[gradebook] url``, else SQLite.

    A bare path is taken as a SQLite file. ``postgresql://`` is mapped to the
    psycopg 3 driver, which is the one casekit depends on.
    """
    root = Path(course_root)
    url = db
    if url is None:
        try:
            cfg = tomllib.loads((root / "course.toml").read_text(encoding="utf-8"))
            url = (cfg.get("gradebook") or {}).get("url")
        except (OSError, ValueError):
            url = None
    if not url:
        return f"sqlite:///{(root / 'gradebook.sqlite').resolve()}"
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url
