"""The exchange: the only thing that crosses from the trainee side to the instructor side.

One small interface, two implementations:

* `FolderExchange` — a folder (``<exchange>/<cohort>/inbox|live``) on one
  machine. It is also what the hub's exchange service writes through, as the
  course's owner, so `collect` reads hub hand-ins exactly like local ones.
* `HubExchange` — the JupyterHub exchange service (`kit.hub.service`), reached
  over HTTP with the hub's API token of the signed-in account. The service,
  not the caller, decides who handed in (the hub account) and when (its clock).

``Exchange`` methods::

    submit(handin) -> Accepted                  hand in a workbook, its answers and files
    post_live(cohort, session, qid, value, trainee=None)  one answer as it is given (live class view)
    live(cohort, session) -> {qid: {trainee: {value, at}}}  the room's latest answers, each with
                                                the exchange's time of receipt
    set_live_state(cohort, session, state) -> at  instructor: which questions are open, closed,
                                                revealed; returns the exchange's time it took it
    live_state(cohort, session) -> state        anyone in the cohort: that state ({} before a class)

Times are the exchange's own clock (the service's on a hub), so the live view
judges "answered before the close" by one clock, whoever's machine is slow.
    handins(cohort) -> [id]                     instructor: what was handed in
    fetch(cohort, id) -> {relative path: bytes} instructor: one hand-in's files

Inbox layout (read by `kit.grading.collect`)::

    <exchange>/<cohort>/inbox/<trainee>/<session>/<utc-stamp>-<sha8>/
        workbook.ipynb  answers.json  files/...  receipt.json
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib import error as urlerror
from urllib import request as urlrequest

from kit import access, artifacts, untrusted
from kit.exchange import trust
from kit.problems import UserError
from kit.untrusted import printable

#: A hand-in larger than this is refused (notebook, answers and uploads together).
MAX_HANDIN_BYTES = 60 * 1024 * 1024
HUB_URL_ENV = "CASEKIT_EXCHANGE_URL"


class ExchangeError(UserError):
    """The exchange refused or could not take a hand-in; the message says why."""


class ExchangeUnreachable(ExchangeError):
    """The exchange could not be reached at all (hub or network down): nothing was handed in."""


def check_id(value: Any, what: str) -> str:
    """`value` as a safe folder name (:func:`kit.untrusted.check_id`), or ExchangeError naming `what`."""
    return untrusted.check_id(value, what, ExchangeError)


@dataclass
class Handin:
    """What a trainee hands in. ``trainee`` is the claim of the trainee side."""

    cohort: str
    session: str
    trainee: str
    files: dict[str, bytes]
    warnings: list[str] = field(default_factory=list)


@dataclass
class Accepted:
    """What the exchange answered: the receipt (signed when it could) and where it went."""

    receipt: dict
    location: str


#: One trainee's latest live answer: ``{"value": …, "at": ISO time the exchange received it}``.
LiveAnswer = dict[str, Any]


class Exchange(Protocol):
    """The interface a workbook, `collect` and the live view use."""

    def submit(self, handin: Handin) -> Accepted: ...

    def post_live(
        self, cohort: str, session: str, qid: str, value: Any, *, trainee: str | None = None
    ) -> None: ...

    def live(self, cohort: str, session: str) -> dict[str, dict[str, LiveAnswer]]: ...

    # -- live class (#12): the instructor's state of each question, read by the workbooks
    def set_live_state(self, cohort: str, session: str, state: dict) -> str: ...

    def live_state(self, cohort: str, session: str) -> dict: ...

    # -- end live class

    def handins(self, cohort: str) -> list[str]: ...

    def fetch(self, cohort: str, handin_id: str) -> dict[str, bytes]: ...


def _atomic_json(path: Path, doc: Any, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc, ensure_ascii=False))
    os.replace(tmp, path)


class FolderExchange:
    """An exchange folder. Signs receipts when it can read the course secret.

    ``trusted_trainee`` is set by the hub service: the hub account, which wins
    over the hand-in's claim. Without it (one machine) the claim names the inbox
    and collect checks it against the workbook's release token.
    """

    def __init__(self, root: Path, *, secret: bytes | None = None, via: str = "folder"):
        self.root = Path(root)
        self.secret = secret
        self.via = via

    def submit(self, handin: Handin, *, trusted_trainee: str | None = None) -> Accepted:
        """Write the hand-in as a new inbox folder, created whole by a rename; never overwrite."""
        cohort = check_id(handin.cohort, "cohort")
        session = check_id(handin.session, "session")
        trainee = check_id(trusted_trainee or handin.trainee, "trainee")
        files = {check_rel(n): b for n, b in handin.files.items() if n != trust.RECEIPT}
        if sum(len(b) for b in files.values()) > MAX_HANDIN_BYTES:
            raise ExchangeError(
                f"hand-in too large (over {MAX_HANDIN_BYTES // 2**20} MB); remove big uploads"
            )
        received = trust.now_utc()
        sha = trust.content_digest(files)
        receipt = {
            "cohort": cohort,
            "session": session,
            "trainee": trainee,
            "received_at": received.isoformat(timespec="milliseconds"),
            "sha256": sha,
            "via": self.via,
            "files": sorted(files),
            "warnings": list(handin.warnings),
        }
        if trusted_trainee and handin.trainee != trusted_trainee:
            receipt["claimed_trainee"] = handin.trainee
        if self.secret:
            receipt = trust.sign_receipt(self.secret, receipt)
        parent = artifacts.inbox_session_dir(self.root, cohort, trainee, session)
        # the inbox is a drop box (kit.access): this account's folders and files, the owner's group
        access.make_handin_dirs(parent)
        tmp = parent / f".incoming-{uuid.uuid4().hex}"
        access.make_handin_dirs(tmp)
        try:
            for rel, data in files.items():
                target = tmp / rel
                access.make_handin_dirs(target.parent)
                access.write_handin_file(target, data)
            access.write_handin_file(
                tmp / trust.RECEIPT, json.dumps(receipt, ensure_ascii=False, indent=1).encode()
            )
            base = artifacts.submission_folder_name(received, sha)
            for n in range(100):
                final = parent / (base if n == 0 else f"{base}-{n}")
                try:
                    # rename onto an existing folder fails: an earlier hand-in is never replaced
                    os.rename(tmp, final)
                    break
                except OSError:
                    if not final.exists():
                        raise
            else:  # pragma: no cover
                raise ExchangeError(f"{parent}: could not find a free folder name")
            return Accepted(receipt, str(final))
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def post_live(
        self, cohort: str, session: str, qid: str, value: Any, *, trainee: str | None = None
    ) -> None:
        """Record `trainee`'s latest answer to `qid` (one small file per trainee and session)."""
        if trainee is None:
            raise ExchangeError("a folder exchange needs the trainee of a live answer")
        path = artifacts.live_path(
            self.root,
            check_id(cohort, "cohort"),
            check_id(session, "session"),
            check_id(trainee, "trainee"),
        )
        access.make_drop_dir(path.parent)  # every trainee's account adds its own file
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = {}
        doc[check_id(qid, "question")] = {"value": value, "at": trust.now_utc().isoformat()}
        _atomic_json(path, doc, access.HANDIN_FILE)  # the owner's group reads it, nobody else

    def live(self, cohort: str, session: str) -> dict[str, dict[str, LiveAnswer]]:
        """{qid: {trainee: {"value", "at"}}} for one session: latest answers and when they came."""
        folder = artifacts.live_path(
            self.root, check_id(cohort, "cohort"), check_id(session, "session"), "_"
        ).parent
        out: dict[str, dict[str, Any]] = {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a half-written or damaged file never breaks the room's view
            for qid, entry in doc.items() if isinstance(doc, dict) else []:
                if isinstance(entry, dict):
                    at = entry.get("at") if isinstance(entry.get("at"), str) else None
                    out.setdefault(qid, {})[path.stem] = {"value": entry.get("value"), "at": at}
        return out

    # -- live class (#12): the state document (kit.workbook.livelink says what it holds)
    def _state_path(self, cohort: str, session: str) -> Path:
        return artifacts.live_state_path(
            self.root, check_id(cohort, "cohort"), check_id(session, "session")
        )

    def set_live_state(self, cohort: str, session: str, state: dict) -> str:
        """Publish the instructor's state of a live class (written whole, atomically); its time."""
        path = self._state_path(cohort, session)
        path.parent.mkdir(parents=True, exist_ok=True)
        at = trust.now_utc().isoformat()
        _atomic_json(path, state)
        return at

    def live_state(self, cohort: str, session: str) -> dict:
        """The published state of a live class, or {} when there is none (or it cannot be read)."""
        try:
            doc = json.loads(self._state_path(cohort, session).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    # -- end live class

    def handins(self, cohort: str) -> list[str]:
        """Ids ``<trainee>/<session>/<folder>`` of every hand-in, oldest first per trainee."""
        inbox = artifacts.inbox_dir(self.root, check_id(cohort, "cohort"))
        return sorted(
            d.relative_to(inbox).as_posix()
            for d in inbox.glob("*/*/*")
            if d.is_dir() and not d.name.startswith(".")
        )

    def fetch(self, cohort: str, handin_id: str) -> dict[str, bytes]:
        """The files of one hand-in by id."""
        parts = handin_id.split("/")
        if len(parts) != 3:
            raise ExchangeError(f"hand-in id {handin_id!r} is not <trainee>/<session>/<folder>")
        folder = artifacts.inbox_dir(self.root, check_id(cohort, "cohort"))
        for p in parts:
            folder = folder / check_id(p, "hand-in id part")
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()
        }


def check_rel(name: str) -> str:
    """A relative path inside a hand-in (no absolute paths, no ``..``)."""
    parts = [p for p in str(name).split("/") if p not in ("", ".")]
    if printable(name) != name:  # control or invisible characters: they would reach a terminal
        raise ExchangeError(f"file name {printable(name)!r} is not allowed in a hand-in")
    if not parts or any(p == ".." or p.startswith(".") for p in parts) or "\\" in name:
        raise ExchangeError(f"file name {name!r} is not allowed in a hand-in")
    return "/".join(parts)


# ---------------------------------------------------------------- over HTTP


def pack_files(files: dict[str, bytes]) -> dict[str, str]:
    """Files as JSON-safe base64 text."""
    return {n: base64.b64encode(b).decode("ascii") for n, b in files.items()}


def unpack_files(doc: Any) -> dict[str, bytes]:
    """The inverse of `pack_files`, checking names; ExchangeError on anything else."""
    if not isinstance(doc, dict):
        raise ExchangeError("'files' must be an object of name → base64")
    try:
        return {check_rel(n): base64.b64decode(v, validate=True) for n, v in doc.items()}
    except (TypeError, ValueError) as exc:
        raise ExchangeError(f"a file is not valid base64: {exc}") from None


class HubExchange:
    """The hub's exchange service, called with a hub API token (the kernel's own)."""

    def __init__(self, url: str, token: str, *, timeout: float = 30):
        self.url = url.rstrip("/") + "/"
        self.token = token
        self.timeout = timeout

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HubExchange | None:
        """The service this single-user server was told about, or None off the hub."""
        source = os.environ if env is None else env
        url, token = source.get(HUB_URL_ENV), source.get("JUPYTERHUB_API_TOKEN")
        return cls(url, token) if url and token else None

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urlrequest.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urlrequest.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read().decode("utf-8") or "null")
        except urlerror.HTTPError as exc:
            try:
                why = json.loads(exc.read().decode("utf-8")).get("message") or exc.reason
            except (ValueError, AttributeError):
                why = exc.reason
            raise ExchangeError(f"the exchange service refused ({exc.code}): {why}") from None
        except (urlerror.URLError, TimeoutError, OSError) as exc:
            raise ExchangeUnreachable(f"the exchange service cannot be reached: {exc}") from None

    def submit(self, handin: Handin) -> Accepted:
        doc = self._call(
            "POST",
            f"api/handins/{handin.cohort}/{handin.session}",
            {
                "trainee": handin.trainee,
                "files": pack_files(handin.files),
                "warnings": handin.warnings,
            },
        )
        return Accepted(doc["receipt"], doc["location"])

    def post_live(
        self, cohort: str, session: str, qid: str, value: Any, *, trainee: str | None = None
    ) -> None:
        # the service takes the trainee from the hub account; a claim is not even sent
        self._call("POST", f"api/live/{cohort}/{session}", {"question": qid, "value": value})

    def live(self, cohort: str, session: str) -> dict[str, dict[str, LiveAnswer]]:
        return self._call("GET", f"api/live/{cohort}/{session}")

    # -- live class (#12)
    def set_live_state(self, cohort: str, session: str, state: dict) -> str:
        doc = self._call("PUT", f"api/live/{cohort}/{session}/state", state)
        return str(doc.get("at") or "") if isinstance(doc, dict) else ""

    def live_state(self, cohort: str, session: str) -> dict:
        doc = self._call("GET", f"api/live/{cohort}/{session}/state")
        return doc if isinstance(doc, dict) else {}

    # -- end live class

    def handins(self, cohort: str) -> list[str]:
        return self._call("GET", f"api/handins/{cohort}")

    def fetch(self, cohort: str, handin_id: str) -> dict[str, bytes]:
        return unpack_files(self._call("GET", f"api/handins/{cohort}/{handin_id}")["files"])


def exchange_for(folder: Path | None, *, course_root: Path | None = None) -> Exchange:
    """The exchange a trainee's side hands in through.

    On a hub (``CASEKIT_EXCHANGE_URL`` and the hub's API token in the
    environment) the exchange service; otherwise the folder, signing only when
    this process can read the course secret (the course owner's own account).
    """
    hub = HubExchange.from_env()
    if hub is not None:
        return hub
    if folder is None:
        raise ExchangeError(
            "no exchange folder is known; pass --exchange (it holds <cohort>/inbox)"
        )
    root = course_root or course_of_exchange(folder)
    secret = trust.course_secret(root, create=False) if root else None
    return FolderExchange(folder, secret=secret)


MARKER = ".casekit-course"


def mark_exchange(folder: Path, course_root: Path) -> None:
    """Tell a folder exchange which course it belongs to (so the owner's submit can sign)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MARKER
    text = str(Path(course_root).resolve()) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def course_of_exchange(folder: Path) -> Path | None:
    """The course root a folder exchange was released from, if it says."""
    try:
        return Path((Path(folder) / MARKER).read_text(encoding="utf-8").strip())
    except OSError:
        return None
