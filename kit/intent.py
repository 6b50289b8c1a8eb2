"""What the author meant, checked before anything runs, and again on what the build computed.

A slip that would zero a class must not pass ``check``: a key that is not one
of its question's options, a ranking key given as one string, a misspelt
keyword (``tolerence=``) and a schedule parameter the notebook never defines
(``n_complaint`` for ``n_complaints``). The kinds declare what their keys and
arguments look like (:mod:`kit.kinds`); this module reads a notebook's
``ask.<kind>(...)`` and ``key(...)`` calls without running them and asks the
kinds, and holds the same question for the keys a build computed from data.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, cast

from kit import kinds
from kit import notebooks as nbs
from kit.artifacts import MIME_KEY
from kit.course import Course
from kit.kinds.base import AuthoringError, KeyRecord, QuestionSpec
from kit.messages import t
from kit.problems import Problem

_UNKNOWN: Any = object()


def _literal(node: ast.AST) -> Any:
    """The value of a literal written in the source, or ``_UNKNOWN`` when it is computed."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN


def _calls(nb: Any) -> tuple[list[tuple[int, ast.Call]], list[tuple[int, ast.Call]]]:
    """(cell index, call) of every ``ask.<kind>(...)`` and every ``key(...)`` in code cells."""
    asks, keys = [], []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tree = nbs.python_tree(nbs.source(cell))
        for node in ast.walk(tree) if tree else []:
            if not isinstance(node, ast.Call):
                continue
            if nbs.is_ask(node):
                asks.append((i, node))
            elif isinstance(node.func, ast.Name) and node.func.id == "key":
                keys.append((i, node))
    return asks, keys


def _qid(call: ast.Call) -> str | None:
    arg = call.args[0] if call.args else None
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None


def _spec(kind: str, call: ast.Call) -> tuple[QuestionSpec | None, str]:
    """The spec a literal ``ask.<kind>(...)`` declares, or None and why its kind refuses it.

    None and "" when an argument is computed (the build runs it) or the call
    does not fit the signature (a misspelt keyword is reported on its own).
    """
    args = [_literal(a) for a in call.args]
    kwargs = {k.arg: _literal(k.value) for k in call.keywords if k.arg}
    kwargs.pop("optional", None)
    if _UNKNOWN in args or _UNKNOWN in kwargs.values() or any(k.arg is None for k in call.keywords):
        return None, ""
    try:
        qid, prompt, points, fields = kinds.get(kind).declare(*args, **kwargs)
    except AuthoringError as exc:  # too few options, a negative tolerance: said before it runs
        return None, str(exc)
    except (TypeError, ValueError):
        return None, ""
    return {"id": qid, "kind": kind, "prompt": prompt, "points": points, **fields}, ""


def notebook_problems(path: Path) -> list[Problem]:
    """Misspelt arguments of ``ask`` and ``key``, and literal keys their question can never accept."""
    nb = nbs.notebook_at(path)  # an unreadable notebook: check_notebook reports it
    if nb is None:
        return []
    f = str(path)
    problems: list[Problem] = []
    asked: dict[str, tuple[str, QuestionSpec | None]] = {}
    ask_calls, key_calls = _calls(nb)
    for i, call in ask_calls:
        kind = call.func.attr  # type: ignore[attr-defined]
        if kind not in kinds.registry:
            continue  # check_notebook names the unknown kind
        valid = kinds.arguments(kind)
        qid = _qid(call)
        wrong = set(kinds.unknown_arguments(kind, [k.arg for k in call.keywords if k.arg]))
        for kw in call.keywords:
            if kw.arg in wrong:
                problems.append(
                    Problem(
                        f,
                        t("where.cell_line", n=i + 1, line=kw.value.lineno),
                        kw.arg,
                        t(
                            "author.unknown_argument",
                            kind=kind,
                            qid=qid,
                            name=kw.arg,
                            near=kinds.closest(kw.arg, valid),
                            valid=", ".join(valid),
                        ),
                        t("author.unknown_argument_fix"),
                    )
                )
        spec, refused = _spec(kind, call) if not wrong else (None, "")
        if refused:
            where = t("where.cell_line", n=i + 1, line=call.lineno)
            problems.append(Problem(f, where, "question", refused, t("author.declare_fix")))
        if qid is not None:
            asked[qid] = (kind, spec)
    for i, call in key_calls:
        qid = _qid(call)
        if qid not in asked or len(call.args) < 2:
            continue  # an unknown question: check_notebook says so
        kind, spec = asked[qid]
        opts = {k.arg: _literal(k.value) for k in call.keywords if k.arg}
        value = _literal(call.args[1])
        record = cast(KeyRecord, {"id": qid, "value": value, **opts})  # as the author wrote it
        if value is _UNKNOWN or _UNKNOWN in opts.values() or spec is None:
            # computed: only the option names can be judged here; the build checks the rest
            record = cast(KeyRecord, {"id": qid, "value": None, **{k: None for k in opts}})
            spec = {"id": qid, "kind": kind}
        where = t("where.cell_line", n=i + 1, line=call.lineno)
        problems += [
            Problem(f, where, "key", why, fix) for why, fix in kinds.key_problems(spec, record)
        ]
    return problems


