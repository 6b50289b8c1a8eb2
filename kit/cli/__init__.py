"""The ``casekit`` command line: a thin typer layer over the ``kit`` functions.

Each command calls one function and prints its result. User errors (a bad
course file, a missing cohort, a malformed submission) print one line per
problem and exit with status 2; failed items of a batch exit with status 1.
The commands live by who uses them (authoring, classroom, grading,
programme); `kit.cli.base` holds what they share. Importing them registers
them on the app, in the order `casekit --help` lists them.
"""

from kit.cli import authoring, classroom, grading, programme  # noqa: F401 - registers commands
from kit.cli.base import app, main

__all__ = ["app", "main"]
