"""The authoring API: ``ask``, ``key``, ``test`` (``from kit.questions import ask, key, test``).

An instructor declares a question with ``ask.<kind>(qid, prompt, ...)``; the
kinds and their arguments come from the registry (:mod:`kit.kinds`). The
returned `Question` displays itself as

* ``application/vnd.casekit.question+json``: the spec, never the key;
* ``text/html``: a static, escaped rendering used by handouts (with the
  trainee's answer when one is known);
* ``text/plain``;
* and, only inside a live Jupyter kernel that is not a build or grade run
  (``CASEKIT_MODE`` unset), a live ipywidgets view bound to the workbook's
  answer store (`kit.workbook`).

Scoring, practice hashes and renderings live with the kinds; they are
re-exported here for notebooks and tools that imported them from this module.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kit import kernel_state as kernel
from kit import kinds
from kit.artifacts import ANSWER_MARKER as ANSWER_MARKER
from kit.artifacts import (
    MIME_KEY,
    MIME_QUESTION,
    MIME_REVEAL,
    MIME_TEST,
    MIME_WIDGET,
    REVEAL_WHEN,
    RecordedTest,
)
from kit.artifacts import answer_cell_qid as answer_cell_qid
from kit.kernel_state import KEYS, QUESTIONS, TESTS, in_live_kernel
from kit.kernel_state import rerun_tests as rerun_tests
from kit.kinds import practice_check as practice_check
from kit.kinds import practice_hashes as practice_hashes
from kit.kinds import practice_table as practice_table
from kit.kinds import render_html, render_plain
from kit.kinds import score as score
from kit.kinds.base import QID_RE, UNIT_COLOURS, AuthoringError, KeyRecord, QuestionSpec, jsonable
from kit.kinds.base import Score as Score
from kit.kinds.base import normalise_text as normalise_text
from kit.kinds.base import parse_number as parse_number
from kit.kinds.code import answer_stub as answer_stub
from kit.kinds.code import code_is_empty as code_is_empty
from kit.kinds.observation import DEFAULT_OBSERVATION_FIELDS as DEFAULT_OBSERVATION_FIELDS
from kit.messages import t
from kit.workbook.widgets import QuestionView as QuestionView
from kit.workbook.widgets import build_view

__all__ = [
    "AuthoringError",
    "KeyRefused",
    "Question",
    "ask",
    "hidden_tests",
    "key",
    "reveal",
    "test",
]

KINDS = kinds.names()

_MISSING: Any = object()


class KeyRefused(RuntimeError):
    """`key()` was called inside a trainee workbook. Carries no key data."""

    def _render_traceback_(self) -> list[str]:
        return [f"casekit: {self}"]


# ---------------------------------------------------------------- Question


@dataclass
class Question:
    """A declared question. `spec` is JSON-able and never holds the key."""

    spec: QuestionSpec
    view: Any = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.spec["id"]

    @property
    def kind(self) -> str:
        return self.spec["kind"]

    @property
    def answer(self) -> Any:
        """The stored answer value in the open workbook, or None."""
        rt = kernel.current_runtime()
        if rt is None:
            return None
        entry, _ = rt.lookup(self.id, self.spec)
        return None if entry is None else entry.get("value")

    def to_html(self, answer: Any = _MISSING, language: str | None = None) -> str:
        """Static HTML rendering (everything escaped)."""
        if answer is _MISSING:
            answer = self._known_answer()
        return render_html(self.spec, answer, language or kernel.language())

    def _known_answer(self) -> Any:
        rt = kernel.current_runtime()
        if rt is None:
            return None
        try:
            entry, _ = rt.lookup(self.id, self.spec)
        except Exception:  # a broken store must not break a handout
            return None
        return None if entry is None else entry.get("value")

    def widget(self, runtime: Any = None) -> Any:
        """Build (or rebuild) the live widget view, bound to `runtime`.

        Rebuilding reads the store, so the view shows the saved answer.
        """
        from kit.workbook.runtime import preview_runtime

        rt = runtime or kernel.current_runtime() or preview_runtime()
        self.view = build_view(self.spec, rt)
        return self.view

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        lang = kernel.language()
        bundle = {
            MIME_QUESTION: self.spec,
            "text/html": self.to_html(language=lang),
            "text/plain": render_plain(self.spec, lang),
        }
        if in_live_kernel():
            view = self.widget()
            bundle[MIME_WIDGET] = view.box._repr_mimebundle_()[MIME_WIDGET]
        return bundle

    def __repr__(self) -> str:
        return f"Question({self.kind} {self.id!r})"


def _make(kind: str, qid: str, prompt: str, points: float, **fields: Any) -> Question:
    if not isinstance(qid, str) or not QID_RE.match(qid):
        raise AuthoringError(t("author.bad_qid", qid=qid))
    if not isinstance(prompt, str) or not prompt.strip():
        raise AuthoringError(t("author.no_prompt", qid=qid))
    if not isinstance(points, int | float) or points < 0:
        raise AuthoringError(t("author.bad_points", qid=qid))
    ns = kernel.user_ns()
    unit = fields.pop("unit", None) or ns.get("unit") or None
    spec: QuestionSpec = {
        "id": qid,
        "kind": kind,
        "prompt": prompt,
        "points": points,
        "unit": unit,
    }
    colour = ns.get("unit_colour") or UNIT_COLOURS.get(str(unit or ""))
    if colour:
        spec["colour"] = colour
    if ns.get("unit_name") and unit == ns.get("unit"):
        spec["unit_name"] = str(ns["unit_name"])
    spec.update(jsonable(fields))
    QUESTIONS[qid] = spec
    rt = kernel.current_runtime()
    if rt is not None:
        rt.register(spec)
    return Question(spec)


class _Ask:
    """Namespace of question constructors, one per registered kind: ``ask.choice(...)`` etc."""

    def __getattr__(self, name: str) -> Callable[..., Question]:
        if name.startswith("_") or name not in kinds.registry:
            raise AttributeError(t("author.no_kind", name=name, kinds=", ".join(kinds.names())))
        kind = kinds.get(name)

        @functools.wraps(kind.declare)
        def ask_kind(*args: Any, optional: bool | None = None, **kwargs: Any) -> Question:
            _known_arguments(name, args, kwargs)
            qid, prompt, points, fields = kind.declare(*args, **kwargs)
            # Optional items never block completion; a free-text question worth
            # nothing (a comment, a suggestion) is optional unless the author says not.
            if optional if optional is not None else (kind.free_text and not points):
                fields = {**fields, "optional": True}
            return _make(kind.name, qid, prompt, points, **fields)

        return ask_kind

    def __dir__(self) -> list[str]:
        return list(kinds.names())


ask = _Ask()


def _known_arguments(kind: str, args: tuple, kwargs: dict[str, Any]) -> None:
    """Refuse a misspelt keyword (``tolerence=``) in the author's words, not as a raw TypeError."""
    wrong = kinds.unknown_arguments(kind, kwargs)
    if wrong:
        valid = kinds.arguments(kind)
        qid = args[0] if args else kwargs.get("qid")
        raise AuthoringError(
            t(
                "author.unknown_argument",
                kind=kind,
                qid=qid,
                name=wrong[0],
                near=kinds.closest(wrong[0], valid),
                valid=", ".join(valid),
            )
        )


