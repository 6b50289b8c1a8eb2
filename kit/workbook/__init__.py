"""Workbooks: what a trainee answers in, and how it travels.

=============================  ===================================================
``kit.workbook.store``         the answer store beside a workbook (merge, lock, recover)
``kit.workbook.runtime``       ``open_workbook``, the runtime widgets talk to, the code hook
``kit.workbook.panel``         the progress panel and its submit button
``kit.workbook.handin``        ``submit``: workbook, answers and files into the inbox
``kit.workbook.outbox``        ``release``: one personalised workbook per trainee
=============================  ===================================================

Released workbooks' setup cells call ``kit.workbook.open_workbook``.
"""

from kit.artifacts import ANSWERS_SUFFIX as STORE_SUFFIX
from kit.artifacts import FILES_SUFFIX
from kit.artifacts import answers_path as store_path_for
from kit.artifacts import files_dir as files_dir_for
from kit.workbook.handin import Receipt, submit
from kit.workbook.outbox import (
    SETUP_CELL_ID,
    ReleaseFailure,
    ReleaseResult,
    release,
    setup_source,
)
from kit.workbook.panel import ProgressPanel
from kit.workbook.runtime import (
    Runtime,
    _code_hook,
    close_workbook,
    current,
    open_workbook,
    preview_runtime,
    safe_filename,
)
from kit.workbook.store import AnswerStore, StoreError, load_store, parse_store

__all__ = [
    "FILES_SUFFIX",
    "SETUP_CELL_ID",
    "STORE_SUFFIX",
    "AnswerStore",
    "ProgressPanel",
    "Receipt",
    "ReleaseFailure",
    "ReleaseResult",
    "Runtime",
    "StoreError",
    "_code_hook",
    "close_workbook",
    "current",
    "files_dir_for",
    "load_store",
    "open_workbook",
    "parse_store",
    "preview_runtime",
    "release",
    "safe_filename",
    "setup_source",
    "store_path_for",
    "submit",
]
