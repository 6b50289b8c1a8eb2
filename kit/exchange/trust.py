"""What makes a hand-in trustworthy: the course secret, release tokens, signed receipts.

The trainee side controls every byte of a workbook, its answer store and any
file it writes (DESIGN.md "The trust boundary"). Two facts must therefore be
established by the instructor side alone:

* **who**: `release` writes into each workbook a token ``HMAC(secret,
  cohort|session|trainee)``. A trainee cannot compute it for anybody else, so a
  workbook that claims another trainee, or whose token is missing or wrong, is
  refused at collect and never filed under anybody.
* **when** (and what): the exchange that accepts a hand-in (the hub's exchange
  service, or a folder exchange run by the course's owner) signs a receipt
  ``{cohort, session, trainee, received_at, sha256, via}`` with the same secret.
  Collect believes a receipt's time only when its signature and content digest
  check out; otherwise the time is the arrival at collect.

The secret is ``<course>/.casekit/secret`` (32 random bytes, hex, mode 0600 in a
0700 folder). It is never written into a workbook, a store, the sandbox or a
receipt.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as _secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit import artifacts
from kit.messages import t as say
from kit.untrusted import BadInput, load_json

#: Fields of a receipt covered by its signature, in this order.
SIGNED_FIELDS = ("cohort", "session", "trainee", "received_at", "sha256", "via")
RECEIPT = artifacts.RECEIPT
#: The digest a receipt signs: the submission digest the gradebook stores.
content_digest = artifacts.submission_digest
#: ``via`` of receipts signed by the hub's exchange service (identity = the hub account).
HUB_VIA = "hub"


secret_path = artifacts.secret_path

#: What established who handed a hand-in in (``collected.identity`` in the stored receipt):
#: the hub account, the local account that wrote it, the release token (one account,
#: checked by its token: see `kit.access`), another tool's folder, or nothing checkable.
IDENTITY_HUB = "hub-account"
IDENTITY_ACCOUNT = "local-account"
IDENTITY_TOKEN = "release-token"
IDENTITY_SHARED = "shared-account"
IDENTITY_FOREIGN = "other-tool"
IDENTITY_UNCHECKED = "unchecked"


def course_secret(course_root: Path, *, create: bool = True) -> bytes | None:
    """The course secret (created 0600 on first use when ``create``), or None if unreadable."""
    path = secret_path(course_root)
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        if not create:
            return None
    except (PermissionError, ValueError):
        return None
    path.parent.mkdir(mode=0o700, exist_ok=True)
    value = _secrets.token_bytes(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value.hex() + "\n")
    try:
        # link, not rename: when two processes race, the first secret wins for both
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def _mac(secret: bytes, *parts: str) -> str:
    return hmac.new(secret, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()


def release_token(secret: bytes, cohort: str, session: str, trainee: str) -> str:
    """The token `release` writes into a workbook released to `trainee`."""
    return _mac(secret, "release", cohort, session, trainee)


def sign_receipt(secret: bytes, receipt: dict) -> dict:
    """`receipt` with its ``signature`` (HMAC over `SIGNED_FIELDS`)."""
    signed = {k: str(receipt.get(k) or "") for k in SIGNED_FIELDS}
    return {**receipt, "signature": _mac(secret, "receipt", *signed.values())}


def receipt_is_signed(secret: bytes | None, receipt: Any) -> bool:
    """True when `receipt` carries a valid signature made with `secret`."""
    if not secret or not isinstance(receipt, dict) or not isinstance(receipt.get("signature"), str):
        return False
    want = sign_receipt(secret, receipt)["signature"]
    return hmac.compare_digest(want, receipt["signature"])


def now_utc() -> datetime:
    """The exchange's clock (one place, so a test can see what it stamps)."""
    return datetime.now(UTC)


def read_json(data: bytes | None) -> Any:
    """JSON from bytes a trainee wrote, or None when it is not JSON in UTF-8 within the caps (`kit.untrusted`)."""
    if data is None:
        return None
    try:
        return load_json(data, max_bytes=len(data))
    except BadInput:
        return None


def claimed_release(files: dict[str, bytes]) -> tuple[str | None, str | None]:
    """(trainee, token) a workbook's metadata claims (untrusted until checked)."""
    nb = read_json(files.get("workbook.ipynb"))
    meta = ((nb or {}).get("metadata") or {}).get("casekit") or {} if isinstance(nb, dict) else {}
    trainee = meta.get("trainee") if isinstance(meta.get("trainee"), str) else None
    token = meta.get("release") if isinstance(meta.get("release"), str) else None
    return trainee, token


