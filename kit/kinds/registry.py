"""The registry: every kind by name, and the functions that dispatch on a spec's kind."""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Iterator
from typing import Any

from kit import artifacts, messages
from kit.artifacts import JudgedTest
from kit.kinds import choice, code, essay, multi, number, observation, ranking, rating, text, upload
from kit.kinds.base import (
    GENERIC,
    KEY_OPTIONS,
    KeyRecord,
    Kind,
    PracticeHashes,
    QuestionSpec,
    Score,
    key_parts,
)


class UnknownKind(KeyError):
    """A kind name the registry does not know; the message lists the known ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown question kind"


class KindRegistry:
    """The question kinds casekit knows, by name, in the order they were registered."""

    def __init__(self) -> None:
        self._kinds: dict[str, Kind] = {}

    def register(self, kind: Kind) -> Kind:
        """Add (or replace) a kind under its ``name``, with the messages it brings."""
        if not kind.name:
            raise ValueError("a question kind needs a name")
        self._kinds[kind.name] = kind
        messages.register(kind.messages)
        return kind

    def unregister(self, name: str) -> None:
        """Forget a kind (a course-specific kind that is no longer wanted; tests)."""
        self._kinds.pop(name, None)

    def get(self, name: Any) -> Kind:
        """The kind called ``name``; :class:`UnknownKind` when there is none."""
        try:
            return self._kinds[name]
        except (KeyError, TypeError):
            known = ", ".join(self._kinds)
            raise UnknownKind(f"unknown question kind {name!r}; known kinds: {known}") from None

    def find(self, name: Any) -> Kind:
        """The kind called ``name``, or a generic kind for names read from untrusted places."""
        return self._kinds.get(name, GENERIC) if isinstance(name, str) else GENERIC

    def names(self, **flags: bool) -> tuple[str, ...]:
        """Names of the kinds whose flags have the given values, e.g. ``names(keyed=True)``."""
        return tuple(
            n for n, k in self._kinds.items() if all(getattr(k, f) == v for f, v in flags.items())
        )

    def __iter__(self) -> Iterator[Kind]:
        return iter(self._kinds.values())

    def __contains__(self, name: object) -> bool:
        return name in self._kinds


registry = KindRegistry()
for _module in (choice, multi, number, text, essay, ranking, code, rating, observation, upload):
    registry.register(_module.KIND)

get = registry.get
find = registry.find
names = registry.names


@functools.lru_cache(maxsize=64)
def _parameters(declare: Any) -> tuple[inspect.Parameter, ...]:
    return tuple(inspect.signature(declare).parameters.values())


def arguments(name: str) -> tuple[str, ...]:
    """The keywords ``ask.<name>(...)`` takes: its kind's ``declare`` and ``optional``."""
    params = _parameters(get(name).declare)
    return (
        *(p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)),
        "optional",
    )


def unknown_arguments(name: str, given: Any) -> list[str]:
    """The keywords among `given` that ``ask.<name>(...)`` does not take ([] for a ``**kwargs`` kind)."""
    if any(p.kind == p.VAR_KEYWORD for p in _parameters(get(name).declare)):
        return []
    valid = arguments(name)
    return [g for g in given if g not in valid]


def key_options(name: str) -> tuple[str, ...]:
    """The options ``key(qid, value, ...)`` takes for a question of kind `name`."""
    return (*KEY_OPTIONS, *find(name).key_options)


def closest(word: str, known: Any) -> str:
    """ " (did you mean 'x'?)" for the known name nearest `word` (papermill's rule, difflib), or ""."""
    near = difflib.get_close_matches(word, list(known), n=1)
    return messages.t("author.did_you_mean", name=near[0]) if near else ""


def key_problems(spec: QuestionSpec, record: KeyRecord) -> list[tuple[str, str]]:
    """(why, fix) for each reason a key record ``{"id", "value", ...options}`` cannot be the key of `spec`.

    Its options must be ones its kind takes, its value of the shape its kind
    declares (:meth:`Kind.key_problem`). Texts in the current language; [] when it can.
    """
    name = str(spec.get("kind") or "")
    value, opts = key_parts(record)
    allowed = key_options(name)
    found = [
        (
            messages.t(
                "author.key_unknown_option",
                qid=spec.get("id"),
                name=o,
                near=closest(o, allowed),
                kind=name,
                valid=", ".join(allowed),
            ),
            messages.t("author.unknown_argument_fix"),
        )
        for o in opts
        if o not in ("id", "value", *allowed)
    ]
    why = None if value is None else find(name).key_problem(spec, value, opts)
    return found + ([(why, messages.t("author.key_fix"))] if why else [])


def score(
    spec: QuestionSpec,
    key: KeyRecord | None,
    answer: Any,
    *,
    tests: list[JudgedTest] | None = None,
    run_error: str | None = None,
) -> Score:
    """Score `answer` to question `spec` against `key` (``{"id","value",...}``): the grader's function.

    Pure: no widgets, no kernel. ``tests`` (judged ``test+json`` records)
    decide a code question. An empty answer always scores "unanswered".
    """
    return find(spec.get("kind")).score(spec, key, answer, tests=tests, run_error=run_error)


def is_empty(kind: str | QuestionSpec | None, value: Any) -> bool:
    """Whether `value` is no answer to a question of `kind` (a name or a spec)."""
    name = kind.get("kind") if isinstance(kind, dict) else kind
    return find(name).is_empty(value)


def practice_hashes(spec: QuestionSpec, key: KeyRecord | None, salt: str) -> PracticeHashes:
    """Salted hashes that let a practice workbook check answers without the key ({} if not checkable)."""
    return find(spec.get("kind")).practice_hashes(spec, key, salt)


def practice_check(spec: QuestionSpec, hashes: PracticeHashes, answer: Any) -> bool | None:
    """Check `answer` against :func:`practice_hashes` output; None if not checkable."""
    return find(spec.get("kind")).practice_check(spec, hashes, answer)


def practice_table(keys: artifacts.KeysFile, secret: str) -> dict[str, PracticeHashes]:
    """Practice hashes of every checkable question of a keys file (question id → hashes)."""
    specs = keys.specs()
    out = {}
    for qid, k in keys.keys.items():
        if qid in specs:
            h = practice_hashes(specs[qid], k, artifacts.practice_salt(secret, qid))
            if h:
                out[qid] = h
    return out
