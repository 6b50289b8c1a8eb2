"""Sign-in for a cohort's hub: accounts from the roster and faculty, passwords handed out on paper.

``accounts.json`` (written by `kit.hub.deploy`, read by the authenticator and
the exchange service)::

    {"cohort": "c1", "accounts": {"t01": {"role": "trainee", "id": "t01", "name": "王一"},
                                  "f1": {"role": "instructor", "id": "f1", "name": "林晓峰"}}}

``passwords.json`` holds only salted scrypt hashes; the plain passwords are
printed once by ``casekit hub start`` (and again only when reissued). Another
authenticator (LDAP, OAuth of the training school) can replace this one in the
generated configuration: the exchange needs only the hub account name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Collection
from pathlib import Path
from typing import Any

from jupyterhub.auth import Authenticator
from traitlets import Unicode

#: Letters that cannot be confused when read off paper (no 0/o, 1/l/i).
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def new_password() -> str:
    """A password an official can type: ``xxxx-xxxx`` from an unambiguous alphabet."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def _hash(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1).hex()


def hash_password(password: str) -> dict:
    """A salted scrypt record of `password`."""
    salt = secrets.token_bytes(16)
    return {"salt": salt.hex(), "scrypt": _hash(password, salt)}


def password_ok(record: Any, password: str) -> bool:
    """True when `password` matches a `hash_password` record."""
    if not isinstance(record, dict) or not isinstance(password, str):
        return False
    try:
        got = _hash(password.strip().lower(), bytes.fromhex(record["salt"]))
    except (KeyError, ValueError, TypeError):
        return False
    return hmac.compare_digest(got, str(record.get("scrypt", "")))


def write_private_json(path: Path, doc: Any) -> None:
    """Write JSON readable only by its owner, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def issue_passwords(
    path: Path, usernames: list[str], *, reissue: Collection[str] = ()
) -> dict[str, str]:
    """Give a password to every account that has none (or is in `reissue`); return the new ones."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = {}
    fresh = {}
    for name in usernames:
        if name not in doc or name in reissue:
            fresh[name] = new_password()
            doc[name] = hash_password(fresh[name])
    for name in [n for n in doc if n not in usernames]:
        del doc[name]  # an account taken off the roster can no longer sign in
    if fresh or not path.exists():
        write_private_json(path, doc)
    return fresh


class CohortAuthenticator(Authenticator):
    """Username and the password casekit issued; unknown names are refused."""

    passwords_file = Unicode(config=True, help="passwords.json written by casekit hub")

    def get_handlers(self, app: Any) -> list:
        """The sign-in page, and a "server starting" page that never strands a trainee."""
        from kit.hub.waiting import PendingHandler

        return [
            *super().get_handlers(app),
            (r"/spawn-pending/([^/]+)", PendingHandler),
            (r"/spawn-pending/([^/]+)/([^/]+)", PendingHandler),
        ]

    async def authenticate(self, handler: Any, data: dict) -> str | None:
        name = self.normalize_username(str(data.get("username") or ""))
        try:
            records = json.loads(Path(self.passwords_file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.log.error("casekit: cannot read %s", self.passwords_file)
            return None
        if password_ok(records.get(name), str(data.get("password") or "")):
            return name
        return None
