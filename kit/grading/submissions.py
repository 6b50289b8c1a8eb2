"""``collect``: submissions into the append-only store, through one set of archive checks.

Submission store (append-only, never overwritten; layout in :mod:`kit.artifacts`)::

    <course>/submissions/<cohort>/<trainee>/<session>/<stamp>-<sha8>/
        workbook.ipynb  answers.json  receipt.json  (and any uploaded files)

The store is the truth; the gradebook's ``submissions`` table indexes it and is
rebuilt from it by :func:`index_store` when needed. Trainee file names, sizes
and link targets are untrusted: an archive is checked member by member and
read into memory, so nothing is ever written outside the store.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from kit import access, artifacts
from kit.course import Course, as_course
from kit.exchange.clients import MAX_HANDIN_BYTES
from kit.exchange.trust import IDENTITY_SHARED, IDENTITY_TOKEN, course_secret
from kit.exchange.trust import read_json as _read_json_bytes
from kit.exchange.trust import verify as verify_handin
from kit.gradebook import Gradebook, Submission, utcnow
from kit.gradebook.batch import add_submissions
from kit.grading import intake
from kit.messages import t as say
from kit.problems import CourseError, Failure, Outcome
from kit.untrusted import printable

if TYPE_CHECKING:  # kit.importers imports the grading side: only its type here
    from kit.importers import HandInTime

#: what collect creates in the course folder, owner-only (kit.access)
STORE = ("submissions", "quarantine", "gradebook.sqlite")
# Archive limits: generous for notebooks plus an uploaded report each, small
# enough that a zip bomb cannot fill the disk.
MAX_ARCHIVE_FILES = 5000
MAX_ARCHIVE_BYTES = 500 * 1024 * 1024
#: What `submit` takes whole (kit.exchange.clients) is readable here whole: a hand-in the
#: exchange accepted is never skipped for its size.
MAX_MEMBER_BYTES = MAX_HANDIN_BYTES


@dataclass
class CollectResult(Outcome):
    """What ``collect`` did: new submissions stored, duplicates, unknown trainees, problems."""

    duplicates: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    #: hand-ins not filed under anybody: impersonation, a forged or missing release token
    refused: list[str] = field(default_factory=list)
    #: other tools' notebooks whose own checks fail (nbgrader's checksums): stored, and said
    flagged: list[str] = field(default_factory=list)
    #: "<row>: <time> — <where the time came from>" for every hand-in timed by ``times``
    times: list[str] = field(default_factory=list)


# ================================================================ safe archives


def _member_problem(name: str) -> str | None:
    """Why an archive member name is unsafe, or None."""
    if "\0" in name:
        return say("collect.nul")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return say("collect.absolute")
    if any(part == ".." for part in norm.split("/")):
        return say("collect.climbs")
    return None


def _archive_members(path: Path) -> list[tuple[str, int, Any]]:
    """List (name, size, handle) of regular files after checking every member; raise on any unsafe one."""

    def refuse(member: str, why: str) -> CourseError:
        return CourseError.at(
            path,
            say("collect.refused", member=member, why=why),
            say("collect.refused_fix"),
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

        entries: list[tuple[str, str, int, str, Any]] = [
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
        raise CourseError.at(path, say("collect.not_archive"), say("collect.not_archive_fix"))
    if len(entries) > MAX_ARCHIVE_FILES:
        raise refuse(entries[MAX_ARCHIVE_FILES][0], say("collect.too_many", n=MAX_ARCHIVE_FILES))
    out: list[tuple[str, int, Any]] = []
    total = 0
    for name, kind, size, link, handle in entries:
        why = _member_problem(name)
        if why:
            raise refuse(name, why)
        target = say("collect.link_target", link=link) if link else ""
        if kind == "symlink":
            raise refuse(name, say("collect.symlink", target=target))
        if kind == "hardlink":
            raise refuse(name, say("collect.hardlink", target=target))
        if kind == "other":
            raise refuse(name, say("collect.special"))
        if kind == "dir":
            continue
        if size > MAX_MEMBER_BYTES:
            raise refuse(name, say("collect.member_too_big", n=MAX_MEMBER_BYTES))
        total += size
        if total > MAX_ARCHIVE_BYTES:
            raise refuse(name, say("collect.archive_too_big", n=MAX_ARCHIVE_BYTES))
        out.append((name, size, handle))
    return out


def _read_member(handle: Any, limit: int) -> bytes:
    """Read a member, enforcing the declared size (a lying header must not inflate past the limit)."""
    arch, info = handle
    f = arch.open(info) if isinstance(arch, zipfile.ZipFile) else arch.extractfile(info)
    with f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(say("collect.lying_size"))
    return data


def _load_archive(path: Path) -> dict[str, bytes]:
    """Read an archive into memory: {member name: bytes} (grouped by ``_group_submissions``).

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
            raise CourseError.at(
                path, say("collect.unreadable_member", member=name, error=e)
            ) from e
    return files


