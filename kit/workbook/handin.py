"""``submit``: hand a workbook, its answers and files to the exchange (folder or hub service)."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

from kit import artifacts, untrusted
from kit.messages import t
from kit.workbook.store import StoreError, load_store

# -------------------------------------------------------------------- submit


def _quietly(workbook: Path) -> dict[str, Any]:
    """:func:`_released`, or {} for a workbook that does not say (another tool's, say)."""
    try:
        return _released(workbook)
    except StoreError:
        return {}


Receipt = artifacts.Receipt


def check_id(value: Any, what: str) -> str:
    """`value` if it is safe as a folder name (:func:`kit.untrusted.check_id`; ids come from trainee-side files)."""
    return untrusted.check_id(value, what, StoreError)


def _released(workbook: Path) -> dict[str, Any]:
    """What release wrote into the workbook: identity, and its exchange and language.

    The metadata, completed by the arguments of its setup cell for a workbook
    released before the exchange and language were recorded there. Raises
    StoreError when the workbook is no released casekit workbook.
    """
    try:
        nb = json.loads(workbook.read_text(encoding="utf-8"))
        meta = dict(nb["metadata"]["casekit"])
    except (OSError, ValueError, KeyError, TypeError):
        raise StoreError(t("handin.not_released"), workbook) from None
    setup = _setup_arguments(nb)
    for k in ("exchange", "language"):
        meta[k] = meta.get(k) or setup.get(k)
    return meta


def _empty_store(workbook: Path, released: dict[str, Any]) -> dict[str, Any]:
    """The answer store of a workbook nobody answered: identity and exchange from what release wrote.

    So a blank workbook, even one copied out of the exchange, hands in like any other.
    """
    doc = {k: released.get(k) for k in ("trainee", "session", "cohort", "exchange")}
    return {"workbook": workbook.name, **doc, "answers": {}}


def _setup_arguments(nb: dict[str, Any]) -> dict[str, Any]:
    """The literal keyword arguments of the workbook's ``open_workbook(...)`` setup cell."""

    for cell in nb.get("cells") or []:
        if ((cell.get("metadata") or {}).get("casekit") or {}).get("role") != "setup":
            continue
        src = cell.get("source", "")
        try:  # the trainee's file: anything unparsable (or absurdly nested) says nothing
            tree = ast.parse("".join(src) if isinstance(src, list) else str(src))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "open_workbook":
                return {
                    kw.arg: kw.value.value
                    for kw in node.keywords
                    if kw.arg and isinstance(kw.value, ast.Constant)
                }
    return {}


def _exchange(workbook: Path, exchange: Path | None, folder: Any) -> Any:
    """The `Exchange` a hand-in goes to: ``exchange``, else the folder named, else the hub's service.

    Without any, a StoreError in the trainee's language (no path, no CLI advice).
    """
    from kit.exchange.clients import (
        Exchange,
        FolderExchange,
        HubExchange,
        course_of_exchange,
        exchange_for,
    )
    from kit.exchange.trust import course_secret

    target: Exchange
    if exchange is not None:
        root = course_of_exchange(Path(exchange))
        secret = course_secret(root, create=False) if root else None
        target = FolderExchange(Path(exchange), secret=secret)
    elif folder and str(folder) != ".":
        target = exchange_for(Path(folder))
    else:
        hub = HubExchange.from_env()
        if hub is None:
            said = t("handin.no_exchange", _quietly(workbook).get("language") or None)
            raise StoreError(said, artifacts.answers_path(workbook), code="no-exchange")
        target = hub
    return target


def submit(workbook: Path, *, exchange: Path | None = None) -> Receipt:
    """Hand `workbook` (.ipynb), its answers and files to the exchange.

    On a JupyterHub (the single-user server's environment names the exchange
    service and holds the hub's API token) the hand-in goes to the exchange
    service, which files it under the signed-in account at its own time;
    otherwise into the folder exchange's inbox
    ``exchange/<cohort>/inbox/<trainee>/<session>/<utc-stamp>-<sha8>/``
    (`kit.exchange.clients`). ``exchange`` forces that folder. Nothing is ever
    overwritten: every hand-in is a new folder, created whole by a rename. A
    store with bad entries is still handed in as it is (the receipt lists the
    problems), and so is a workbook nobody answered (an empty store from the
    workbook's metadata): refusing would lose work, and "handed in, nothing
    answered" is an answer too. Identity here only routes the hand-in; collect
    checks it (`kit.exchange.trust`).
    """
    from kit.exchange.clients import Handin

    workbook = Path(workbook).resolve()
    store_file = artifacts.answers_path(workbook)
    if not workbook.exists():
        raise StoreError(t("handin.no_workbook"), workbook)
    warnings: list[str] = []
    released: dict[str, Any] | None = None  # what release wrote, once read: not parsed again
    if store_file.exists():
        doc = load_store(store_file, strict=False)
        warnings = [
            f"{store_file.name}: question {p['question']!r}: {p['why']}" for p in doc["problems"]
        ]
        answers = store_file.read_bytes()
    else:
        released = _released(workbook)
        doc = _empty_store(workbook, released)
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
        or (released or _quietly(workbook)).get("exchange")
    )
    handin = Handin(cohort, session, trainee, contents, warnings)
    accepted = _exchange(workbook, exchange, folder).submit(handin)
    receipt = Receipt.model_validate(accepted.receipt)
    receipt.folder = Path(accepted.location)
    receipt.warnings = warnings
    return receipt
