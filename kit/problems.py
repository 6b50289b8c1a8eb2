"""What goes wrong, as values: a located problem, a failed batch item, a batch's outcome, user errors.

Every module reports through these (``CourseError.at(file, message, fix)``),
and the command line prints them without a traceback. They need no course
model (no pydantic), so anything may raise or catch them cheaply.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kit.messages import t


@dataclass
class Problem:
    """One thing wrong with a course, located precisely enough to fix it."""

    file: str
    where: str = ""  # "row 7", "cell 3", "[programme]"
    field: str = ""
    message: str = ""
    fix: str = ""
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        loc = self.file + (f":{self.where}" if self.where else "")
        fld = f" {self.field}:" if self.field else ""
        fix = f" — {self.fix}" if self.fix else ""
        tag = t("problem.warning") if self.severity == "warning" else ""
        return f"{loc}:{fld} {tag}{self.message}{fix}"


@dataclass
class Failure:
    """One item of a batch that did not succeed, with its cause."""

    item: str
    cause: str
    file: str = ""

    def __str__(self) -> str:
        return f"{self.item}: {self.cause}" + (f" ({self.file})" if self.file else "")


@dataclass
class Outcome:
    """What a batch command did: the files it wrote and the items that failed."""

    written: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class UserError(Exception):
    """An error the user caused and can fix: the CLI prints it without a traceback."""


class CourseError(UserError):
    """Raised when user input is wrong; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @classmethod
    def at(cls, file: Path | str, message: str, fix: str = "", where: str = "") -> CourseError:
        """One problem in one file."""
        return cls([Problem(str(file), where=where, message=message, fix=fix)])

    @classmethod
    def choice(
        cls, value: str, field: str, message: str, options: list[str] | tuple[str, ...]
    ) -> CourseError:
        """A value that is not one of `options` (an option, a format): the fix lists them."""
        fix = t("course.use_one_of", options=", ".join(options))
        return cls([Problem(value, field=field, message=message, fix=fix)])


#: OS error numbers a reader is told about in words (the rest: "the system refused").
_OS_REASONS = {
    errno.EACCES: "os.denied",
    errno.EPERM: "os.denied",
    errno.ENOENT: "os.missing",
    errno.ENOSPC: "os.full",
    errno.EDQUOT: "os.full",
    errno.EROFS: "os.read_only",
    errno.EISDIR: "os.is_folder",
}


def os_reason(exc: OSError, language: str | None = None) -> str:
    """Why an OS call failed, as a sentence in `language`: never ``[Errno 13]``, never English.

    The file is named when the error knows it (a trainee can tell their
    instructor which file); what to do comes with it.
    """
    key = _OS_REASONS.get(exc.errno or 0, "os.other")
    name = exc.filename if exc.filename is not None else ""
    where = t("os.where", language, path=name) if name else ""
    return t(key, language, where=where)
