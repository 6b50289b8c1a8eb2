"""The papermill entry point's stable name: ``kit.engines:CasekitEngine`` (pyproject.toml).

Installed environments carry that name in their entry-point metadata, so it
stays even though the engine lives in :mod:`kit.execution.engines`; the class
is built there on first access, and this module only forwards the lookup.
"""

from __future__ import annotations

from typing import Any

from kit.execution import engines


def __getattr__(name: str) -> Any:
    return getattr(engines, name)
