"""``submit``: hand a workbook, its answers and files to the exchange (folder or hub service)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kit import artifacts
from kit.messages import t
from kit.untrusted import id_problem
from kit.workbook.store import StoreError, load_store

# -------------------------------------------------------------------- submit


Receipt = artifacts.Receipt


def check_id(value: Any, what: str) -> str:
    """`value` if it is safe as a folder name (ids come from trainee-side files)."""
    value = str(value or "")
    if id_problem(value):
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
    """Hand `workbook` (.ipynb), its answers and files to the exchange.

    On a JupyterHub (the single-user server's environment names the exchange
    service and holds the hub's API token) the hand-in goes to the exchange
    service, which files it under the signed-in account at its own time;
    otherwise into the folder exchange's inbox
    ``exchange/<cohort>/inbox/<trainee>/<session>/<utc-stamp>-<sha8>/``
    (`kit.hub.exchange`). ``exchange`` forces that folder. Nothing is ever
    overwritten: every hand-in is a new folder, created whole by a rename. A
    store with bad entries is still handed in as it is (the receipt lists the
    problems), and so is a workbook nobody answered (an empty store from the
    workbook's metadata): refusing would lose work, and "handed in, nothing
    answered" is an answer too. Identity here only routes the hand-in; collect
    checks it (`kit.hub.trust`).
    """
    from kit.hub.exchange import (
        Exchange,
        FolderExchange,
        Handin,
        HubExchange,
        course_of_exchange,
        exchange_for,
    )
    from kit.hub.trust import course_secret

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
    folder = (
        doc.get("exchange")
        or os.environ.get("CASEKIT_EXCHANGE")
        or artifacts.exchange_of(workbook, cohort, trainee)
    )
    handin = Handin(cohort, session, trainee, contents, warnings)
    target: Exchange
    if exchange is not None:
        root = course_of_exchange(Path(exchange))
        secret = course_secret(root, create=False) if root else None
        target = FolderExchange(Path(exchange), secret=secret)
    elif folder and str(folder) != ".":
        target = exchange_for(Path(folder))
    else:
        # the hub's service, or the reason in the trainee's language (no path, no CLI advice)
        hub = HubExchange.from_env()
        if hub is None:
            raise StoreError(t("handin.no_exchange"), store_file, code="no-exchange")
        target = hub
    accepted = target.submit(handin)
    receipt = Receipt.model_validate(accepted.receipt)
    receipt.folder = Path(accepted.location)
    receipt.warnings = warnings
    return receipt
