"""Which language casekit speaks, decided without loading a course.

The command line (its messages and its ``--help``) and the importers ask here:
``--lang``, else ``CASEKIT_LANG``, else the language the course's ``course.toml``
declares, else the locale. Only ``tomllib``: ``casekit --help`` reads it and
must not pay for pydantic's models.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Final

#: What ``programme.language`` is when ``course.toml`` does not say (``kit.course.Programme``).
DEFAULT: Final = "zh"


def declared_language(root: Path | str) -> str | None:
    """The language ``course.toml`` in `root` declares, read without validating the course.

    ``None`` when there is no readable ``course.toml`` (not a course folder).
    """
    try:
        raw = tomllib.loads((Path(root) / "course.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    programme = raw.get("programme")
    language = programme.get("language") if isinstance(programme, dict) else None
    return language if isinstance(language, str) else DEFAULT


def locale_language() -> str:
    """``zh`` when the locale is Chinese, else ``en``."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def choose(lang: str | None, course: Path | str | None) -> str:
    """``lang``, else ``CASEKIT_LANG``, else `course`'s declared language, else the locale's."""
    return (
        lang
        or os.environ.get("CASEKIT_LANG")
        or (declared_language(course) if course is not None else None)
        or locale_language()
    )
