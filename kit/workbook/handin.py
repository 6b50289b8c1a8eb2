"""``submit``: hand a workbook, its answers and files to the exchange inbox."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit import artifacts
from kit.messages import t
from kit.workbook.store import StoreError, load_store

SAFE_ID_RE = re.compile(r"^[\w][\w.-]*$")

# -------------------------------------------------------------------- submit


Receipt = artifacts.Receipt


def check_id(value: Any, what: str) -> str:
    """`value` if it is safe as a folder name (ids come from trainee-side files)."""
    value = str(value or "")
    if not SAFE_ID_RE.match(value) or value in (".", ".."):
        raise StoreError(t("handin.bad_id", what=what, value=value))
    return value


def _empty_store(workbook: Path) -> dict[str, Any]:
    """The answer store of a workbook nobody answered: identity from the metadata release wrote."""
    try:
        meta = json.loads(workbook.read_text(encoding="utf-8"))["metadata"]["casekit"]
    except (OSError, ValueError, KeyError, TypeError):
        raise StoreError(t("handin.not_released"), workbook) from None
    doc = {k: meta.get(k) for k in ("trainee", "session", "cohort")}
    return {"workbook": workbook.name, **doc, "answers": {}}


def submit(workbook: Path, *, exchange: Path | None = None) -> Receipt:
    """Hand `workbook` (.ipynb), its answers and files to the exchange inbox.

    Writes ``exchange/<cohort>/inbox/<trainee>/<session>/<utc-stamp>-<sha8>/``
    with ``workbook.ipynb``, ``answers.json``, ``files/`` and ``receipt.json``.
    Nothing is ever overwritten: every submission is a new folder, created
    whole by a rename. Identity (trainee, session, cohort, exchange) comes from
    the answer store's header. A store with bad entries is still submitted as
    it is (the receipt lists the problems), and so is a workbook nobody
    answered (an empty store from the workbook's metadata): refusing would
    lose work, and "handed in, nothing answered" is an answer too.
    """
    workbook = Path(workbook).resolve()
    store_file = artifacts.answers_path(workbook)
    if not workbook.exists():
        raise StoreError(t("handin.no_workbook"), workbook)
    warnings: list[str] = []
    if store_file.exists():
        doc = load_store(store_file, strict=False)
        warnings = [
            f"{store_file.name}: question {p['question']!r}: {p['why']}" for p in doc["problems"]
        ]
        answers = store_file.read_bytes()
    else:
        doc = _empty_store(workbook)
        answers = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
    trainee = check_id(doc.get("trainee"), "trainee")
    session = check_id(doc.get("session"), "session")
    cohort = check_id(doc.get("cohort"), "cohort")
    exchange = Path(
        exchange
        or doc.get("exchange")
        or os.environ.get("CASEKIT_EXCHANGE")
        or artifacts.exchange_of(workbook, cohort, trainee)
        or ""
    )
    if not str(exchange) or str(exchange) == ".":
        raise StoreError(t("handin.no_exchange"), store_file, code="no-exchange")
    contents: dict[str, bytes] = {
        artifacts.WORKBOOK: workbook.read_bytes(),
        artifacts.ANSWERS: answers,
    }
    files_dir = artifacts.files_dir(workbook)
    if files_dir.is_dir():
        for p in sorted(files_dir.rglob("*")):
            if p.is_file():
                contents[f"{artifacts.FILES}/" + p.relative_to(files_dir).as_posix()] = (
                    p.read_bytes()
                )
    sha = artifacts.submission_digest(contents)
    received = datetime.now(UTC)
    parent = artifacts.inbox_session_dir(exchange, cohort, trainee, session)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".incoming-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        for rel, data in contents.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        receipt = Receipt(
            trainee=trainee,
            session=session,
            cohort=cohort,
            received_at=received.isoformat(timespec="milliseconds"),
            sha256=sha,
            folder=parent,
            files=sorted(contents),
            warnings=warnings,
        )
        (tmp / artifacts.RECEIPT).write_bytes(receipt.to_bytes())
        base = artifacts.submission_folder_name(received, sha)
        for n in range(100):
            final = parent / (base if n == 0 else f"{base}-{n}")
            try:
                # rename onto an existing folder fails: an earlier submission is never replaced
                os.rename(tmp, final)
                break
            except OSError:
                if not final.exists():
                    raise
        else:  # pragma: no cover
            raise StoreError(t("handin.no_free_name"), parent)
        receipt.folder = final
        return receipt
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
