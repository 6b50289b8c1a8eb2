"""What casekit does about other packages' import-time costs.

``import nbformat`` imports jsonschema, whose format module imports
``rfc3987_syntax`` when it is installed (jupyter-events pulls it in through
``jsonschema[format-nongpl]``). That package compiles 39 Lark grammars at
import: 1.2-2 s on these machines, more than everything else a command does
(jsonschema issue #1428). nbformat never checks formats, so the grammars are
never used by casekit. :func:`defer_iri_grammar` puts a stand-in module in
its place whose functions import the real one on first use: jsonschema's
``iri`` format checks behave as before, they just pay for the grammars when
one is actually checked rather than when nbformat is imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

IRI_GRAMMAR = "rfc3987_syntax"


def defer_iri_grammar() -> None:
    """Defer the import of ``rfc3987_syntax`` until one of its functions is called.

    Does nothing when it is already imported or not installed. Idempotent.
    """
    spec = None if IRI_GRAMMAR in sys.modules else importlib.util.find_spec(IRI_GRAMMAR)
    if spec is None:
        return
    stub = types.ModuleType(IRI_GRAMMAR, "stand-in: the real module loads on first use")
    # Where the package lies, so `from rfc3987_syntax import x` and its submodules resolve
    # without asking __getattr__ (which would load the grammars).
    stub.__file__ = spec.origin
    stub.__path__ = list(spec.submodule_search_locations or [])
    lock = threading.Lock()
    loaded: list[types.ModuleType] = []

    def real() -> types.ModuleType:
        with lock:
            if not loaded:
                if sys.modules.get(IRI_GRAMMAR) is stub:
                    del sys.modules[IRI_GRAMMAR]
                try:
                    loaded.append(importlib.import_module(IRI_GRAMMAR))
                except BaseException:
                    sys.modules.setdefault(IRI_GRAMMAR, stub)
                    raise
            return loaded[0]

    def is_valid_syntax(term: str, value: str) -> Any:
        return real().is_valid_syntax(term, value)

    def __getattr__(name: str) -> Any:  # noqa: N807 - a module's attribute hook (PEP 562)
        if name.startswith("__"):
            raise AttributeError(name)  # import machinery probing; not a use
        return getattr(real(), name)

    stub.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    stub.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[IRI_GRAMMAR] = stub