# --------------------------------------------------------------------- keys


def key(qid: str, value: Any, **opts: Any) -> dict | None:
    """Record the key of question `qid` (only in cells tagged ``key``).

    Options every kind takes: ``explain="..."``, the author's explanation a
    feedback page shows beside the right answer, and ``reveal=`` —
    ``"after-due"`` (the default), ``"always"`` or ``"never"`` — when it may
    show them (overrides the session's :func:`reveal`). Kinds read their own
    options (``tolerance=``, ``rubric=``).

    Displays ``application/vnd.casekit.key+json``. Refused inside a trainee
    workbook (an open workbook without ``CASEKIT_MODE``): the refusal shows no
    value and records nothing.
    """
    if not os.environ.get("CASEKIT_MODE") and kernel.current_runtime() is not None:
        raise KeyRefused(t("key_refused", kernel.language()))
    if not isinstance(qid, str) or not QID_RE.match(qid):
        raise AuthoringError(t("author.key_bad_qid", qid=qid))
    _check_reveal(opts.get("reveal"), qid)
    if "explain" in opts and not isinstance(opts["explain"], str):
        raise AuthoringError(t("author.explain_text", qid=qid))
    record: KeyRecord = {"id": qid, "value": jsonable(value), **jsonable(opts)}
    KEYS[qid] = record
    kernel.display_bundle({MIME_KEY: record, "text/plain": f"key {qid}: {record['value']!r}"})
    return None


