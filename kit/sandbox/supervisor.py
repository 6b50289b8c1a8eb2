"""Grading code answers in the sandbox: the supervisor's side.

``CodeGrader`` keeps one sandboxed zygote (``kit.sandbox.boxes``) warm for a whole
grading run and, per session notebook, two *templates*: processes that ran
the notebook's first cells — up to the first answer or tests cell — once, one
as the trainee sees them and one as the instructor edition has them.  Each
submission then costs two boxes forked from those templates (``kit.sandbox.judge``):
the trainee's box runs the trainee's code, the judge's box runs the tests
with the trainee's values injected.  Verdicts come only from the judge's
records, and every expected test must report: a test without a record is
failed, with its cause, so a box that dies or is killed never makes a test
pass.

    with CodeGrader() as grader:
        run = grader.run(instructor_nb, {"q-code": code}, expected_tests, files=files)

Grading reaches it only through ``kit.grading.coderun`` (the seam that reads a
course's limits, data files and keys).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from typing import Any

from kit.artifacts import JudgedTest, RecordedTest
from kit.execution.zygote import describe_status
from kit.sandbox.answers import (
    FailureKind,
    RunFailure,
    TestOutcome,
    answer_names,
    defines_callables,
)
from kit.sandbox.boxes import Box, Limits, Template, Zygote

__all__ = ["CodeGrader", "CodeJob", "CodeRun", "is_unanswered"]

_TESTS = {"tests", "hidden-tests"}


@dataclass
class CodeRun:
    """What running one submission's code answers gave.

    ``tests``: one dict per expected test, ``{question, name, hidden, passed,
    points, max_points, message, withheld}`` (``withheld``: the message could
    carry what hidden tests passed to the trainee's function, so it is not
    shown).  ``failures``: typed causes (``kit.sandbox.judge.RunFailure``) for the
    feedback page.  ``seconds``: wall time of this submission.
    """

    tests: list[JudgedTest]
    failures: list[RunFailure] = field(default_factory=list)
    seconds: float = 0.0
    shapes: dict[str, dict[str, str]] | None = None  # what the answers held (a proof's run)


@dataclass
class CodeJob:
    """One submission for ``CodeGrader.run_many``: the arguments of ``CodeGrader.run``."""

    name: str
    instructor_nb: Any
    answers: dict[str, str | None]
    expected_tests: list[RecordedTest]
    parameters: dict[str, Any] | None = None
    files: dict[str, bytes] | None = None
    limits: Limits | None = None


# ----------------------------------------------------------------------------- the plan


@dataclass
class _Plan:
    """Which cells each side runs, from one instructor edition."""

    key: str
    trainee_prefix: list[dict[str, Any]]
    judge_prefix: list[dict[str, Any]]
    trainee_rest: list[dict[str, Any]]
    judge_rest: list[dict[str, Any]]
    questions: list[str]
    functions: bool  # a solution before the last one defines a function or class
    solutions: dict[str, str]  # question -> the instructor's solution (stubs left out)
    shapes: dict[str, dict[str, str]] | None  # question -> name -> kind; None: not known yet


def _plan(nb: Any, parameters: dict[str, Any] | None) -> _Plan:
    from kit import notebooks

    nb = copy.deepcopy(nb)
    if parameters:
        from kit.execution.executor import _prepare

        nb = _prepare(nb, parameters)
    nb = notebooks.annotate(nb)
    gap = "# …"
    trainee: list[dict[str, Any]] = []
    judge: list[dict[str, Any]] = []
    questions: list[str] = []
    solutions: dict[str, str] = {}
    shapes: dict[str, dict[str, str]] | None = {}
    callables: list[bool] = []  # per answer cell: its solution defines a function
    for index, cell in enumerate(nb.cells):
        src = notebooks.source(cell)
        tags = notebooks.tags(cell)
        if cell.cell_type != "code" or not src.strip() or "skip-execution" in tags:
            continue
        meta = (cell.get("metadata") or {}).get("casekit") or {}
        role = meta.get("role") or ""
        if role == "answer":
            qid = meta["question"]
            if qid in questions:
                continue  # a second solution cell for one question is not an answer cell
            questions.append(qid)
            if not is_unanswered(src):
                solutions[qid] = src
            known = meta.get("shapes")
            if isinstance(known, dict) and shapes is not None:
                shapes[qid] = {str(k): str(v) for k, v in known.items()}
            else:
                shapes = None  # built before shapes were recorded: learn them from the solution
            names = answer_names(src)
            callables.append(defines_callables(src))
            trainee.append({"index": index, "source": "", "question": qid,
                            "names": [n.name for n in names]})  # fmt: skip
            judge.append({"index": index, "source": "", "role": "answer", "question": qid,
                          "names": [(n.name, n.weak) for n in names]})  # fmt: skip
            continue
        judge.append({"index": index, "source": src, "role": role, "question": None})
        if (
            role in _TESTS
            or role in ("key", "teaching-note", "answer-text")
            or tags & notebooks.INSTRUCTOR_ONLY
        ):
            continue
        # What the trainee's edition shows: solution blocks of other cells are stripped.
        trainee.append({"index": index, "source": notebooks.SOLUTION_BLOCK.sub(r"\1" + gap + "\n", src),
                        "question": None})  # fmt: skip
    first = min((s["index"] for s in judge if s["role"] in ("answer", *_TESTS)), default=None)
    last_answer = max((s["index"] for s in judge if s["role"] == "answer"), default=-1)
    last_judged = max((s["index"] for s in judge if s["role"] in ("answer", *_TESTS)), default=-1)
    if first is None:
        first = len(nb.cells)
    plan = _Plan(
        key="",
        trainee_prefix=[_plain(s) for s in trainee if s["index"] < first],
        judge_prefix=[_plain(s) for s in judge if s["index"] < first],
        trainee_rest=[s for s in trainee if first <= s["index"] <= last_answer],
        judge_rest=[s for s in judge if first <= s["index"] <= last_judged],
        questions=questions,
        # Call servers keep a function answer's state safe from later cells; the
        # last answer has no later cells, so only earlier function answers need one.
        functions=any(callables[:-1]),
        solutions=solutions,
        shapes=shapes,
    )
    plan.key = hashlib.sha256(
        json.dumps([plan.trainee_prefix, plan.judge_prefix], sort_keys=True).encode()
    ).hexdigest()
    return plan


def _plain(step: dict[str, Any]) -> dict[str, Any]:
    return {"index": step["index"], "source": step["source"]}


def is_unanswered(code: str | None) -> bool:
    """An answer that is nothing but comments, ``pass`` or ``...`` (an untouched stub) is no answer."""
    if not isinstance(code, str):
        return True
    return not [
        ln
        for ln in code.splitlines()
        if ln.strip() and not ln.strip().startswith("#") and ln.strip() not in ("pass", "...")
    ]


# ----------------------------------------------------------------------------- the grader


class CodeGrader:
    """Runs code answers in the sandbox, many submissions per warm zygote.

    ``unsafe=True`` runs the same protocol without bubblewrap and namespaces
    (for machines without user namespaces, by explicit choice); otherwise a
    missing or unusable ``bwrap`` raises ``kit.sandbox.boxes.SandboxUnavailable``,
    whose message names the Debian package.
    """

    def __init__(
        self, *, limits: Limits | None = None, unsafe: bool = False, max_templates: int = 8
    ) -> None:
        self.limits = limits or Limits()
        self.unsafe = unsafe
        self.max_templates = max_templates
        self.zygote = Zygote(unsafe=unsafe)
        self._lock = threading.Lock()
        self._plans: dict[str, _Plan] = {}
        self._templates: OrderedDict[str, tuple[Template, Template, list[RunFailure]]] = (
            OrderedDict()
        )
        self._building: dict[str, threading.Lock] = {}

    # -- templates

    def _template_pair(
        self, plan: _Plan, files: dict[str, bytes], limits: Limits
    ) -> tuple[Template, Template, list[RunFailure]]:
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
        key = f"{plan.key}:{digest.hexdigest()}:{limits.cell_timeout}:{limits.answer_mb}"
        with self._lock:
            lock = self._building.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                pair = self._templates.get(key)
                if pair is not None and all(t.box.sock.fileno() != -1 for t in pair[:2]):
                    self._templates.move_to_end(key)
                    return pair
            common = {
                "engine": "template",
                "files": files,
                "confine": not self.unsafe,
                "cell_timeout": limits.cell_timeout,
                "answer_bytes": int(limits.answer_mb * 1024 * 1024),
            }
            limit = 1 << 20
            # the two templates run their first cells at the same time (one core each)
            with ThreadPoolExecutor(max_workers=2) as pool:
                made = [
                    pool.submit(Template, self.zygote, {**common, "cells": cells},
                                timeout=limits.run_timeout, limit=limit)
                    for cells in (plan.trainee_prefix, plan.judge_prefix)
                ]  # fmt: skip
                wait(made)
            if any(f.exception() is not None for f in made):
                for f in made:
                    if f.exception() is None:
                        f.result().close()
                raise made[0].exception() or made[1].exception()  # type: ignore[misc]
            trainee, judge = made[0].result(), made[1].result()
            notes = [f for f in (RunFailure.from_dict(d) for d in judge.ready[1] or []) if f]
            pair = (trainee, judge, notes)
            with self._lock:
                self._templates[key] = pair
                while len(self._templates) > self.max_templates:
                    _, old = self._templates.popitem(last=False)
                    old[0].close()
                    old[1].close()
            return pair

    # -- one submission

    def run(
        self,
        instructor_nb: Any,
        answers: dict[str, str | None],
        expected_tests: Iterable[RecordedTest],
        *,
        parameters: dict[str, Any] | None = None,
        files: dict[str, bytes] | None = None,
        limits: Limits | None = None,
    ) -> CodeRun:
        """Run one submission's code answers; never raises for anything the trainee did.

        ``instructor_nb`` is the instructor edition (roles in cell metadata or
        tags); ``parameters`` are injected papermill-style when given;
        ``answers`` maps question id → the trainee's code (None or a stub:
        unanswered); ``expected_tests`` are the test records of the keys file
        (``question``, ``name``, ``points``, ``hidden``); ``files`` are copied
        into both boxes' scratch folders (data the notebook reads).
        """
        t0 = time.monotonic()
        limits = limits or self.limits
        expected = [t for t in expected_tests]
        plan = self._plan_for(instructor_nb, parameters)
        answered = {
            q: c
            for q, c in answers.items()
            if q in plan.questions and isinstance(c, str) and not is_unanswered(c)
        }
        if not answered:
            return CodeRun(_verdicts(expected, {}, {}, set(), set(answered)), [], 0.0)
        if plan.shapes is None:
            self._learn(plan, expected, dict(files or {}), limits)
        return self._attempt(plan, answered, expected, dict(files or {}), limits, t0, plan.shapes)

    def prepare(
        self,
        instructor_nb: Any,
        *,
        parameters: dict[str, Any] | None = None,
        files: dict[str, bytes] | None = None,
        limits: Limits | None = None,
    ) -> None:
        """Start the templates a later ``run`` or ``prove`` of this notebook forks its boxes from.

        The build calls it while the notebook itself still runs, so that the
        proof of its solutions waits for nothing but its own two boxes.
        """
        plan = self._plan_for(instructor_nb, parameters)
        self._template_pair(plan, dict(files or {}), limits or self.limits)

    def prove(
        self,
        instructor_nb: Any,
        expected_tests: Iterable[RecordedTest],
        *,
        parameters: dict[str, Any] | None = None,
        files: dict[str, bytes] | None = None,
        limits: Limits | None = None,
    ) -> CodeRun:
        """Grade the instructor's own solutions as a submission, through the same two boxes.

        The build's proof of a session's keys: every expected test must pass.
        The run's ``shapes`` say what each answer name held (data, a function,
        an object): the build records them in the instructor edition, and
        grading lets an object of the trainee's stand only where the
        solution's own value was one.
        """
        t0 = time.monotonic()
        limits = limits or self.limits
        plan = self._plan_for(instructor_nb, parameters)
        run = self._attempt(plan, plan.solutions, list(expected_tests), dict(files or {}), limits,
                            t0, None)  # fmt: skip
        if plan.shapes is None and run.shapes is not None:
            plan.shapes = run.shapes
        return run

    def _learn(
        self, plan: _Plan, expected: list[RecordedTest], files: dict[str, bytes], limits: Limits
    ) -> None:
        """Shapes for an instructor edition built without them: run its solutions once."""
        with self._lock:
            lock = self._building.setdefault(f"learn:{id(plan)}", threading.Lock())
        with lock:
            if plan.shapes is not None:
                return
            run = self._attempt(plan, plan.solutions, expected, files, limits, time.monotonic(),
                                None)  # fmt: skip
            plan.shapes = run.shapes or {}

    def _attempt(
        self,
        plan: _Plan,
        answered: dict[str, str],
        expected: list[RecordedTest],
        files: dict[str, bytes],
        limits: Limits,
        t0: float,
        shapes: dict[str, dict[str, str]] | None,
    ) -> CodeRun:
        for _attempt in (1, 2):
            try:
                trainee_t, judge_t, notes = self._template_pair(plan, files, limits)
            except Exception as e:  # noqa: BLE001 - the grader's trouble costs this submission, not the batch
                cause = (
                    f"the sandbox could not run the notebook's first cells: {type(e).__name__}: {e}"
                )
                break
            try:
                return self._run(
                    plan, answered, expected, limits, trainee_t, judge_t, notes, t0, shapes
                )
            except _TemplateGone as e:
                # a template that died (killed from outside) is rebuilt once
                self._forget(trainee_t, judge_t)
                cause = f"the sandbox lost a template: {e}"
            except Exception as e:  # noqa: BLE001
                cause = f"grader error: {type(e).__name__}: {e}"
                break
        failure = RunFailure(FailureKind.GRADER, None, None, None, cause[:500])
        return CodeRun(_verdicts(expected, {}, {}, set(), set(answered)), [failure],
                       time.monotonic() - t0)  # fmt: skip

    def run_job(self, job: CodeJob) -> CodeRun:
        """``run`` for one ``CodeJob``."""
        return self.run(
            job.instructor_nb,
            job.answers,
            job.expected_tests,
            parameters=job.parameters,
            files=job.files,
            limits=job.limits,
        )

    @staticmethod
    def unrun(expected: Iterable[RecordedTest], answered: set[str]) -> list[JudgedTest]:
        """The verdicts when nothing could run: every test failed (unanswered ones as such)."""
        return _verdicts(list(expected), {}, {}, set(), answered)

    def _forget(self, *templates: Template) -> None:
        with self._lock:
            for key, pair in list(self._templates.items()):
                if any(t in pair[:2] for t in templates):
                    del self._templates[key]
                    pair[0].close()
                    pair[1].close()

    def _plan_for(self, nb: Any, parameters: dict[str, Any] | None) -> _Plan:
        key = hashlib.sha256(
            json.dumps([_code_fingerprint(nb), parameters], sort_keys=True, default=str).encode()
        ).hexdigest()
        with self._lock:
            plan = self._plans.get(key)
        if plan is None:
            plan = _plan(nb, parameters)
            with self._lock:
                self._plans[key] = plan
        return plan

    def _run(
        self,
        plan: _Plan,
        answered: dict[str, str],
        expected: list[RecordedTest],
        limits: Limits,
        trainee_t: Template,
        judge_t: Template,
        notes: list[RunFailure],
        t0: float,
        shapes: dict[str, dict[str, str]] | None,
    ) -> CodeRun:
        frame_limit = int(limits.answer_mb * 1024 * 1024) * 2 + (1 << 20)
        trainee_cells = [
            {**s, "source": answered.get(s["question"], "")} if s["question"] else s
            for s in plan.trainee_rest
        ]
        common = {"limits": limits.as_dict(), "cell_timeout": limits.cell_timeout}
        judge_job = {**common, "engine": "judge", "cells": plan.judge_rest, "limit": frame_limit,
                     "trainee_budget": limits.run_timeout * 0.6, "shapes": shapes}  # fmt: skip
        trainee_job = {**common, "engine": "trainee", "cells": trainee_cells,
                       "functions": plan.functions}  # fmt: skip
        a, b = socket.socketpair()
        try:
            # both connections first: the two templates fork their boxes at the same time
            socks = [judge_t.connect()]
            socks.append(trainee_t.connect())
            judge = Box(judge_t, judge_job, limit=1 << 24, pass_fds=(b.fileno(),), sock=socks[0])
            try:
                trainee = Box(trainee_t, trainee_job, limit=1 << 16, pass_fds=(a.fileno(),),
                              sock=socks[1])  # fmt: skip
            except BaseException:
                judge.close()
                raise
        except (OSError, RuntimeError) as e:
            raise _TemplateGone(f"{type(e).__name__}: {e}") from None
        finally:
            a.close()
            b.close()
        records: dict[tuple[str, str], list[dict[str, Any]]] = {}
        raised: dict[tuple[str, str], str] = {}
        withheld: set[tuple[str, str]] = set()
        failures: list[RunFailure] = list(notes)
        learned: dict[str, dict[str, str]] | None = None
        deadline = t0 + limits.run_timeout + 2
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                frame = judge.recv(left)
                if not isinstance(frame, tuple) or not frame:
                    cause = "the checks ended unexpectedly"
                    failures.append(RunFailure(FailureKind.GRADER, None, None, None, cause))
                    break
                if frame[0] == "tests" and len(frame) == 5:
                    _take_records(frame, records, raised, withheld)
                elif frame[0] == "failure" and len(frame) == 2:
                    f = RunFailure.from_dict(frame[1])
                    if f is not None:
                        failures.append(f)
                elif frame[0] == "shapes" and len(frame) == 2 and isinstance(frame[1], dict):
                    learned = {str(q): dict(v) for q, v in frame[1].items() if isinstance(v, dict)}
                elif frame[0] == "done":
                    break
                elif frame[0] in ("exit", "crash"):
                    cause = "the checks ended unexpectedly"
                    # only the exception's name: a traceback of the judge can quote hidden tests
                    last = str(frame[1]).strip().splitlines()[-1:] or [""]
                    detail = (
                        describe_status(frame[1])
                        if frame[0] == "exit"
                        else last[0].split(":")[0][:100]
                    )
                    failures.append(
                        RunFailure(FailureKind.GRADER, None, None, None, f"{cause}: {detail}")
                    )
                    break
        except TimeoutError:
            cause = f"the submission ran past its time limit of {limits.run_timeout:g} s"
            failures.append(RunFailure(FailureKind.RUN_TIMEOUT, None, None, None, cause))
        except Exception as e:  # noqa: BLE001
            cause = f"the checks could not be read: {type(e).__name__}: {e}"
            failures.append(RunFailure(FailureKind.GRADER, None, None, None, cause[:500]))
        finally:
            judge.close()
        failures = _refine(failures, trainee)
        trainee.close()
        tests = _verdicts(expected, records, raised, withheld, set(answered))
        return CodeRun(tests, _dedupe(failures), time.monotonic() - t0, learned)

    # -- many

    def run_many(
        self,
        jobs: list[CodeJob],
        *,
        workers: int | None = None,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> list[CodeRun]:
        """Run many submissions, up to ``workers`` at once, on this grader's zygote; results in order."""
        results: list[CodeRun | None] = [None] * len(jobs)
        n = max(1, min(workers or min(4, os.cpu_count() or 1), len(jobs) or 1))
        with ThreadPoolExecutor(max_workers=n) as pool:
            futs = {pool.submit(self.run_job, j): i for i, j in enumerate(jobs)}
            for done, fut in enumerate(as_completed(futs), 1):
                i = futs[fut]
                results[i] = fut.result()
                if progress:
                    progress(done, len(jobs), jobs[i].name)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the templates and the zygote (every box goes with them)."""
        with self._lock:
            for trainee, judge, _ in self._templates.values():
                trainee.close()
                judge.close()
            self._templates.clear()
        self.zygote.close()

    def __enter__(self) -> CodeGrader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _TemplateGone(Exception):
    """A box could not be forked from its template."""


def _code_fingerprint(nb: Any) -> list[Any]:
    return [
        [c.get("cell_type"), c.get("source"), (c.get("metadata") or {}).get("tags"),
         (c.get("metadata") or {}).get("casekit")]
        for c in nb.cells
    ]  # fmt: skip


def _take_records(
    frame: tuple[Any, ...],
    records: dict[tuple[str, str], list[dict[str, Any]]],
    raised: dict[tuple[str, str], str],
    withheld: set[tuple[str, str]],
) -> None:
    _, _index, recs, err, hide = frame
    keys = []
    for rec in recs if isinstance(recs, list) else []:
        if (
            isinstance(rec, dict)
            and isinstance(rec.get("question"), str)
            and isinstance(rec.get("name"), str)
        ):
            k = (rec["question"], rec["name"])
            records.setdefault(k, []).append(rec)
            keys.append(k)
    for k in keys:
        if isinstance(err, str):
            raised[k] = err
        if hide is True:
            withheld.add(k)


def _refine(failures: list[RunFailure], trainee: Box) -> list[RunFailure]:
    """Say how the trainee's process ended when the judge only saw it go."""
    gone = [
        f
        for f in failures
        if f.kind == FailureKind.EXIT and f.detail == "the trainee's code ended its process"
    ]
    if not gone:
        return failures
    status = None
    try:
        # the box's init reports how the cells' process ended (frames of the box's own come first)
        for _ in range(8):
            frame = trainee.recv(0.5)
            if frame is None or trainee.status is not None:
                break
            if isinstance(frame, tuple) and len(frame) == 2 and frame[0] == "runner":
                status = frame[1] if type(frame[1]) is int else None
                break
        if status is None:
            status = trainee.status  # no init: the cells ran in the box's PID 1
    except Exception:  # noqa: BLE001 - no status: keep what the judge saw
        pass
    if status is None:
        return failures
    out = []
    for f in failures:
        if f in gone:
            if os.WIFSIGNALED(status):
                kind = FailureKind.CRASHED
            else:
                kind = FailureKind.EXIT
            f = RunFailure(
                kind,
                f.question,
                f.cell,
                f.line,
                f"the trainee's code ended its process: {describe_status(status)}",
            )
        out.append(f)
    return out


