"""Collect, autograde, tamper checks, graded feedback and grade export.

The flow is ``collect`` → ``grade`` → (``kit.marking.mark``) → ``feedback`` /
``grades``. Each is a batch step: idempotent, resumable, with a progress bar,
and a failing item is reported with its cause without sinking the batch.

Submission store (append-only, never overwritten)::

    <course>/submissions/<cohort>/<trainee>/<session>/<utc-stamp>-<sha8>/
        workbook.ipynb  answers.json  receipt.json  (and any uploaded files)

The store is the truth; the gradebook's ``submissions`` table indexes it and is
rebuilt from it by :func:`index_store` when needed.

Grading never runs a trainee's workbook as it is: widget answers are scored
from ``answers.json`` against the keys file without a kernel, and code answers
are pasted into the *instructor* edition (so locked content, tests and hidden
tests come from the instructor, not from what the trainee handed back) which is
run by :func:`kit.execute.run_notebook` in grade mode.
"""

from __future__ import annotations

import copy
import hashlib
import html
import json
import math
import os
import re
import secrets
import shutil
import stat
import tarfile
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import nbformat

from kit.course import Course, CourseError, Failure, Outcome, Problem, load_course
from kit.gradebook import (
    FAILED,
    GRADED,
    MANUAL_KINDS,
    NEEDS_MARKING,
    Gradebook,
    Submission,
    to_utc_naive,
    utcnow,
)
from kit.hub.trust import content_digest, course_secret
from kit.hub.trust import verify as verify_handin
from kit.notebooks import checksum
from kit.questions import MIME_TEST as TEST_MIME
from kit.questions import answer_cell_qid, code_is_empty

GRADER_VERSION = "1"

# Archive limits: generous for notebooks plus an uploaded report each, small
# enough that a zip bomb cannot fill the disk.
MAX_ARCHIVE_FILES = 5000
MAX_ARCHIVE_BYTES = 500 * 1024 * 1024
MAX_MEMBER_BYTES = 50 * 1024 * 1024

UNGRADED_KINDS = frozenset({"rating"})


# ================================================================ results


@dataclass
class CollectResult(Outcome):
    """What ``collect`` did: new submissions stored, duplicates, unknown trainees, problems."""

    duplicates: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    #: hand-ins not filed under anybody: impersonation, forged or missing release token
    refused: list[str] = field(default_factory=list)


@dataclass
class GradeResult:
    """What ``grade`` did."""

    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)


class FeedbackResult(Outcome):
    """The feedback pages written, and the ones that failed."""


class GradesResult(Outcome):
    """The grade exports written."""


# ================================================================ helpers


def _course(course: Course | Path | str) -> Course:
    return course if isinstance(course, Course) else load_course(course)


def _error(file: Path | str, message: str, fix: str = "", where: str = "") -> CourseError:
    return CourseError([Problem(str(file), where=where, message=message, fix=fix)])


def _stamp(t: datetime) -> str:
    return to_utc_naive(t).strftime("%Y%m%dT%H%M%S%fZ")


def _parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        m = re.match(r"^(\d{8}T\d{6})(\d{0,6})Z?$", value)
        if not m:
            return None
        t = datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        if m.group(2):
            t = t.replace(microsecond=int(m.group(2).ljust(6, "0")))
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t


def _hash_files(files: dict[str, bytes]) -> str:
    """Content hash of a submission: relative paths and bytes, receipt excluded (it differs per submit)."""
    return content_digest(files)  # the digest the exchange signs


