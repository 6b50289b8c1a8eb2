"""Every user-facing string of casekit, in Chinese and English: one catalogue.

Widgets, pages, course problems, the command line: each text is a keyed
template with named placeholders (``t("nb.unknown_tag", tag="x")``), kept in
``kit/messages/zh.py`` and ``kit/messages/en.py`` (the texts of pages in
``pages_zh.py`` and ``pages_en.py``, the markers' in ``marking_*.py``, the
command line's help in ``cli_*.py``) (``tests/test_messages.py``
checks that every key is in both, with the same placeholders). A question
kind may bring its own messages (``Kind.messages``); :func:`register` adds
them without overriding the catalogue's own.

Which language: an explicit ``language`` argument wins (a workbook speaks its
course's language whatever the machine says); otherwise the language set for
this context (:func:`speaking`, :func:`set_language` — the command line sets
the course's), else ``CASEKIT_LANG``, else English.

Texts are rendered when they are made (a problem's message is a plain
string), so set the language before the work that produces them.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import string
from collections.abc import Iterator

from kit.messages.cli_en import MESSAGES as _CLI_EN
from kit.messages.cli_zh import MESSAGES as _CLI_ZH
from kit.messages.en import MESSAGES as _EN
from kit.messages.hub_en import MESSAGES as _HUB_EN
from kit.messages.hub_zh import MESSAGES as _HUB_ZH
from kit.messages.import_en import MESSAGES as _IMPORT_EN
from kit.messages.import_zh import MESSAGES as _IMPORT_ZH
from kit.messages.marking_en import MESSAGES as _MARKING_EN
from kit.messages.marking_zh import MESSAGES as _MARKING_ZH
from kit.messages.pages_en import MESSAGES as _PAGES_EN
from kit.messages.pages_zh import MESSAGES as _PAGES_ZH
from kit.messages.zh import MESSAGES as _ZH

#: The catalogue in files per language, by audience: pages (pages_*), markers (marking_*),
#: bringing courses over (import_*), the classroom hub (hub_*), the command line's help
#: (cli_*), and the rest.
EN: dict[str, str] = {**_EN, **_PAGES_EN, **_MARKING_EN, **_IMPORT_EN, **_HUB_EN, **_CLI_EN}
ZH: dict[str, str] = {**_ZH, **_PAGES_ZH, **_MARKING_ZH, **_IMPORT_ZH, **_HUB_ZH, **_CLI_ZH}

LANGUAGES = ("zh", "en")
#: language → key → template. Kinds and courses may add keys (:func:`register`).
MESSAGES: dict[str, dict[str, str]] = {"zh": ZH, "en": EN}

_language: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "casekit_language", default=None
)


def lang_of(language: str | None) -> str:
    """The language if casekit speaks it, else English."""
    return language if language in LANGUAGES else "en"


def current() -> str:
    """The language texts are rendered in when none is given."""
    return lang_of(_language.get() or os.environ.get("CASEKIT_LANG") or "en")


def set_language(language: str | None) -> None:
    """Speak `language` from now on in this context (the command line sets the course's)."""
    _language.set(lang_of(language) if language else None)


@contextlib.contextmanager
def speaking(language: str | None) -> Iterator[str]:
    """Render texts in `language` inside the block (``None``: leave it as it is)."""
    if not language:
        yield current()
        return
    token = _language.set(lang_of(language))
    try:
        yield current()
    finally:
        _language.reset(token)


def t(key: str, language: str | None = None, /, **kwargs: object) -> str:
    """The message `key` in `language` (default: :func:`current`), formatted with `kwargs`.

    Falls back to English, then Chinese, then the key itself, and a template
    that does not format is returned as it is: a missing translation shows
    something readable instead of raising in a trainee's notebook.
    """
    lang = lang_of(language) if language else current()
    text = MESSAGES[lang].get(key) or EN.get(key) or ZH.get(key) or key
    try:
        return text.format(**kwargs)
    except (KeyError, IndexError, ValueError, AttributeError):
        return text


def section(prefix: str, language: str | None = None) -> dict[str, str]:
    """Every message under ``prefix.`` in `language`, keyed by the rest of its key.

    For label tables handed to templates as a whole (``section("guide")["units"]``).
    """
    lang = lang_of(language) if language else current()
    head = prefix + "."
    return {k[len(head) :]: t(k, lang) for k in EN if k.startswith(head)}


def register(messages: dict[str, dict[str, str]]) -> None:
    """Add messages (language → key → template); the catalogue's own entries win."""
    for language, texts in messages.items():
        catalogue = MESSAGES.setdefault(language, {})
        for key, text in texts.items():
            catalogue.setdefault(key, text)


def placeholders(template: str) -> set[str]:
    """The named placeholders of a template (``{n}``, ``{tag!r}`` → ``n``, ``tag``)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