def _dedupe(failures: list[RunFailure]) -> list[RunFailure]:
    seen: set[RunFailure] = set()
    out = []
    for f in failures:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


def _verdicts(
    expected: list[RecordedTest],
    records: dict[tuple[str, str], list[dict[str, Any]]],
    raised: dict[tuple[str, str], str],
    withheld: set[tuple[str, str]],
    answered: set[str],
) -> list[JudgedTest]:
    """One verdict per expected test: passed only if it reported, every record passed and its cell raised nothing."""
    out: list[JudgedTest] = []
    for t in expected:
        k = (t["question"], t["name"])
        rs = records.get(k, [])
        pts = float(t.get("points", 1) or 0)
        passed = bool(rs) and all(r.get("passed") is True for r in rs) and k not in raised
        # the outcome is typed; the message is the author's (or the exception a tests cell raised)
        msg = ""
        if t["question"] not in answered:
            passed, outcome = False, TestOutcome.UNANSWERED
        elif passed:
            outcome = TestOutcome.PASSED
        elif not rs:
            outcome = (
                TestOutcome.NOT_RUN
            )  # why: the typed failures (a grader's is not for trainees)
        elif k in raised:
            outcome, msg = TestOutcome.RAISED, raised[k]
        else:
            outcome = TestOutcome.FAILED
            msg = next((str(r.get("message") or "") for r in rs if r.get("passed") is not True), "")
        hide = k in withheld and not passed
        out.append(
            {
                "question": t["question"],
                "name": t["name"],
                "hidden": bool(t.get("hidden")),
                "passed": passed,
                "points": pts if passed else 0.0,
                "max_points": pts,
                "message": "" if hide else msg[:2000],
                "outcome": str(outcome),
                "withheld": hide,
            }
        )
    return out