def _read_json_bytes(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


# ================================================================ safe archives


def _member_problem(name: str) -> str | None:
    """Why an archive member name is unsafe, or None."""
    if "\0" in name:
        return "contains a NUL byte"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return "is an absolute path"
    if any(part == ".." for part in norm.split("/")):
        return "climbs out of the archive with '..'"
    return None


def _archive_members(path: Path) -> list[tuple[str, int, Any]]:
    """List (name, size, handle) of regular files after checking every member; raise on any unsafe one."""

    def refuse(member: str, why: str) -> CourseError:
        return _error(
            path,
            f"archive refused: member {member!r} {why}; nothing was unpacked",
            "re-create the archive with plain files and folders only",
        )

    # Both formats become (name, kind, size, link target, handle); one set of checks follows.
    if zipfile.is_zipfile(path):
        zf = zipfile.ZipFile(path)

        def zip_kind(mode: int, info: zipfile.ZipInfo) -> str:
            ftype = stat.S_IFMT(mode)  # many zips carry only permission bits: no type is a file
            if stat.S_ISLNK(mode):
                return "symlink"
            if info.is_dir():
                return "dir"
            return "file" if not ftype or ftype == stat.S_IFREG else "other"

        entries = [
            (i.filename, zip_kind(i.external_attr >> 16, i), i.file_size, "", (zf, i))
            for i in zf.infolist()
        ]
    elif tarfile.is_tarfile(path):
        tf = tarfile.open(path)

        def tar_kind(m: tarfile.TarInfo) -> str:
            if m.issym():
                return "symlink"
            if m.islnk():
                return "hardlink"
            return "dir" if m.isdir() else "file" if m.isfile() else "other"

        entries = [(m.name, tar_kind(m), m.size, m.linkname, (tf, m)) for m in tf.getmembers()]
    else:
        raise _error(path, "not a zip or tar archive", "pass a folder, a .zip or a .tar(.gz) file")
    if len(entries) > MAX_ARCHIVE_FILES:
        raise refuse(entries[MAX_ARCHIVE_FILES][0], f"exceeds {MAX_ARCHIVE_FILES} files")
    out: list[tuple[str, int, Any]] = []
    total = 0
    for name, kind, size, link, handle in entries:
        why = _member_problem(name)
        if why:
            raise refuse(name, why)
        target = f" (to {link!r})" if link else ""
        if kind == "symlink":
            raise refuse(name, f"is a symbolic link{target}")
        if kind == "hardlink":
            raise refuse(name, f"is a hard link{target}")
        if kind == "other":
            raise refuse(name, "is not a regular file (device, fifo, ...)")
        if kind == "dir":
            continue
        if size > MAX_MEMBER_BYTES:
            raise refuse(name, f"is larger than {MAX_MEMBER_BYTES} bytes")
        total += size
        if total > MAX_ARCHIVE_BYTES:
            raise refuse(name, f"takes the archive over {MAX_ARCHIVE_BYTES} bytes")
        out.append((name, size, handle))
    return out


def _read_member(handle: Any, limit: int) -> bytes:
    """Read a member, enforcing the declared size (a lying header must not inflate past the limit)."""
    arch, info = handle
    f = arch.open(info) if isinstance(arch, zipfile.ZipFile) else arch.extractfile(info)
    with f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError("member is larger than it claims")
    return data


def _load_archive(path: Path) -> dict[str, dict[str, bytes]]:
    """Read an archive into memory, grouped by folder: {folder: {relative name: bytes}}.

    Reading into memory (bounded by the limits) instead of extracting means
    nothing is ever written outside the store, whatever the member names say.
    """
    members = _archive_members(path)
    files: dict[str, bytes] = {}
    for name, size, handle in members:
        try:
            files[name.replace("\\", "/").lstrip("./") or name] = _read_member(
                handle, min(size, MAX_MEMBER_BYTES)
            )
        except (ValueError, OSError, zipfile.BadZipFile, tarfile.TarError) as e:
            raise _error(path, f"archive refused: member {name!r} cannot be read: {e}") from e
    return files


def _load_folder(path: Path) -> tuple[dict[str, bytes], list[str]]:
    """Read a folder's regular files (links are skipped and reported, never followed)."""
    files: dict[str, bytes] = {}
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        for d in list(dirnames):
            if (Path(dirpath) / d).is_symlink():
                skipped.append(str(Path(dirpath, d).relative_to(path)))
                dirnames.remove(d)
        for fn in filenames:
            p = Path(dirpath) / fn
            rel = p.relative_to(path).as_posix()
            if p.is_symlink() or not p.is_file():
                skipped.append(rel)
                continue
            if fn.startswith(".") or "/." in "/" + rel:
                continue  # .ipynb_checkpoints and the like
            files[rel] = p.read_bytes()
    return files, skipped


def _group_submissions(files: dict[str, bytes]) -> dict[str, dict[str, bytes]]:
    """Split a file tree into submissions.

    A folder holding ``answers.json`` or ``workbook.ipynb`` is one submission
    (with everything under it); any other ``.ipynb`` is a submission by itself.
    """
    roots = sorted(
        {
            str(PurePosixPath(n).parent)
            for n in files
            if PurePosixPath(n).name in ("answers.json", "workbook.ipynb")
        },
        key=len,
    )
    groups: dict[str, dict[str, bytes]] = {}
    taken: set[str] = set()
    for root in roots:
        if any(root == r or root.startswith(r + "/") for r in groups if r != "."):
            continue
        prefix = "" if root == "." else root + "/"
        g = {
            n[len(prefix) :]: b for n, b in files.items() if n.startswith(prefix) and n not in taken
        }
        taken.update(prefix + n for n in g)
        groups[root] = g
    for n, b in files.items():
        if n not in taken and n.endswith(".ipynb"):
            groups[n] = {"workbook.ipynb": b}
    return groups


# ================================================================ collect


def _path_ids(where: str, roster: set[str], sessions: set[str]) -> tuple[set[str], set[str]]:
    """Trainees and sessions a submission's path names (an inbox folder, a file name)."""
    parts = [p for p in re.split(r"[/\\]", where) if p not in ("", ".")]
    stems = [re.sub(r"\.ipynb$", "", p) for p in parts]
    path_trainees = {p for p in stems if p in roster}
    path_sessions = {p for p in stems if p in sessions}
    for part in stems:  # "<session>-<trainee>.ipynb" or "<trainee>_<session>"
        for t in roster:
            for s in sessions:
                if part in (f"{s}-{t}", f"{t}-{s}", f"{s}_{t}", f"{t}_{s}"):
                    path_trainees.add(t)
                    path_sessions.add(s)
    return path_trainees, path_sessions


def _identify(
    where: str, files: dict[str, bytes], roster: set[str], sessions: set[str]
) -> tuple[str | None, str | None, str]:
    """Trainee and session of a submission from its answers, notebook metadata, then path.

    Returns (trainee, session, problem). Sources that disagree are a problem,
    never resolved by guessing.
    """
    claims: dict[str, set[str]] = {"trainee": set(), "session": set()}
    answers = _read_json_bytes(files.get("answers.json"))
    if isinstance(answers, dict):
        for k in claims:
            if isinstance(answers.get(k), str) and answers[k]:
                claims[k].add(answers[k])
    nb = _read_json_bytes(files.get("workbook.ipynb"))
    if isinstance(nb, dict):
        meta = (nb.get("metadata") or {}).get("casekit") or {}
        for k in claims:
            if isinstance(meta.get(k), str) and meta[k]:
                claims[k].add(meta[k])
    path_trainees, path_sessions = _path_ids(where, roster, sessions)
    if not claims["trainee"]:
        claims["trainee"] = path_trainees
    if not claims["session"]:
        claims["session"] = path_sessions
    trainee = session = None
    if len(claims["trainee"]) == 1:
        trainee = next(iter(claims["trainee"]))
    if len(claims["session"]) == 1:
        session = next(iter(claims["session"]))
    if len(claims["trainee"]) > 1:
        return None, session, f"names several trainees: {', '.join(sorted(claims['trainee']))}"
    if len(claims["session"]) > 1:
        return trainee, None, f"names several sessions: {', '.join(sorted(claims['session']))}"
    if trainee is None:
        return None, session, "no trainee id in answers.json, notebook metadata or path"
    if session is None:
        return trainee, None, "no session id in answers.json, notebook metadata or path"
    if trainee not in roster:
        return trainee, session, f"unknown trainee {trainee!r} (not on the roster)"
    if session not in sessions:
        return trainee, session, f"unknown session {session!r} (not in the schedule)"
    # a path naming another trainee is impersonation: `collect` refuses it (kit.hub.trust)
    return trainee, session, ""


def _received_time(files: dict[str, bytes], where: str) -> datetime | None:
    """The receipt time of a submission in the store: what collect established, never a trainee's field."""
    receipt = _read_json_bytes(files.get("receipt.json"))
    collected = receipt.get("collected") if isinstance(receipt, dict) else None
    if isinstance(collected, dict):
        t = _parse_time(collected.get("received_at"))
        if t:
            return t
    for part in reversed(where.split("/")):
        t = _parse_time(part.split("-")[0])
        if t:
            return t
    return None


def collect(
    course: Course | Path | str,
    cohort: str,
    *,
    source: Path | str | None = None,
    db: str | None = None,
) -> CollectResult:
    """Take submissions into the append-only store and index them in the gradebook.

    ``source`` is the cohort's exchange inbox by default, or a folder, or a
    zip/tar archive. Archives are checked member by member before anything is
    read (absolute paths, ``..``, links, devices, size and count limits) and a
    bad one is refused whole, naming the member. Submissions whose trainee or
    session cannot be told for sure are reported in ``unknown``; identical
    content already stored is reported in ``duplicates``.
    """
    c = _course(course)
    co = c.cohort(cohort)
    res = CollectResult()
    src = Path(source) if source is not None else c.exchange_dir / cohort / "inbox"
    if not src.exists():
        raise _error(src, "submission source not found", "pass an existing folder or archive")
    if src.is_dir():
        files, skipped = _load_folder(src)
        for s in skipped:
            res.failures.append(Failure(s, "skipped: a link or special file", str(src)))
    else:
        files = _load_archive(src)
    store = c.root / "submissions" / cohort
    roster = set(co.roster.index)
    sessions = {s.session for s in co.sessions}
    # casekit hub (#11): identity and time are checked against the course secret (kit.hub.trust)
    secret = course_secret(c.root)
    arrival = datetime.now(UTC)
    with Gradebook.open(c.root, db) as gb:
        index_store(c, cohort, gb=gb)
        for where, sub_files in sorted(_group_submissions(files).items()):
            label = f"{src.name}/{where}"
            trainee, session, problem = _identify(where, sub_files, roster, sessions)
            if problem:
                res.unknown.append(f"{label}: {problem}")
                continue
            if "workbook.ipynb" not in sub_files and "answers.json" not in sub_files:
                res.failures.append(Failure(label, "no workbook.ipynb or answers.json"))
                continue
            by_path, _ = _path_ids(where, roster, sessions)
            verdict = verify_handin(
                sub_files,
                secret=secret,
                cohort=cohort,
                trainee=trainee,
                session=session,
                channel=next(iter(by_path)) if len(by_path) == 1 else None,
            )
            if verdict.refused:
                res.refused.append(f"{label}: refused, {verdict.refused}")
                continue
            sha = _hash_files(sub_files)
            received = verdict.received_at or arrival
            existing = gb.session.query(Submission).filter_by(
                cohort=cohort, session=session, trainee=trainee, sha256=sha
            )
            if existing.first() is not None:
                res.duplicates.append(
                    f"{label}: same content as already stored for {trainee}/{session}"
                )
                continue
            dest = store / trainee / session / f"{_stamp(received)}-{sha[:8]}"
            collected_by = {
                "received_at": received.isoformat(),
                "time_source": verdict.time_source,
                "notes": verdict.notes,
            }
            try:
                _write_submission(dest, sub_files, store, collected_by)
            except (OSError, ValueError) as e:
                res.failures.append(Failure(label, f"cannot store: {e}"))
                continue
            gb.add_submission(
                cohort=cohort,
                session=session,
                trainee=trainee,
                sha256=sha,
                path=dest.relative_to(c.root).as_posix(),
                received_at=received,
                source=label,
            )
            res.written.append(dest)
    return res


def _write_submission(
    dest: Path, files: dict[str, bytes], store: Path, collected: dict | None = None
) -> None:
    """Write one submission folder atomically (temp folder, then rename); never overwrite."""
    if dest.exists():
        return  # append-only: same stamp and hash means same content
    store_real = store.resolve()
    tmp = dest.parent / f".tmp-{dest.name}-{secrets.token_hex(4)}"
    tmp.mkdir(parents=True)
    try:
        for name, data in files.items():
            target = (tmp / name).resolve()
            # names were checked already; this is the last line of defence
            if not target.is_relative_to(tmp.resolve()) or not target.is_relative_to(store_real):
                raise ValueError(f"member {name!r} would land outside the store")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        receipt_path = tmp / "receipt.json"
        receipt = _read_json_bytes(files.get("receipt.json"))
        receipt = receipt if isinstance(receipt, dict) else {}
        receipt["collected_at"] = utcnow().isoformat() + "Z"
        # what the instructor side established; the only time `index_store` believes
        receipt["collected"] = collected or {}
        receipt_path.write_text(json.dumps(receipt, ensure_ascii=False, indent=1), "utf-8")
        os.rename(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def index_store(
    course: Course | Path | str, cohort: str, *, gb: Gradebook | None = None, db: str | None = None
) -> int:
    """Make sure every submission folder of the store is in the gradebook; return how many were added.

    The store is the truth: a gradebook lost or freshly pointed at PostgreSQL
    is rebuilt from it.
    """
    c = _course(course)
    store = c.root / "submissions" / cohort
    own = gb is None
    gb = gb or Gradebook.open(c.root, db)
    added = 0
    try:
        known = {s.path for s in gb.session.query(Submission).filter_by(cohort=cohort)}
        for d in sorted(store.glob("*/*/*")) if store.exists() else []:
            if not d.is_dir() or d.name.startswith("."):
                continue
            rel = d.relative_to(c.root).as_posix()
            if rel in known:
                continue
            trainee, session = d.parent.parent.name, d.parent.name
            files, _ = _load_folder(d)
            received = _received_time(files, d.name) or datetime.now(UTC)
            _, new = gb.add_submission(
                cohort=cohort,
                session=session,
                trainee=trainee,
                sha256=_hash_files(files),
                path=rel,
                received_at=received,
                source="store",
            )
            added += int(new)
    finally:
        if own:
            gb.close()
    return added


# ================================================================ keys and editions


@dataclass
class SessionKeys:
    """What the instructor side knows about one session's notebook."""

    session: str
    questions: dict[str, dict[str, Any]]  # qid → spec (ordered as in the notebook)
    keys: dict[str, dict[str, Any]]  # qid → {"value", ...opts}
    locks: dict[str, str]  # cell id → sha256 of its source
    tests: list[dict[str, Any]]  # {"question","name","points","hidden"}
    instructor: nbformat.NotebookNode
    fingerprint: str
    parameters: dict[str, Any] | None = None


def _casekit_meta(cell: Any) -> dict[str, Any]:
    m = (cell.get("metadata") or {}).get("casekit") or {}
    return m if isinstance(m, dict) else {}


def _role(cell: Any) -> str:
    role = _casekit_meta(cell).get("role") or ""
    if not role:
        tags = (cell.get("metadata") or {}).get("tags") or []
        for t in ("hidden-tests", "tests", "solution", "key", "locked"):
            if t in tags:
                return "answer" if t == "solution" else t
    return role


def _source(cell: Any) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def load_keys(course: Course, cohort: str, session: str) -> SessionKeys:
    """Read ``build/<cohort>/instructor/<session>.keys.json`` and the instructor edition.

    Whatever the keys file leaves out (question specs, tests) is read back
    from the instructor edition's outputs, which carry the same records.
    """
    base = course.build_dir / cohort / "instructor"
    kpath, nbpath = base / f"{session}.keys.json", base / f"{session}.ipynb"
    if not kpath.exists() or not nbpath.exists():
        raise _error(
            kpath if not kpath.exists() else nbpath,
            "instructor edition or keys file missing",
            f"run `casekit build {cohort}` first",
        )
    raw_bytes = kpath.read_bytes()
    nb_bytes = nbpath.read_bytes()
    raw = json.loads(raw_bytes)
    nb = nbformat.reads(nb_bytes.decode("utf-8"), as_version=4)

    # The keys file is the build's record (kit.builder): questions in notebook
    # order, keys by question id, locks by cell id, test records with their role.
    questions = {spec["id"]: dict(spec) for spec in raw.get("questions") or []}
    keys: dict[str, dict[str, Any]] = dict(raw.get("keys") or {})
    for qid, k in keys.items():
        # Rubric texts hidden from trainees (show_rubric=False) live with the key.
        texts = {str(r.get("id")): r for r in k.get("rubric") or [] if isinstance(r, dict)}
        for item in questions.get(qid, {}).get("rubric") or []:
            item.setdefault("text", texts.get(str(item["id"]), {}).get("text", item["id"]))
    locks: dict[str, str] = dict(raw.get("locks") or {})
    tests: dict[tuple[str, str], dict[str, Any]] = {}
    for t in raw.get("tests") or []:
        t = dict(t)
        # a record's own "hidden" depends on how the author ran it; the cell's role decides
        t["hidden"] = bool(t.get("hidden")) or t.get("role") == "hidden-tests"
        tests[(t["question"], t["name"])] = t
    fp = hashlib.sha256(raw_bytes + b"\0" + nb_bytes).hexdigest()
    params = raw.get("parameters") if isinstance(raw.get("parameters"), dict) else None
    return SessionKeys(session, questions, keys, locks, list(tests.values()), nb, fp, params)


# ================================================================ tamper checks


def tamper_flags(
    submitted: Any | None, keys: SessionKeys, answers: dict[str, Any]
) -> list[dict[str, str]]:
    """Flags for a submission: locked cells changed or removed, tests edited or removed, unknown answers.

    Cells are matched by cell id, then by the lock checksum in their metadata,
    so moved or added cells are not flagged. Flags never change a score
    (grading uses the instructor's content); they are shown to the instructor.
    """
    flags: list[dict[str, str]] = []
    roles = {c.get("id"): _role(c) for c in keys.instructor.cells}
    if submitted is not None:
        by_id = {c.get("id"): c for c in submitted.cells if c.get("id")}
        by_lock = {
            _casekit_meta(c).get("lock"): c for c in submitted.cells if _casekit_meta(c).get("lock")
        }
        for cid, sha in keys.locks.items():
            cell = by_id.get(cid) or by_lock.get(sha)
            is_test = roles.get(cid) in ("tests", "hidden-tests")
            what = "tests cell" if is_test else "locked cell"
            if cell is None:
                flags.append(
                    {
                        "code": "tests-removed" if is_test else "locked-removed",
                        "where": f"cell {cid}",
                        "message": f"{what} {cid} is missing from the submission",
                    }
                )
            elif checksum(_source(cell)) != sha:
                flags.append(
                    {
                        "code": "tests-edited" if is_test else "locked-changed",
                        "where": f"cell {cid}",
                        "message": f"{what} {cid} was changed (its content was restored from the instructor edition for grading)",
                    }
                )
    for qid in sorted(answers):
        if qid not in keys.questions:
            flags.append(
                {
                    "code": "unknown-question",
                    "where": f"question {qid}"[:200],
                    "message": f"an answer was given for {qid!r}, which is not a question of this session",
                }
            )
    return flags


# ================================================================ scoring


@dataclass
class _Score:
    points: float
    max_points: float
    status: str
    detail: str = ""


def _score_widget(spec: dict[str, Any], key: dict[str, Any] | None, answer: Any) -> _Score:
    from kit import questions

    s = questions.score(spec, key, answer)
    return _Score(float(s.points), float(s.max_points), str(s.status), str(s.detail or ""))


def _answer_value(entry: Any) -> Any:
    return entry.get("value") if isinstance(entry, dict) and "value" in entry else entry


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _trainee_code(qid: str, answers: dict[str, Any], submitted: Any | None) -> str | None:
    value = _answer_value(answers.get(qid))
    if isinstance(value, str) and not code_is_empty(value):
        return value
    if submitted is None:
        return None
    for cell in submitted.cells:
        src = _source(cell)
        if cell.get("cell_type") == "code" and answer_cell_qid(src) == qid:
            # the stub as released is no answer: it shows and grades as unanswered
            return None if code_is_empty(src) else src
    for cell in submitted.cells:
        m = _casekit_meta(cell)
        if (
            cell.get("cell_type") == "code"
            and m.get("role") == "answer"
            and m.get("question") == qid
        ):
            return _source(cell)
    return None


def _code_is_stub(code: str | None, qid: str) -> bool:
    if code is None:
        return True
    body = [
        ln
        for ln in code.splitlines()
        if ln.strip() and not ln.strip().startswith("#") and ln.strip() not in ("pass", "...")
    ]
    return not body


# The grader's own cells. The prelude runs before any trainee code and keeps
# the genuine builtins, IPython's traceback hooks and kit.questions' functions;
# the guard runs before every tests cell and puts them back, so a trainee who
# overrides showtraceback, rebinds AssertionError or patches `test` cannot
# hide a failing test. Test records are also only read from tests cells.
_PRELUDE = """\
import builtins as _ck_b, sys as _ck_sys
def _ck_snapshot():
    ip = get_ipython()
    mods = {n: dict(vars(m)) for n, m in list(_ck_sys.modules.items()) if n.startswith("kit")}
    hooks = {a: getattr(type(ip), a) for a in ("showtraceback", "_showtraceback", "showsyntaxerror") if hasattr(type(ip), a)}
    classes = [(c, dict(vars(c))) for d in mods.values() for c in d.values()
               if isinstance(c, type) and getattr(c, "__module__", "").startswith("kit")]
    return dict(vars(_ck_b)), mods, hooks, dict(vars(ip)), classes
_ck_sys.modules["_casekit_guard_{nonce}"] = type(_ck_sys)("_casekit_guard_{nonce}")
_ck_sys.modules["_casekit_guard_{nonce}"].snap = _ck_snapshot()
del _ck_snapshot, _ck_b, _ck_sys
"""
_GUARD = """\
def _ck_restore():
    import sys
    ip = get_ipython()
    b, mods, hooks, ipd, classes = sys.modules["_casekit_guard_{nonce}"].snap
    import builtins
    for k in list(vars(builtins)):
        if k not in b:
            delattr(builtins, k)
    vars(builtins).update(b)
    for n, d in mods.items():
        if n in sys.modules:
            vars(sys.modules[n]).update(d)
    for c, d in classes:
        for k, v in d.items():
            if k not in ("__dict__", "__weakref__") and vars(c).get(k) is not v:
                setattr(c, k, v)
    for a, f in hooks.items():
        setattr(type(ip), a, f)
        if a in vars(ip) and a not in ipd:
            delattr(ip, a)
        elif a in ipd:
            setattr(ip, a, ipd[a])
    ip.user_ns["test"] = getattr(sys.modules.get("kit.questions"), "test", ip.user_ns.get("test"))
_ck_restore()
del _ck_restore
"""


def build_grading_notebook(keys: SessionKeys, code: dict[str, str]) -> tuple[Any, list[int]]:
    """The instructor edition with the trainee's code in each answer cell, outputs cleared, guards added.

    Returns the notebook and the indexes of its tests cells. Outputs are
    cleared first: the instructor edition carries passing test records, and a
    run that dies before a tests cell must not leave them behind.
    """
    nonce = secrets.token_hex(8)
    nb = copy.deepcopy(keys.instructor)
    cells = []
    prelude_done = False
    for cell in nb.cells:
        role = _role(cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if role == "answer" and cell.cell_type == "code":
            qid = _casekit_meta(cell).get("question")
            if qid in code:
                cell.source = code[qid]
            if not prelude_done:
                cells.append(nbformat.v4.new_code_cell(_PRELUDE.replace("{nonce}", nonce)))
                prelude_done = True
        if role in ("tests", "hidden-tests") and cell.cell_type == "code":
            if not prelude_done:
                cells.append(nbformat.v4.new_code_cell(_PRELUDE.replace("{nonce}", nonce)))
                prelude_done = True
            guard = nbformat.v4.new_code_cell(_GUARD.replace("{nonce}", nonce))
            guard.metadata["casekit"] = {"role": "grader-guard"}
            cells.append(guard)
        cells.append(cell)
    nb.cells = cells
    tests_idx = [i for i, c in enumerate(nb.cells) if _role(c) in ("tests", "hidden-tests")]
    return nb, tests_idx


def _cell_raised(cell: Any) -> str | None:
    for out in cell.get("outputs", []) or []:
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"[:500]
    return None


def judge_tests(
    executed: Any, tests_idx: list[int], expected: list[dict[str, Any]], run_error: str | None
) -> list[dict[str, Any]]:
    """Decide each expected test: passed only if its cell raised nothing and every record of it says passed.

    A test with no record (the cell never ran: timeout, dead child, a
    trainee's rebinding of ``test``) is failed. Stderr output is ignored.
    """
    recs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    raised: dict[tuple[str, str], str] = {}
    for i in tests_idx:
        cell = executed.cells[i] if i < len(executed.cells) else None
        if cell is None:
            continue
        err = _cell_raised(cell)
        for out in cell.get("outputs", []) or []:
            rec = (out.get("data") or {}).get(TEST_MIME)
            if isinstance(rec, str):
                try:
                    rec = json.loads(rec)
                except ValueError:
                    continue
            if isinstance(rec, dict) and "question" in rec and "name" in rec:
                k = (rec["question"], rec["name"])
                recs.setdefault(k, []).append(rec)
                if err:
                    raised[k] = err
    out = []
    for t in expected:
        k = (t["question"], t["name"])
        rs = recs.get(k, [])
        passed = bool(rs) and all(r.get("passed") is True for r in rs) and k not in raised
        if passed:
            msg = ""
        elif not rs:
            msg = f"did not run ({run_error})" if run_error else "did not run"
        elif k in raised:
            msg = f"the tests cell raised {raised[k]}"
        else:
            msg = next((str(r.get("message") or "") for r in rs if r.get("passed") is not True), "")
        pts = float(t.get("points", 1) or 0)
        out.append(
            {
                "question": t["question"],
                "name": t["name"],
                "hidden": bool(t.get("hidden")),
                "passed": passed,
                "points": pts if passed else 0.0,
                "max_points": pts,
                "message": msg[:2000],
            }
        )
    return out


# ================================================================ grade


def _late(course: Course, cohort: str, session: str, received: datetime) -> tuple[int, float]:
    s = course.cohort(cohort).session(session)
    if s.due is None:
        return 0, 0.0
    due = s.due
    if due.tzinfo is None:
        due = due.replace(tzinfo=_course_tz(course))
    late = to_utc_naive(received) - to_utc_naive(due)
    if late <= timedelta(0):
        return 0, 0.0
    days = math.ceil(late / timedelta(days=1))
    g = course.config.grading
    return days, round(min(g.late_penalty_cap, days * g.late_penalty_per_day), 6)


def _course_tz(course: Course) -> ZoneInfo:
    # a due time without zone is the course's local time; Chinese courses default to Beijing time
    name = course.config.grading.timezone or ("Asia/Shanghai" if course.language == "zh" else "UTC")
    return ZoneInfo(name)


@dataclass
class _Job:
    sub_id: int
    label: str
    path: Path
    session: str
    trainee: str
    received: datetime
    fingerprint: str


def _grade_one(
    course: Course, cohort: str, job: _Job, keys: SessionKeys, run_opts: dict[str, Any]
) -> dict[str, Any]:
    """Grade one submission; return the gradebook payload. Raises only on a bug in the grader."""
    answers_doc = {}
    apath = job.path / "answers.json"
    if apath.exists():
        try:
            answers_doc = json.loads(apath.read_text("utf-8"))
        except ValueError:
            return _failed(job, keys, "answers.json is not valid JSON")
    answers = answers_doc.get("answers") or {} if isinstance(answers_doc, dict) else {}
    if not isinstance(answers, dict):
        return _failed(job, keys, "answers.json has no answers object")
    submitted = None
    npath = job.path / "workbook.ipynb"
    if npath.exists():
        try:
            submitted = nbformat.reads(npath.read_text("utf-8"), as_version=4)
        except Exception as e:  # noqa: BLE001 - any unreadable notebook is a cause, not a crash
            if not answers:
                return _failed(job, keys, f"workbook.ipynb cannot be read: {e}")
    if submitted is None and not answers:
        return _failed(job, keys, "neither answers nor a readable workbook")

    flags = tamper_flags(submitted, keys, answers)
    results: list[dict[str, Any]] = []
    code_qs = [q for q, s in keys.questions.items() if s.get("kind") == "code"]
    code = {q: _trainee_code(q, answers, submitted) for q in code_qs}
    tests: list[dict[str, Any]] = []
    seconds = 0.0
    run_error = None
    if code_qs:
        answered = {q: c for q, c in code.items() if not _code_is_stub(c, q)}
        expected = [t for t in keys.tests if t["question"] in code_qs]
        if answered:
            nb, tests_idx = build_grading_notebook(keys, answered)
            executed, run_error, seconds = _execute(course, cohort, job.session, nb, run_opts, keys)
            tests = judge_tests(executed, tests_idx, expected, run_error)
            # a question nobody answered gets no credit even if its tests happen to pass
            for t in tests:
                if t["question"] not in answered:
                    t.update(passed=False, points=0.0, message="unanswered")
        else:
            tests = judge_tests(nbformat.v4.new_notebook(), [], expected, None)
            for t in tests:
                t["message"] = "unanswered"

    for pos, (qid, spec) in enumerate(keys.questions.items()):
        kind = spec.get("kind", "")
        entry = answers.get(qid)
        value = _answer_value(entry)
        base = {
            "question": qid,
            "position": pos,
            "kind": kind,
            "unit": spec.get("unit") or "",
            "prompt": str(spec.get("prompt", ""))[:5000],
        }
        if kind == "code":
            q_tests = [t for t in tests if t["question"] == qid]
            total = sum(t["max_points"] for t in q_tests)
            got = sum(t["points"] for t in q_tests)
            qmax = float(spec.get("points", total) or 0)
            pts = round(qmax * got / total, 6) if total else 0.0
            if _code_is_stub(code[qid], qid):
                status, detail = "unanswered", ""
            elif total and got == total:
                status, detail = "correct", ""
            else:
                status = "partial" if got > 0 else "wrong"
                failed = [t for t in q_tests if not t["passed"] and not t["hidden"]]
                detail = "; ".join(f"{t['name']}: {t['message']}" for t in failed)[:2000]
                if run_error:
                    detail = (f"{run_error}; " + detail).strip("; ")
            results.append(
                {**base, "answer": json.dumps(code[qid]), "points": pts, "max_points": qmax,
                 "status": status, "detail": detail, "manual": False}
            )  # fmt: skip
            continue
        manual = kind in MANUAL_KINDS
        if kind in UNGRADED_KINDS:
            sc = _Score(0.0, 0.0, "answered" if not _is_empty(value) else "unanswered")
        elif manual:
            mx = float(
                spec.get("points")
                or sum(float(r.get("points", 0)) for r in spec.get("rubric") or [])
            )
            sc = _Score(0.0, mx, NEEDS_MARKING if not _is_empty(value) else "unanswered")
            if _is_empty(value):
                manual = False  # nothing to mark: an empty essay scores 0 without a marker
        else:
            try:
                sc = _score_widget(spec, keys.keys.get(qid), value)
            except Exception as e:  # noqa: BLE001 - a scoring error costs this question only
                sc = _Score(0.0, float(spec.get("points", 1) or 0), "error", f"cannot score: {e}")
        results.append(
            {**base, "answer": json.dumps(value, ensure_ascii=False, default=str),
             "points": sc.points, "max_points": sc.max_points, "status": sc.status,
             "detail": sc.detail[:2000], "manual": manual and sc.max_points > 0}
        )  # fmt: skip
    days, penalty = _late(course, cohort, job.session, job.received)
    open_items = any(r["manual"] for r in results)
    grade = {
        "status": NEEDS_MARKING if open_items else GRADED,
        "cause": "",
        "auto_points": round(sum(r["points"] for r in results), 6),
        "max_points": round(sum(r["max_points"] for r in results), 6),
        "days_late": days,
        "penalty": penalty,
        "fingerprint": job.fingerprint,
        "seconds": round(seconds, 3),
    }
    return {"grade": grade, "results": results, "tests": tests, "flags": flags}


def _failed(job: _Job, keys: SessionKeys, cause: str) -> dict[str, Any]:
    mx = sum(float(s.get("points", 0) or 0) for s in keys.questions.values())
    grade = {
        "status": FAILED,
        "cause": cause,
        "auto_points": 0.0,
        "max_points": mx,
        "days_late": 0,
        "penalty": 0.0,
        "fingerprint": job.fingerprint,
        "seconds": 0.0,
    }
    return {"grade": grade, "results": [], "tests": [], "flags": []}


def _execute(
    course: Course, cohort: str, session: str, nb: Any, opts: dict[str, Any], keys: SessionKeys
) -> tuple[Any, str | None, float]:
    """Run a grading notebook; return (executed notebook, run-level error or None, seconds)."""
    from kit import execute

    params = keys.parameters or course.session_parameters(cohort, session)
    src = course.root / course.cohort(cohort).session(session).notebook
    # On a cluster the scratch folder must be where the workers can see it: the
    # course folder, which a multi-machine cluster has to share anyway.
    scratch = course.build_dir / cohort / ".scratch" if opts.get("cluster") else None
    if scratch:
        scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="casekit-grade-", dir=scratch) as tmp:
        # the trainee's code runs in a scratch folder: whatever it writes is thrown away
        cwd = Path(tmp)
        # data files beside the source notebook are reachable (read through links)
        for p in src.parent.iterdir() if src.parent.exists() else []:
            if not p.name.startswith(".") and p.suffix != ".ipynb":
                try:
                    (cwd / p.name).symlink_to(p, target_is_directory=p.is_dir())
                except OSError:
                    pass
        job = execute.Job(
            name=session,
            nb=nb,
            parameters=params,
            cwd=cwd,
            cell_timeout=opts["cell_timeout"],
            notebook_timeout=opts["notebook_timeout"],
            memory_mb=opts["memory_mb"],
            env={"CASEKIT_MODE": "grade"},
            mode="grade",
            stop_on_error=False,
        )
        if opts.get("cluster"):
            ex = execute.run_many([job], progress=False, cluster=opts["cluster"])[0]
        else:
            ex = execute.run_notebook(job.nb, job.parameters, **job.kwargs())
    run_error = None
    failure = getattr(ex, "failure", None)
    if failure:
        run_error = str(getattr(failure, "cause", failure))
    elif getattr(ex, "error", None) is not None and _is_fatal(ex.error):
        run_error = _describe(ex.error)
    executed = ex.nb if getattr(ex, "nb", None) is not None else nb
    return executed, run_error, float(getattr(ex, "seconds", 0.0) or 0.0)


def _describe(err: Any) -> str:
    for attr in ("cause", "message", "ename"):
        v = getattr(err, attr, None)
        if v:
            extra = getattr(err, "evalue", "")
            return f"{v}: {extra}" if extra and attr == "ename" else str(v)
    return str(err)


def _is_fatal(err: Any) -> bool:
    text = " ".join(str(getattr(err, a, "")) for a in ("ename", "kind", "cause", "message")).lower()
    return any(
        w in text for w in ("timeout", "timed out", "died", "dead", "killed", "memory", "crash")
    )


def grade(
    course: Course | Path | str,
    cohort: str,
    session: str | None = None,
    *,
    db: str | None = None,
    workers: int | None = None,
    force: bool = False,
    progress: bool = True,
    cluster: str | None = None,
) -> GradeResult:
    """Score every current submission of a cohort (or one session) into the gradebook.

    Widget answers are scored without a kernel; code answers run in the
    instructor edition with the author's tests, isolated and time- and
    memory-bound. Each submission is written in its own transaction; one that
    is already graded with the same inputs (submission, keys, instructor
    edition, grader version) is skipped, so a rerun after a crash resumes and
    a full rerun changes nothing. ``force`` regrades everything.
    """
    c = _course(course)
    co = c.cohort(cohort)
    res = GradeResult()
    sessions = [co.session(session).session] if session else [s.session for s in co.sessions]
    g = c.config.grading
    run_opts = {
        "cell_timeout": g.cell_timeout,
        "notebook_timeout": g.notebook_timeout,
        "memory_mb": c.config.defaults.memory_mb,
        "cluster": cluster,
    }
    policy = f"{g.late_penalty_per_day}:{g.late_penalty_cap}:{_course_tz(c)}"
    with Gradebook.open(c.root, db) as gb:
        index_store(c, cohort, gb=gb)
        run = gb.start_run(cohort, session)
        jobs: list[tuple[_Job, SessionKeys]] = []
        keys_by_session: dict[str, SessionKeys | CourseError] = {}
        for sub in gb.current_submissions(cohort, session):
            if sub.session not in sessions:
                continue
            label = f"{sub.trainee}/{sub.session}"
            if sub.session not in keys_by_session:
                try:
                    keys_by_session[sub.session] = load_keys(c, cohort, sub.session)
                except (CourseError, ValueError, OSError) as e:
                    keys_by_session[sub.session] = (
                        e
                        if isinstance(e, CourseError)
                        else _error(c.build_dir / cohort / "instructor", f"cannot read keys: {e}")
                    )
            keys = keys_by_session[sub.session]
            if isinstance(keys, CourseError):
                res.failures.append(Failure(label, str(keys)))
                continue
            due = co.session(sub.session).due
            fp = hashlib.sha256(
                f"{GRADER_VERSION}|{sub.sha256}|{keys.fingerprint}|{policy}|{due}|{sub.received_at}".encode()
            ).hexdigest()
            old = gb.grade_row(sub.id)
            if old is not None and old.fingerprint == fp and old.status != FAILED and not force:
                res.skipped.append(label)
                res.statuses[label] = old.status
                continue
            job = _Job(
                sub.id, label, c.root / sub.path, sub.session, sub.trainee, sub.received_at, fp
            )
            jobs.append((job, keys))

        n_workers = workers or max(1, min(4, os.cpu_count() or 1))
        bar = _progress(progress, len(jobs))
        with bar as p, ThreadPoolExecutor(max_workers=n_workers) as pool:
            task = p.add_task(f"grading {cohort}", total=len(jobs)) if p else None
            futs = {
                pool.submit(_grade_one, c, cohort, job, keys, run_opts): (job, keys)
                for job, keys in jobs
            }
            for fut in as_completed(futs):
                job, keys = futs[fut]
                try:
                    payload = fut.result()
                except Exception as e:  # noqa: BLE001 - one submission never sinks the batch
                    payload = _failed(job, keys, f"grader error: {type(e).__name__}: {e}")
                try:
                    gb.write_grading(job.sub_id, **payload)
                except Exception as e:  # noqa: BLE001
                    res.failures.append(Failure(job.label, f"cannot write to the gradebook: {e}"))
                    continue
                status = payload["grade"]["status"]
                res.statuses[job.label] = status
                if status == FAILED:
                    res.failures.append(
                        Failure(job.label, payload["grade"]["cause"], str(job.path))
                    )
                else:
                    res.graded.append(job.label)
                if p:
                    p.advance(task)
        gb.finish_run(
            run, graded=len(res.graded), skipped=len(res.skipped), failed=len(res.failures)
        )
    return res


class _NoProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: Any) -> None:
        return None


def _progress(show: bool, total: int) -> Any:
    if not show or total == 0:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )


