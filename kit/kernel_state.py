"""The kernel casekit code runs in: IPython, the open workbook, what the notebook declared.

A small module with no casekit imports, so that the authoring API
(``kit.questions``), the question widgets (``kit.workbook.widgets``), the code
widget (``kit.kinds.code``) and the workbook runtime (``kit.workbook``) can share
the kernel's state without importing each other: the questions, keys and tests
the notebook declared are registered here.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: no casekit imports when it runs
    from kit.artifacts import RecordedTest
    from kit.kinds.base import KeyRecord, QuestionSpec

# Questions declared in this kernel, by id (re-running a cell replaces).
QUESTIONS: dict[str, QuestionSpec] = {}
# Keys recorded in this kernel (build mode or an instructor preview).
KEYS: dict[str, KeyRecord] = {}

# Tests declared in this kernel (`kit.questions.test`), by (question id, test name).
TESTS: dict[tuple[str, str], Any] = {}

_RUNTIME: Any = None


def ipython() -> Any:
    """The running IPython shell, or None."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return get_ipython()


def in_live_kernel() -> bool:
    """True inside a real Jupyter kernel used interactively (not build/grade).

    Built editions are executed with ``CASEKIT_MODE`` set and must never carry
    widget views (their model ids would be dangling in the saved notebook).
    """
    if os.environ.get("CASEKIT_MODE"):
        return False
    ip = ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def in_voila() -> bool:
    """True in a kernel that Voilà started (it renders outputs only, never cell sources)."""
    return bool(os.environ.get("VOILA_BASE_URL") or os.environ.get("VOILA_REQUEST_URL"))


def user_ns() -> dict:
    """The notebook's namespace (``{}`` outside IPython)."""
    ip = ipython()
    return getattr(ip, "user_ns", None) or {}


def current_runtime() -> Any:
    """The workbook runtime opened in this kernel (``kit.workbook.open_workbook``), or None."""
    return _RUNTIME


def set_runtime(runtime: Any) -> None:
    global _RUNTIME
    _RUNTIME = runtime


def language() -> str:
    """The language questions speak: the open workbook's, else the notebook's ``language``."""
    if _RUNTIME is not None:
        return _RUNTIME.language
    return str(user_ns().get("language") or os.environ.get("CASEKIT_LANGUAGE") or "zh")


def display_bundle(bundle: dict) -> None:
    """Display a raw mime bundle; outside IPython print its text/plain."""
    if ipython() is None:
        print(bundle.get("text/plain", ""))
        return
    from IPython.display import display

    display(bundle, raw=True)


def rerun_tests(qid: str | None = None) -> list[RecordedTest]:
    """Re-run the tests declared in this kernel (all, or those of `qid`); return their records."""
    return [c.run() for (q, _), c in list(TESTS.items()) if qid is None or q == qid]
