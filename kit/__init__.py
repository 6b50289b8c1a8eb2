"""casekit: parameterised case teaching with Jupyter.

The commands are plain functions (``kit.check``, ``kit.build``, ``kit.handouts``,
``kit.release``, ``kit.submit``, ``kit.collect``, ``kit.grade``, ``kit.mark``,
``kit.feedback``, ``kit.grades``, ``kit.guide``, ``kit.summary``); the ``casekit``
command line is a thin layer over them. They are imported lazily so that a
notebook doing ``from kit.questions import ask`` stays light.
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
    "load_course": "kit.course",
    "hub": "kit.hub",
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