@dataclass
class _Tree:
    """A folder read for collect: its files, what was skipped, what could not be read, who wrote each."""

    files: dict[str, bytes] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # links, special files
    #: regular files too big to read or hard-linked: their hand-in is quarantined whole
    unread: dict[str, str] = field(default_factory=dict)
    owners: dict[str, int] = field(default_factory=dict)  # uid of each file


def _load_folder(path: Path) -> _Tree:
    """Read a folder's regular files, within the archives' limits, with each file's owner.

    Links and special files are skipped (never followed); a file over
    ``MAX_MEMBER_BYTES`` (its size is read before its content) or with another
    name elsewhere (a hard link: its owner says nothing of who handed it in) is
    not read and makes its hand-in quarantined; more than ``MAX_ARCHIVE_FILES``
    files or ``MAX_ARCHIVE_BYTES`` bytes refuses the folder whole, naming the
    file that crossed the limit.
    """
    tree = _Tree()
    files, skipped = tree.files, tree.skipped
    total = 0

    def refuse(rel: str, why: str) -> CourseError:
        return CourseError.at(path, say("collect.folder_refused", member=rel, why=why))

    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames.sort()
        for d in list(dirnames):
            if (Path(dirpath) / d).is_symlink():
                skipped.append(
                    (str(Path(dirpath, d).relative_to(path)), say("collect.skipped_link"))
                )
                dirnames.remove(d)
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            rel = p.relative_to(path).as_posix()
            if p.is_symlink() or not p.is_file():
                skipped.append((rel, say("collect.skipped_link")))
                continue
            if fn.startswith(".") or "/." in "/" + rel:
                continue  # .ipynb_checkpoints and the like
            st = p.stat()
            size = st.st_size
            if size > MAX_MEMBER_BYTES:
                tree.unread[rel] = say("collect.member_too_big", n=MAX_MEMBER_BYTES)
                continue
            if st.st_nlink > 1:
                tree.unread[rel] = say("collect.hard_linked")
                continue
            tree.owners[rel] = st.st_uid
            total += size
            if len(files) >= MAX_ARCHIVE_FILES:
                raise refuse(rel, say("collect.too_many", n=MAX_ARCHIVE_FILES))
            if total > MAX_ARCHIVE_BYTES:
                raise refuse(rel, say("collect.folder_too_big", n=MAX_ARCHIVE_BYTES))
            with p.open("rb") as fh:
                data = fh.read(MAX_MEMBER_BYTES + 1)  # a file growing while read stays bounded
            if len(data) > MAX_MEMBER_BYTES:
                tree.unread[rel] = say("collect.member_too_big", n=MAX_MEMBER_BYTES)
                continue
            files[rel] = data
    return tree


def _load_service(url: str, cohort: str, token: str | None) -> dict[str, bytes]:
    """Every hand-in of `cohort` on a hub's exchange service, as the inbox's file tree."""
    from kit.exchange.clients import ExchangeError, HubExchange, check_rel

    token = token or os.environ.get("CASEKIT_HUB_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN")
    if not token:
        hub = url.split("/services/", 1)[0].rstrip("/")
        raise CourseError.at(url, say("collect.no_token"), say("collect.no_token_fix", hub=hub))
    exchange = HubExchange(url, token)
    files: dict[str, bytes] = {}
    try:
        for handin in exchange.handins(cohort):
            where = check_rel(handin)  # "<trainee>/<session>/<folder>", as in the inbox
            for name, data in exchange.fetch(cohort, handin).items():
                files[f"{where}/{name}"] = data
    except ExchangeError as exc:
        raise CourseError.at(url, str(exc), say("collect.service_fix")) from None
    return files


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
        names = ", ".join(sorted(claims["trainee"]))
        return None, session, say("collect.several_trainees", names=names)
    if len(claims["session"]) > 1:
        names = ", ".join(sorted(claims["session"]))
        return trainee, None, say("collect.several_sessions", names=names)
    if trainee is None:
        return None, session, say("collect.no_trainee")
    if session is None:
        return trainee, None, say("collect.no_session")
    if trainee not in roster:
        return trainee, session, say("collect.unknown_trainee", trainee=trainee)
    if session not in sessions:
        return trainee, session, say("collect.unknown_session", session=session)
    # a path naming another trainee is impersonation: `collect` refuses it (kit.exchange.trust)
    return trainee, session, ""