def parameter_names(nb: Any) -> set[str] | None:
    """The names the notebook's parameters cell assigns; None without exactly one such cell."""
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in nbs.tags(c)]
    if len(cells) != 1:
        return None  # check_notebook reports a missing or doubled parameters cell
    tree = nbs.python_tree(nbs.source(cells[0]))
    names: set[str] = set()
    for node in ast.walk(tree) if tree else []:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        for target in targets:
            for n in ast.walk(target):
                if isinstance(n, ast.Name):
                    names.add(n.id)
    return names


def schedule_problems(course: Course, cohort_id: str, session_id: str) -> list[Problem]:
    """Schedule parameters (the row's ``params``) the session's notebook does not define.

    papermill injects them after the parameters cell, so a misspelt one is
    silently ignored and the session builds with the default data; its rule
    (warn, name the closest) becomes an error here.
    """
    cohort = course.cohort(cohort_id)
    s = cohort.session(session_id)
    if not s.params:
        return []
    nb = nbs.notebook_at(course.root / s.notebook)
    defined = parameter_names(nb) if nb is not None else None
    if defined is None:
        return []
    return [
        Problem(
            str(cohort.folder / "schedule.csv"),
            t("where.row_session", n=s.line, session=s.session),
            "params",
            t(
                "course.param_undefined",
                name=name,
                notebook=s.notebook,
                near=kinds.closest(name, defined),
            ),
            t("course.param_undefined_fix", name=name, defined=", ".join(sorted(defined))),
        )
        for name in s.params
        if name not in defined
    ]


def course_schedule_problems(course: Course) -> list[Problem]:
    """:func:`schedule_problems` of every session of every cohort."""
    return [
        p
        for cohort in course.cohorts.values()
        for s in cohort.sessions
        for p in schedule_problems(course, cohort.id, s.session)
    ]


def built_key_problems(records: dict[str, Any], executed: Any) -> list[tuple[int | None, str, str]]:
    """(cell index in the executed notebook, why, fix) for every recorded key its question cannot accept.

    The keys a notebook computed from data are known only once it ran: a
    choice key picked from a table must still be one of the options shown.
    """
    specs = {q["id"]: q for q in records["questions"]}
    cells = key_cells(executed)
    found: list[tuple[int | None, str, str]] = []
    for qid, record in records["keys"].items():
        if qid in specs:
            found += [(cells.get(qid), *p) for p in kinds.key_problems(specs[qid], record)]
    return found


def key_cells(nb: Any) -> dict[str, int]:
    """Question id → index of the cell that recorded its key, in an executed notebook."""
    out: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            rec = o.get("data", {}).get(MIME_KEY)
            if isinstance(rec, dict) and "id" in rec:
                out[str(rec["id"])] = i
    return out


__all__ = [
    "built_key_problems",
    "course_schedule_problems",
    "key_cells",
    "notebook_problems",
    "parameter_names",
    "schedule_problems",
]