# ================================================================ feedback


_FEEDBACK_CSS = """
section.q{border:1px solid #ddd;border-left:.3rem solid var(--unit, #444);padding:.6rem 1rem;margin:1rem 0;break-inside:avoid}
.pts{float:right;font-weight:bold}.answer{white-space:pre-wrap;background:#f7f7f7;padding:.5rem;border-radius:4px}
.kind{color:#6a737d;font-weight:normal;font-size:.8rem}.prompt{margin:.3rem 0 .6rem}
pre.answer{overflow-x:auto}.pass{color:#2e7d32}.fail{color:#c62828}.comment{font-style:italic}.total{font-size:1.2rem}
"""

_FALLBACK_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.6}
header{border-bottom:.4rem solid var(--unit);margin-bottom:1.5rem}
h1{font-size:1.5rem;margin:.2rem 0}.meta{color:#555;font-size:.9rem}
section.q{border:1px solid #ddd;border-left:.3rem solid var(--unit);padding:.6rem 1rem;margin:1rem 0;break-inside:avoid}
.pts{float:right;font-weight:bold}.answer{white-space:pre-wrap;background:#f7f7f7;padding:.5rem;border-radius:4px}
pre.answer{font-family:"Noto Sans Mono CJK SC",monospace;overflow-x:auto}
.pass{color:#2e7d32}.fail{color:#c62828}.comment{font-style:italic}.total{font-size:1.2rem}
@media print{body{margin:0;max-width:none}}
"""


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _answer_html(kind: str, raw: str) -> str:
    """The trainee's answer as safe HTML: always escaped text, never markup."""
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if _is_empty(value):
        return '<p class="answer"><em>—</em></p>'
    if kind == "code":
        return f'<pre class="answer">{_esc(value)}</pre>'
    if isinstance(value, dict):
        rows = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in value.items())
        return f'<dl class="answer">{rows}</dl>'
    if isinstance(value, list):
        return '<p class="answer">' + _esc("；".join(str(v) for v in value)) + "</p>"
    return f'<p class="answer">{_esc(value)}</p>'


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def feedback_html(
    course: Course,
    cohort: str,
    session: str,
    trainee: str,
    score: dict[str, Any],
    questions: list[dict[str, Any]],
    tests: list[dict[str, Any]],
    marks: list[dict[str, Any]],
) -> str:
    """One trainee's graded feedback page. Hidden tests are never passed in, and every trainee text is escaped."""
    import nh3

    zh = course.language == "zh"
    co = course.cohort(cohort)
    s = co.session(session)
    unit = course.units.get(s.unit)
    name = co.roster.loc[trainee, "name"] if trainee in co.roster.index else trainee
    L = lambda z, e: z if zh else e  # noqa: E731
    body: list[str] = []
    from kit.locale import t as say

    for n, q in enumerate(questions, 1):
        qid = q["question"]
        body.append(f'<section class="q" id="q-{_esc(qid)}">')
        # Trainees know a question by its place and kind; the id is for the teacher.
        heading = L(f"第{n}题", f"Question {n}")
        kind = say(f"kind_{q['kind']}", course.language)
        body.append(
            f'<span class="pts">{_fmt(q["points"])} / {_fmt(q["max_points"])}</span>'
            f'<h2>{_esc(heading)} <small class="kind">{_esc(kind)} · {_esc(qid)}</small></h2>'
        )
        # prompts come from the author; still cleaned, since they may carry HTML
        body.append(f'<div class="prompt">{nh3.clean(str(q.get("prompt") or ""))}</div>')
        body.append(_answer_html(q["kind"], q["answer"]))
        if q["status"] in ("needs-marking",):
            body.append(f"<p><em>{L('待批阅', 'awaiting marking')}</em></p>")
        elif q.get("detail") and q["kind"] not in ("code",):
            body.append(f'<p class="detail">{_esc(q["detail"])}</p>')
        qt = [t for t in tests if t["question"] == qid and not t["hidden"]]
        if qt:
            body.append('<ul class="tests">')
            for t in qt:
                cls, mark = ("pass", "✓") if t["passed"] else ("fail", "✗")
                why = L("未作答", "not answered") if t["message"] == "unanswered" else t["message"]
                msg = "" if t["passed"] else f" — {_esc(why)}"
                body.append(
                    f'<li class="{cls}">{mark} {_esc(t["name"])} ({_fmt(t["points"])}/{_fmt(t["max_points"])}){msg}</li>'
                )
            body.append("</ul>")
        qm = [m for m in marks if m["question"] == qid]
        crit = [m for m in qm if m["criterion"]]
        if crit:
            body.append('<ul class="rubric">')
            for m in crit:
                # -- partial rubric points (#12): points of the criterion's maximum
                full = m.get("max_points")
                if full != full or not full:  # NaN or unknown: the points alone
                    tick, shown = ("☑" if m["checked"] else "☐"), _fmt(m["points"])
                else:
                    part = "◐" if m["points"] > 0 else "☐"
                    tick = "☑" if m["points"] >= full else part
                    shown = f"{_fmt(m['points'])} / {_fmt(full)}"
                body.append(f"<li>{tick} {_esc(m['criterion'])} ({shown})</li>")
            body.append("</ul>")
        for m in qm:
            if m["comment"]:
                body.append(f'<p class="comment">{_esc(m["comment"])}</p>')
        body.append("</section>")
    pen = ""
    if score.get("penalty"):
        pen = L(
            f"（迟交 {score['days_late']} 天，扣 {score['penalty'] * 100:.0f}%）",
            f" (late {score['days_late']} day(s), −{score['penalty'] * 100:.0f}%)",
        )
    total = (
        f'<p class="total">{L("总分", "Total")}: <strong>{_fmt(score["points"])}</strong>'
        f" / {_fmt(score['max_points'])}{_esc(pen)}</p>"
    )
    content = total + "\n".join(body)
    title = f"{L('成绩反馈', 'Feedback')} · {session} · {name}"
    shell = _export_shell()
    if shell is not None:
        from kit import export

        rows, _ = export.session_meta(course, cohort, session)
        rows = [*rows, (L("学员", "Trainee"), str(name))]
        return shell(
            title,
            content,
            colour=unit.colour if unit else "#444444",
            programme=course.config.programme.name,
            unit_name=unit.name if unit else "",
            meta=rows,
            language=course.language,
            extra_css=_FEEDBACK_CSS,
        )
    colour = unit.colour if unit else "#555"
    header = (
        f'<header><div class="meta">{_esc(co.name)} · {_esc(s.date.isoformat())} · '
        f"{_esc(s.teacher)}{(' · ' + _esc(s.site)) if s.site else ''}</div>"
        f"<h1>{_esc(title)}</h1></header>"
    )
    return (
        f'<!DOCTYPE html><html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title>"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<style>:root{{--unit:{colour}}}{_FALLBACK_CSS}</style></head><body>{header}{content}</body></html>"
    )


def _export_shell() -> Any:
    """kit.export's shared page shell (``page``), or None to use the minimal page here."""
    try:
        from kit import export
    except ImportError:
        return None
    fn = getattr(export, "page", None)
    return fn if callable(fn) and hasattr(export, "session_meta") else None


def feedback(
    course: Course | Path | str, cohort: str, *, db: str | None = None, session: str | None = None
) -> FeedbackResult:
    """Write ``build/<cohort>/feedback/<trainee>/<session>.html`` for every graded current submission."""
    c = _course(course)
    c.cohort(cohort)  # an unknown cohort is an error, not "0 pages"
    res = FeedbackResult()
    with Gradebook.open(c.root, db) as gb:
        scores = gb.submission_scores(cohort, session)
        qs = gb.question_scores(cohort, session)
        # hidden tests are dropped here, before anything reaches a page
        ts = gb.tests(cohort, session)
        ts = ts[~ts["hidden"].astype(bool)] if not ts.empty else ts
        marks = gb.marks(cohort, session)
    from kit.markbook import with_criterion_max  # partial rubric points (#12)

    marks = with_criterion_max(c, cohort, marks)
    for row in scores.to_dict("records"):
        t, s = row["trainee"], row["session"]
        out = c.build_dir / cohort / "feedback" / t / f"{s}.html"
        try:
            page = feedback_html(
                c,
                cohort,
                s,
                t,
                row,
                qs[qs["submission_id"] == row["submission_id"]].to_dict("records"),
                ts[ts["submission_id"] == row["submission_id"]].to_dict("records")
                if not ts.empty
                else [],
                marks[(marks["trainee"] == t) & (marks["session"] == s)].to_dict("records"),
            )
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(".html.tmp")
            tmp.write_text(page, "utf-8")
            os.replace(tmp, out)
            res.written.append(out)
        except Exception as e:  # noqa: BLE001 - one page never sinks the batch
            res.failures.append(Failure(f"{t}/{s}", f"{type(e).__name__}: {e}", str(out)))
    return res


# ================================================================ grades export


def grades_table(course: Course | Path | str, cohort: str, *, db: str | None = None) -> Any:
    """One row per trainee: points per session, per-unit subtotals, total, max and open items."""
    import pandas as pd

    c = _course(course)
    co = c.cohort(cohort)
    with Gradebook.open(c.root, db) as gb:
        scores = gb.submission_scores(cohort)
        units = gb.per_unit(cohort)
    roster = co.roster.reset_index()[["id", "name", "group"]].rename(columns={"id": "trainee"})
    table = roster.copy()
    for s in co.sessions:
        col = scores[scores["session"] == s.session].set_index("trainee")
        table[s.session] = table["trainee"].map(col["points"]).astype(float)
        table[f"{s.session} status"] = table["trainee"].map(col["status"]).fillna("missing")
    for u in c.config.units:
        uu = (
            units[units["unit"] == u.id].set_index("trainee") if not units.empty else pd.DataFrame()
        )
        pts = (
            table["trainee"].map(uu["points"])
            if not uu.empty
            else pd.Series(0.0, index=table.index)
        )
        mx = (
            table["trainee"].map(uu["max_points"])
            if not uu.empty
            else pd.Series(0.0, index=table.index)
        )
        if mx.fillna(0).sum() > 0:
            table[f"unit {u.id}"] = pts.fillna(0.0).round(4)
            table[f"unit {u.id} max"] = mx.fillna(0.0)
    by_t = scores.groupby("trainee").agg(
        total=("points", "sum"), max=("max_points", "sum"), open_items=("open_items", "sum")
    )
    table["total"] = table["trainee"].map(by_t["total"]).fillna(0.0).round(4)
    table["max"] = table["trainee"].map(by_t["max"]).fillna(0.0)
    table["open items"] = table["trainee"].map(by_t["open_items"]).fillna(0).astype(int)
    return table


def grades(
    course: Course | Path | str, cohort: str, to: Path | str, *, db: str | None = None
) -> GradesResult:
    """Export the gradebook to CSV or XLSX (by ``to``'s suffix) with per-unit subtotals."""
    c = _course(course)
    to = Path(to)
    table = grades_table(c, cohort, db=db)
    to.parent.mkdir(parents=True, exist_ok=True)
    if to.suffix.lower() == ".xlsx":
        with Gradebook.open(c.root, db) as gb:
            qs = gb.question_scores(cohort)
            marks = gb.marks(cohort)
        qs = qs.drop(columns=["answer", "prompt", "submission_id"], errors="ignore")
        import pandas as pd

        from kit.markbook import with_criterion_max  # partial rubric points (#12)

        rubric = with_criterion_max(c, cohort, marks[marks["criterion"] != ""])
        rubric = rubric[["session", "trainee", "question", "criterion", "points", "max_points",
                         "marker", "source"]]  # fmt: skip
        with pd.ExcelWriter(to, engine="openpyxl") as xw:
            table.to_excel(xw, sheet_name="grades", index=False)
            qs.to_excel(xw, sheet_name="questions", index=False)
            rubric.to_excel(xw, sheet_name="rubric", index=False)
    elif to.suffix.lower() == ".csv":
        # utf-8-sig so that Excel opens Chinese names correctly
        table.to_csv(to, index=False, encoding="utf-8-sig")
    else:
        raise _error(to, "unknown export format", "use a .csv or .xlsx file name")
    return GradesResult(written=[to])