def collect(
    course: Course | Path | str,
    cohort: str,
    *,
    source: Path | str | None = None,
    db: str | None = None,
    token: str | None = None,
    times: str = "arrival",
    identity: str | None = None,
) -> CollectResult:
    """Take submissions into the append-only store and index them in the gradebook.

    ``source`` is the cohort's exchange inbox by default, or a folder, or a
    zip/tar archive, or the address of a hub's exchange service
    (``https://HUB/services/casekit-exchange/``), read with an instructor's hub
    API `token` (default ``$CASEKIT_HUB_TOKEN``, else ``$JUPYTERHUB_API_TOKEN``,
    which an instructor's own server holds); its receipts and release tokens
    are checked with this course's secret, so a copy of the course needs the
    hub's ``.casekit/secret``. Archives are checked member by member before anything is
    read (absolute paths, ``..``, links, devices, size and count limits) and a
    bad one is refused whole, naming the member. Submissions whose trainee or
    session cannot be told for sure are reported in ``unknown``; identical
    content already stored is reported in ``duplicates``. ``times="nbgrader"``
    takes each nbgrader notebook's hand-in time from nbgrader's
    ``timestamp.txt`` (the instructor's explicit choice, listed in ``times``
    row by row); by default the time is the arrival. ``identity`` is how
    otter-grader notebooks, which do not say who wrote them, are told apart
    (``filename``, ``otter-metadata`` or a ``file,trainee`` CSV; see
    ``kit.importers.otter_submissions``); each such row names the rule.
    """
    c = as_course(course)
    co = c.cohort(cohort)
    res = CollectResult()
    if identity is not None:  # otter notebooks' identity rule, checked before reading
        from kit.importers.otter_submissions import IdentityRule

        IdentityRule.parse(identity, set(co.roster.index))
    tree, src_name, kind = _read_source(c, cohort, source, token, res)
    rule = intake.SOURCES[kind]
    # private by default: the store, the quarantine, the gradebook, the exchange (kit.access)
    access.protect_course(c, cohort, only=STORE)
    # files casekit would parse, read once within the caps: a bad one quarantines its hand-in
    bad = {**intake.screen(tree.files, MAX_MEMBER_BYTES), **tree.unread}
    readable = {n: b for n, b in tree.files.items() if n not in bad}
    files, chosen_times = _adopt(
        c, cohort, readable, res, src_name, times, str(source or src_name), identity
    )
    # adopted: another tool's notebook made into answers here (kit.importers), not handed in so
    adopted = {n for n in files if n.endswith("/" + artifacts.ANSWERS) and n not in tree.files}
    files.update({n: tree.files.get(n, b"") for n in bad})  # back, to be quarantined whole
    store = artifacts.store_dir(c, cohort)
    roster = set(co.roster.index)
    sessions = {s.session for s in co.sessions}
    # identity and time are checked against the course secret (kit.exchange.trust, #9.3/#11)
    secret = course_secret(c.root)
    arrival = datetime.now(UTC)
    # the hub's exchange service writes hand-ins as its own account: not a trainee's
    trusted = access.instructor_side(c.root, c.exchange_dir)
    from kit.importers import adopted_identity  # kit.importers imports the grading side

    with Gradebook.open(c.root, db) as gb:
        index_store(c, cohort, gb=gb)
        for where, sub_files in sorted(_group_submissions(files).items()):
            mine = f"{where}/{artifacts.ANSWERS}" in adopted  # answers our adopter wrote
            label = f"{src_name}/{where}"
            if mine and (said := adopted_identity(sub_files)):  # the instructor's rule (otter)
                label = f"{label} ({said})"
            hand_in = _HandIn(where, printable(label), sub_files, mine)
            try:
                _take(c, cohort, gb, res, hand_in, _Context(
                    roster, sessions, secret, arrival, store, rule,
                    intake.in_group(where, bad),
                    intake.writer_of(where, tree.owners, trusted) if rule.accounts else None,
                    chosen_times.get(where),
                ))  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - one hand-in never stops the cohort
                why = say("collect.unreadable_handin", error=f"{type(exc).__name__}: {exc}")
                _refuse(c, cohort, res, hand_in, printable(why)[:500])
    return res