@dataclass
class Verdict:
    """What collect may believe about one hand-in.

    ``received_at`` is None when no valid signed receipt vouches for a time
    (collect then uses the arrival time). ``refused`` says why the hand-in must
    not be filed under anybody; ``notes`` are facts for the instructor.
    """

    trainee: str
    session: str
    #: what established who handed it in (one of the ``IDENTITY_*`` codes; kept in the store)
    identity: str = IDENTITY_UNCHECKED
    received_at: datetime | None = None
    time_source: str = "arrival"
    refused: str = ""
    notes: list[str] = field(default_factory=list)


def _read_receipt(v: Verdict, files: dict[str, bytes], secret: bytes | None, cohort: str) -> bool:
    """Take a signed receipt's time into `v`; refuse in `v` a receipt of another hand-in.

    Returns whether the receipt is the hub's: the hub's service files a hand-in
    under the signed-in account, so its identity needs no token.
    """
    receipt = read_json(files.get(RECEIPT))
    if receipt_is_signed(secret, receipt):
        mismatch = [
            f"{k} {receipt.get(k)!r}"
            for k, want in (("cohort", cohort), ("session", v.session), ("trainee", v.trainee))
            if receipt.get(k) != want
        ]
        if mismatch:
            v.refused = say(
                "trust.receipt_other",
                got=", ".join(mismatch),
                trainee=v.trainee,
                session=v.session,
            )
            return False
        if receipt.get("sha256") != content_digest(files):
            v.refused = say("trust.content_changed")
            return False
        try:
            v.received_at = datetime.fromisoformat(str(receipt["received_at"]))
            v.time_source = say("trust.time_signed", via=receipt.get("via") or "exchange")
        except ValueError:
            v.notes.append(say("trust.no_time"))
        if receipt.get("via") == HUB_VIA:
            v.identity = IDENTITY_HUB
            return True
    elif isinstance(receipt, dict) and receipt.get("signature"):
        v.notes.append(say("trust.bad_signature"))
    return False


def verify(
    files: dict[str, bytes],
    *,
    secret: bytes | None,
    cohort: str,
    trainee: str,
    session: str,
    channel: str | None,
    account: str | None = None,
    foreign: bool = False,
) -> Verdict:
    """Check a hand-in that names `trainee`/`session` against what the instructor side knows.

    ``channel`` is the trainee the hand-in came through when the channel says
    so (the inbox folder of an exchange, i.e. the signed-in account on a hub),
    else None. ``account`` is the local account that wrote the hand-in when one
    other than the course owner's did (`kit.access`): an account is an
    identity, as on a hub. ``foreign`` marks another tool's submission from a
    source the instructor chose (no casekit workbook, no token expected).
    Refused when: a valid receipt names another trainee, session or cohort, or
    another content; the channel's trainee or the writing account differs from
    the claim; the workbook's release token was not made for this trainee and
    session, or is missing where no account vouches for the trainee (a corrupt
    workbook handed in through the hub is still filed and grades as failed); a
    hand-in without a workbook that no account and no chosen source vouches for.
    """
    v = Verdict(trainee, session, time_source=say("trust.time_arrival"))
    account_vouched = _read_receipt(v, files, secret, cohort)
    if v.refused:
        return v
    if channel is not None and channel != trainee:
        v.refused = say("trust.other_channel", channel=channel, trainee=trainee)
        return v
    if account is not None and account != trainee:
        v.refused = say("trust.other_account", account=account, trainee=trainee)
        return v
    if account is not None:
        account_vouched, v.identity = True, IDENTITY_ACCOUNT
    claimed, token = claimed_release(files)
    if claimed is not None and claimed != trainee:
        v.refused = say("trust.opened_as", claimed=claimed, trainee=trainee)
        return v
    if secret is None:
        v.notes.append(say("trust.no_secret"))
        return v
    if token is None and account_vouched:
        local = v.identity == IDENTITY_ACCOUNT
        v.notes.append(
            say("trust.local_account" if local else "trust.account_vouches", account=account)
        )
    elif token is None and artifacts.WORKBOOK not in files and foreign:
        # another tool's submission adopted by collect (kit.importers) from a source the
        # instructor chose: no casekit workbook
        v.notes.append(say("trust.foreign"))
        v.identity = IDENTITY_FOREIGN
    elif token is None and artifacts.WORKBOOK not in files:
        v.refused = say("trust.no_workbook")
    elif token is None:
        v.refused = say("trust.no_token")
    elif not hmac.compare_digest(token, release_token(secret, cohort, session, trainee)):
        v.refused = say("trust.wrong_token", trainee=trainee, session=session)
    elif v.identity == IDENTITY_UNCHECKED:
        v.identity = IDENTITY_TOKEN
    return v
