"""casekit: parameterised case teaching with Jupyter.

Every ``casekit`` command is a plain function here, and the command line is a
thin layer over it: ``kit.check``, ``kit.build``, ``kit.handouts``,
``kit.release``, ``kit.submit``, ``kit.collect``, ``kit.grade``,
``kit.mark``, ``kit.feedback``, ``kit.grades``, ``kit.guide``,
``kit.report``, ``kit.programme_report`` (``casekit report --programme``), ``kit.summary``, ``kit.tasks``, ``kit.record_deliberation``
(``casekit deliberate``), ``kit.import_nbgrader`` and ``kit.import_otter``
(``casekit import nbgrader|otter``) and ``kit.try_answers`` (``casekit try``).
They are imported lazily so that a notebook doing ``from kit.questions import
ask`` stays light.
"""

import importlib
import sys
import types

from kit.import_costs import defer_iri_grammar

__version__ = "0.1.0"

# Before anything imports nbformat: 1-2 s of grammar compilation nobody uses (kit.import_costs).
defer_iri_grammar()

_API = {
    "check": "kit.builder",
    "build": "kit.builder",
    "handouts": "kit.pages.handouts",
    "release": "kit.workbook",
    "submit": "kit.workbook",
    "collect": "kit.grading",
    "grade": "kit.grading",
    "feedback": "kit.grading",
    "grades": "kit.grading",
    "mark": "kit.marking.notebook",
    "guide": "kit.programme",
    "summary": "kit.programme",
    "report": "kit.programme",
    "programme_report": "kit.programme",
    "tasks": "kit.programme",
    "record_deliberation": "kit.deliberation",
    "try_answers": "kit.trial",
    "load_course": "kit.course",
    "hub": "kit.hub",
    "import_nbgrader": "kit.importers",
    "import_otter": "kit.importers",
    "export_marks": "kit.marking.sheets",
    "import_marks": "kit.marking.sheets",
    "live": "kit.live",
}


def command_package(package: str, target: str) -> None:
    """Make `package` callable as the command function `target` ("module:function").

    ``kit.hub`` and ``kit.live`` are both a package and a command's function
    (DESIGN.md: one function per command, ``kit.<name>``). Importing a
    submodule sets the package as an attribute of ``kit``, which would replace
    the function of the same name; a callable package keeps ``kit.live(...)``
    working whichever came first.
    """

    module_name, func = target.split(":")

    class _Command(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(importlib.import_module(module_name), func)(*args, **kwargs)

    sys.modules[package].__class__ = _Command


def __getattr__(name: str):
    if name in _API:
        module = importlib.import_module(_API[name])
        # a command package (kit.hub, kit.live) is the command itself
        return module if _API[name] == f"kit.{name}" else getattr(module, name)
    raise AttributeError(f"module 'kit' has no attribute {name!r}")


__all__ = sorted(_API) + ["__version__"]