def _read_source(
    c: Course, cohort: str, source: Path | str | None, token: str | None, res: CollectResult
) -> tuple[_Tree, str, str]:
    """The files of `source` (the inbox when None), its name, and its kind (a key of `intake.SOURCES`).

    A file of a folder that is not read (a link, a device) is a failure in `res`.
    """
    tree = _Tree()
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        tree.files = _load_service(source, cohort, token)
        return tree, "exchange", "service"
    src = Path(source) if source is not None else artifacts.inbox_dir(c.exchange_dir, cohort)
    if not src.exists():
        raise CourseError.at(src, say("collect.source_missing"), say("collect.source_missing_fix"))
    kind = "inbox" if source is None else "folder" if src.is_dir() else "archive"
    if src.is_dir():
        tree = _load_folder(src)
        for rel, why in tree.skipped:
            res.failures.append(Failure(printable(rel), why, str(src)))
    else:
        tree.files = _load_archive(src)
    return tree, src.name, kind


def _adopt(
    c: Course,
    cohort: str,
    files: dict[str, bytes],
    res: CollectResult,
    src_name: str,
    times: str,
    source: str,
    identity: str | None = None,
) -> tuple[dict[str, bytes], dict[str, HandInTime]]:
    """Other tools' submissions made casekit hand-ins (kit.importers), with the times chosen.

    A user error (``--times`` on a source without that tool's notebooks) stops the
    run; any other failure there is reported and the tree's own hand-ins go on.
    """
    # reach (#14): notebooks other tools' students handed in (nbgrader) become
    # casekit submission folders, answers by question id, before anything is stored
    from kit.importers import adopt_submissions

    try:
        adopted = adopt_submissions(c, cohort, files, times=times, source=source, identity=identity)
    except CourseError:
        raise
    except Exception as exc:  # noqa: BLE001 - the tree's own hand-ins are still collected
        res.failures.append(Failure(src_name, say("collect.adopt_failed", error=exc)))
        return dict(files), {}
    res.unknown += [printable(f"{src_name}/{u}") for u in adopted.unknown]
    res.flagged += [printable(f"{src_name}/{u}") for u in adopted.flagged]
    return adopted.files, adopted.times


@dataclass
class _HandIn:
    where: str
    label: str
    files: dict[str, bytes]
    adopted: bool


@dataclass
class _Context:
    """What collect knows once per run, for every hand-in."""

    roster: set[str]
    sessions: set[str]
    secret: bytes | None
    arrival: datetime
    store: Path
    rule: intake.Source
    bad: dict[str, str]  # this hand-in's files that cannot be read, and why
    writer: access.Writer | None
    #: the other tool's hand-in time the instructor chose (``collect --times``), if any
    chosen: HandInTime | None = None


def _refuse(c: Course, cohort: str, res: CollectResult, h: _HandIn, why: str) -> None:
    """Quarantine a hand-in with its cause and name it among the refused."""
    try:
        where = intake.quarantine(c, cohort, h.label, h.files, why)
    except Exception as exc:  # noqa: BLE001 - still refused and named; the source keeps it
        res.failures.append(Failure(h.label, say("collect.cannot_store", error=exc)))
        where = None
    res.refused.append(say("collect.refused_handin", label=h.label, why=why))
    if where is not None:
        res.refused[-1] += " " + say("collect.quarantined", path=where)


def _identified(
    c: Course, cohort: str, res: CollectResult, h: _HandIn, ctx: _Context
) -> tuple[str, str] | None:
    """The trainee and session of a hand-in whose files can be read; None when it cannot be taken.

    A hand-in with a bad file is refused, one that is nobody's is quarantined
    among the unknown, an empty one is a failure: each is reported in `res`.
    """
    if ctx.bad:
        name, why = sorted(ctx.bad.items())[0]
        _refuse(c, cohort, res, h, say("collect.bad_file", member=printable(name), why=why))
        return None
    trainee, session, problem = _identify(h.where, h.files, ctx.roster, ctx.sessions)
    if problem or trainee is None or session is None:
        res.unknown.append(printable(f"{h.label}: {problem}"))
        try:  # nobody's: kept apart with its cause, like a refused one
            where = intake.quarantine(c, cohort, h.label, h.files, problem)
            res.unknown[-1] += " " + say("collect.quarantined", path=where)
        except Exception:  # noqa: BLE001 - still named in the list; the source keeps it
            pass
        return None
    if "workbook.ipynb" not in h.files and "answers.json" not in h.files:
        res.failures.append(Failure(h.label, say("collect.empty")))
        return None
    return trainee, session