def _check_reveal(when: Any, qid: str) -> None:
    if when is not None and when not in REVEAL_WHEN:
        raise AuthoringError(t("author.reveal", qid=qid, when=when, options=", ".join(REVEAL_WHEN)))


def reveal(when: str) -> None:
    """When this session's feedback pages show right answers and explanations (in a ``key`` cell).

    ``"after-due"`` (the default): once the session's due time has passed (a
    session without one: at the end of its day); ``"always"``: as soon as
    feedback is written; ``"never"``. ``key(..., reveal=...)`` overrides it
    for one question.
    """
    if not os.environ.get("CASEKIT_MODE") and kernel.current_runtime() is not None:
        raise KeyRefused(t("key_refused", kernel.language()))
    _check_reveal(when, "*")
    kernel.display_bundle({MIME_REVEAL: {"reveal": when}, "text/plain": f"reveal: {when}"})


# -------------------------------------------------------------------- tests


@dataclass
class TestCase:
    """A registered `@test` function, re-runnable by a grader."""

    question: str
    name: str
    points: float
    func: Callable[[], Any]
    hidden: bool = False

    __test__ = False  # keep pytest from collecting this class

    def run(self) -> RecordedTest:
        """Run the function; return the ``test+json`` record."""
        passed, message = True, ""
        try:
            self.func()
        except AssertionError as exc:
            passed, message = False, str(exc) or t("author.assertion_failed")
        except Exception as exc:  # a crashing test fails, it never errors the cell
            passed, message = False, f"{type(exc).__name__}: {exc}"
        return {
            "question": self.question,
            "name": self.name,
            "points": self.points,
            "passed": passed,
            "message": message[:2000],
            "hidden": self.hidden,
        }


_hidden_flag: list[bool] = []


@contextlib.contextmanager
def hidden_tests(hidden: bool = True) -> Iterator[None]:
    """Mark `@test`s declared inside this block as hidden (for the grader)."""
    _hidden_flag.append(hidden)
    try:
        yield
    finally:
        _hidden_flag.pop()


def _hidden_now() -> bool:
    if _hidden_flag:
        return _hidden_flag[-1]
    return os.environ.get("CASEKIT_HIDDEN_TESTS", "").lower() in ("1", "true", "yes")


def test(qid: str, points: float = 1, name: str | None = None) -> Callable:
    """Decorator: run the test now, display its result, register it.

    ``hidden`` comes from ``CASEKIT_HIDDEN_TESTS=1`` or `hidden_tests()`.
    """

    def decorate(func: Callable[[], Any]) -> Callable[[], Any]:
        case = TestCase(qid, name or func.__name__, points, func, _hidden_now())
        TESTS[(qid, case.name)] = case
        if kernel.in_voila():
            # Voilà runs tests on open, before any answer: the code editor shows them after a run
            return func
        record = case.run()
        mark = "✓" if record["passed"] else "✗"
        plain = f"{mark} {qid} · {case.name} ({points})"
        if not record["passed"] and not record["hidden"]:
            plain += f": {record['message']}"
        kernel.display_bundle({MIME_TEST: record, "text/plain": plain})
        return func

    return decorate
