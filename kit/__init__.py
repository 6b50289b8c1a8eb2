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

__version__ = "0.1.0"

_API = {
    "check": "kit.builder",
    "build": "kit.builder",
    "handouts": "kit.export",
    "release": "kit.workbook",
    "submit": "kit.workbook",
    "collect": "kit.grading",
    "grade": "kit.grading",
    "feedback": "kit.grading",
    "grades": "kit.grading",
    "mark": "kit.marking",
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
    "export_marks": "kit.marksheet",
    "import_marks": "kit.marksheet",
    "live": "kit.liveview",
}


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'kit' has no attribute {name!r}")


__all__ = sorted(_API) + ["__version__"]
