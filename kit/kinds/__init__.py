"""The registry of question kinds: each kind declared once, looked up by name.

Every kind is one module here with one :class:`~kit.kinds.base.Kind` object
(``KIND``): its spec fields and ``ask.<kind>`` signature, emptiness, validity
of a stored answer, scoring, practice hashes, renderings and live widget, and
flags (keyed, manual, tested, graded, rated, ...). Everything else in casekit
asks the registry instead of listing kinds: ``kinds.get("essay").manual``,
``kinds.names(keyed=True)``. papermill's engine registry is the model::

    from kit import kinds
    kinds.registry.register(MyKind())     # a new kind: one module + its test

Module-level functions dispatch on a spec's ``kind``: :func:`score`,
:func:`is_empty`, :func:`practice_hashes`, :func:`practice_check`.
"""

from kit.kinds.base import AuthoringError, Kind, Score
from kit.kinds.registry import (
    KindRegistry,
    UnknownKind,
    arguments,
    closest,
    find,
    get,
    is_empty,
    key_options,
    key_problems,
    names,
    practice_check,
    practice_hashes,
    practice_table,
    registry,
    score,
    unknown_arguments,
)
from kit.kinds.render import render_html, render_plain, unit_name

__all__ = [
    "AuthoringError",
    "Kind",
    "KindRegistry",
    "Score",
    "UnknownKind",
    "arguments",
    "closest",
    "find",
    "get",
    "is_empty",
    "key_options",
    "key_problems",
    "names",
    "practice_check",
    "practice_hashes",
    "practice_table",
    "registry",
    "render_html",
    "render_plain",
    "score",
    "unit_name",
    "unknown_arguments",
]