def _take(
    c: Course, cohort: str, gb: Gradebook, res: CollectResult, h: _HandIn, ctx: _Context
) -> None:
    """Identify, check and store one hand-in; refuse (quarantine) it when it cannot be taken."""
    who = _identified(c, cohort, res, h, ctx)
    if who is None:
        return
    trainee, session = who
    writer = ctx.writer
    if writer is not None and writer.mixed:
        _refuse(c, cohort, res, h, say("collect.mixed_accounts"))
        return
    by_path, _ = _path_ids(h.where, ctx.roster, ctx.sessions)
    channel = next(iter(by_path)) if len(by_path) == 1 else None
    verdict = verify_handin(
        h.files,
        secret=ctx.secret,
        cohort=cohort,
        trainee=trainee,
        session=session,
        channel=channel,
        account=writer.account if writer is not None else None,
        # a source the instructor chose vouches for hand-ins without a casekit workbook
        # filed under a trainee's folder, or another tool's; the inbox never does
        foreign=ctx.rule.chosen and (h.adopted or channel is not None),
    )
    if verdict.refused:
        _refuse(c, cohort, res, h, verdict.refused)
        return
    identity = verdict.identity
    if writer is not None and writer.shared and identity == IDENTITY_TOKEN:
        identity = IDENTITY_SHARED  # one account for everyone: only the token says who
        verdict.notes.append(say("trust.shared_account"))
    sha = artifacts.submission_digest(h.files)
    received = verdict.received_at or ctx.arrival
    chosen = ctx.chosen if verdict.received_at is None else None
    if chosen is not None:  # the instructor chose the other tool's time (--times)
        received = chosen.at or ctx.arrival
        verdict.time_source = chosen.source
    existing = gb.session.query(Submission).filter_by(
        cohort=cohort, session=session, trainee=trainee, sha256=sha
    )
    if existing.first() is not None:
        res.duplicates.append(
            say("collect.duplicate", label=h.label, trainee=trainee, session=session)
        )
        return
    dest = artifacts.submission_dir(c, cohort, trainee, session, received, sha)
    collected = {
        "received_at": received.isoformat(),
        "time_source": verdict.time_source,
        "identity": identity,
        "notes": verdict.notes,
    }
    try:
        _write_submission(dest, h.files, ctx.store, collected)
    except (OSError, ValueError) as e:
        res.failures.append(Failure(h.label, say("collect.cannot_store", error=e)))
        return
    gb.add_submission(
        cohort=cohort,
        session=session,
        trainee=trainee,
        sha256=sha,
        path=dest.relative_to(c.root).as_posix(),
        received_at=received,
        source=f"{h.label} ({identity})",
    )
    res.written.append(dest)
    if chosen is not None:  # every row timed by the instructor's choice says so
        res.times.append(f"{h.label}: {received.isoformat()} — {chosen.source}")


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
                raise ValueError(say("collect.outside_store", member=name))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        receipt = artifacts.Receipt.parse(files.get(artifacts.RECEIPT)) or artifacts.Receipt()
        receipt.collected_at = utcnow().isoformat() + "Z"
        # what the instructor side established; the only time `index_store` believes
        receipt.collected = collected or {}
        (tmp / artifacts.RECEIPT).write_bytes(receipt.to_bytes())
        os.rename(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def index_store(
    course: Course | Path | str,
    cohort: str,
    *,
    gb: Gradebook | None = None,
    db: str | None = None,
    session: str | None = None,
) -> int:
    """Make sure every submission folder of the store (of one session) is in the gradebook; return how many were added.

    The store is the truth: a gradebook lost or freshly pointed at PostgreSQL
    is rebuilt from it.
    """
    c = as_course(course)
    own = gb is None
    gb = gb or Gradebook.open(c.root, db)
    added = 0
    try:
        known = set(gb.session.scalars(select(Submission.path).where(Submission.cohort == cohort)))
        found = []
        store = artifacts.store_dir(c, cohort)
        base = store.relative_to(c.root).as_posix()
        for trainee, sess, name in artifacts.stored_names(c, cohort, session):
            rel = f"{base}/{trainee}/{sess}/{name}"
            if rel in known:
                continue
            d = store / trainee / sess / name
            files = _load_folder(d).files
            received = artifacts.received_time(files, d.name) or datetime.now(UTC)
            receipt = artifacts.Receipt.parse(files.get(artifacts.RECEIPT))
            vouched = ((receipt.collected if receipt else None) or {}).get("identity")
            found.append(
                {"session": sess, "trainee": trainee, "path": rel,
                 "source": f"store ({vouched})" if vouched else "store",
                 "sha256": artifacts.submission_digest(files), "received_at": received}
            )  # fmt: skip
        # one transaction per batch: a gradebook rebuilt from a programme's store is 28,000 rows
        for i in range(0, len(found), 2000):
            added += add_submissions(gb, cohort, found[i : i + 2000])
    finally:
        if own:
            gb.close()
    return added
