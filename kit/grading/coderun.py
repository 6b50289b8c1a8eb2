"""Running trainee code for grading: the seam the sandbox (issue #9) replaces.

The rest of grading calls :func:`run_code_questions` only. Everything below it
is the current implementation, moved here verbatim from ``kit/grading.py``:
the trainee's code is pasted into the *instructor* edition (so locked content,
tests and hidden tests come from the instructor), guarded, run by
:mod:`kit.execute` in grade mode, and each expected test is judged from the
records of the tests cells. ``_is_fatal`` still tells a fatal run from a
failing cell by words in the error; the executor should report a typed failure
kind instead (left for the sandbox engineer).
"""

from __future__ import annotations

import copy
import json
import secrets
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from kit import artifacts, kinds
from kit.artifacts import MIME_TEST as TEST_MIME
from kit.course import Course
from kit.grading.keys import SessionKeys
from kit.notebooks import casekit_meta, cell_role


def run_code_questions(
    course: Course,
    cohort: str,
    session: str,
    keys: SessionKeys,
    code: dict[str, str],
    run_opts: dict[str, Any],
) -> tuple[list[dict[str, Any]], str | None, float]:
    """Run the answered code questions with the author's tests; judge every test of every code question.

    ``code`` maps question id → the trainee's source, for answered questions
    only. ``run_opts`` holds ``cell_timeout``, ``notebook_timeout``,
    ``memory_mb`` and ``cluster``. Returns the judged tests (``question, name,
    hidden, passed, points, max_points, message``), the run-level error (a
    timeout, a dead child) or None, and the seconds the run took. Tests of
    questions left out of ``code`` come back failed ("did not run").
    """
    code_qs = {q for q, s in keys.questions.items() if kinds.find(s.get("kind")).tested}
    expected = [t for t in keys.tests if t["question"] in code_qs]
    if not code:
        return judge_tests(nbformat.v4.new_notebook(), [], expected, None), None, 0.0
    nb, tests_idx = build_grading_notebook(keys, code)
    executed, run_error, seconds = _execute(course, cohort, session, nb, run_opts, keys)
    return judge_tests(executed, tests_idx, expected, run_error), run_error, seconds


# The grader's own cells. The prelude runs before any trainee code and keeps
# the genuine builtins, IPython's traceback hooks and kit.questions' functions;
# the guard runs before every tests cell and puts them back, so a trainee who
# overrides showtraceback, rebinds AssertionError or patches `test` cannot
# hide a failing test. Test records are also only read from tests cells.
_PRELUDE = """\
import builtins as _ck_b, sys as _ck_sys
def _ck_snapshot():
    ip = get_ipython()
    mods = {n: dict(vars(m)) for n, m in list(_ck_sys.modules.items()) if n.startswith("kit")}
    hooks = {a: getattr(type(ip), a) for a in ("showtraceback", "_showtraceback", "showsyntaxerror") if hasattr(type(ip), a)}
    classes = [(c, dict(vars(c))) for d in mods.values() for c in d.values()
               if isinstance(c, type) and getattr(c, "__module__", "").startswith("kit")]
    return dict(vars(_ck_b)), mods, hooks, dict(vars(ip)), classes
_ck_sys.modules["_casekit_guard_{nonce}"] = type(_ck_sys)("_casekit_guard_{nonce}")
_ck_sys.modules["_casekit_guard_{nonce}"].snap = _ck_snapshot()
del _ck_snapshot, _ck_b, _ck_sys
"""
_GUARD = """\
def _ck_restore():
    import sys
    ip = get_ipython()
    b, mods, hooks, ipd, classes = sys.modules["_casekit_guard_{nonce}"].snap
    import builtins
    for k in list(vars(builtins)):
        if k not in b:
            delattr(builtins, k)
    vars(builtins).update(b)
    for n, d in mods.items():
        if n in sys.modules:
            vars(sys.modules[n]).update(d)
    for c, d in classes:
        for k, v in d.items():
            if k not in ("__dict__", "__weakref__") and vars(c).get(k) is not v:
                setattr(c, k, v)
    for a, f in hooks.items():
        setattr(type(ip), a, f)
        if a in vars(ip) and a not in ipd:
            delattr(ip, a)
        elif a in ipd:
            setattr(ip, a, ipd[a])
    ip.user_ns["test"] = getattr(sys.modules.get("kit.questions"), "test", ip.user_ns.get("test"))
_ck_restore()
del _ck_restore
"""


def build_grading_notebook(keys: SessionKeys, code: dict[str, str]) -> tuple[Any, list[int]]:
    """The instructor edition with the trainee's code in each answer cell, outputs cleared, guards added.

    Returns the notebook and the indexes of its tests cells. Outputs are
    cleared first: the instructor edition carries passing test records, and a
    run that dies before a tests cell must not leave them behind.
    """
    nonce = secrets.token_hex(8)
    nb = copy.deepcopy(keys.instructor)
    cells = []
    prelude_done = False
    for cell in nb.cells:
        role = cell_role(cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if role == "answer" and cell.cell_type == "code":
            qid = casekit_meta(cell).get("question")
            if qid in code:
                cell.source = code[qid]
            if not prelude_done:
                cells.append(nbformat.v4.new_code_cell(_PRELUDE.replace("{nonce}", nonce)))
                prelude_done = True
        if role in ("tests", "hidden-tests") and cell.cell_type == "code":
            if not prelude_done:
                cells.append(nbformat.v4.new_code_cell(_PRELUDE.replace("{nonce}", nonce)))
                prelude_done = True
            guard = nbformat.v4.new_code_cell(_GUARD.replace("{nonce}", nonce))
            guard.metadata["casekit"] = {"role": "grader-guard"}
            cells.append(guard)
        cells.append(cell)
    nb.cells = cells
    tests_idx = [i for i, c in enumerate(nb.cells) if cell_role(c) in ("tests", "hidden-tests")]
    return nb, tests_idx


def _cell_raised(cell: Any) -> str | None:
    for out in cell.get("outputs", []) or []:
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"[:500]
    return None


def judge_tests(
    executed: Any, tests_idx: list[int], expected: list[dict[str, Any]], run_error: str | None
) -> list[dict[str, Any]]:
    """Decide each expected test: passed only if its cell raised nothing and every record of it says passed.

    A test with no record (the cell never ran: timeout, dead child, a
    trainee's rebinding of ``test``) is failed. Stderr output is ignored.
    """
    recs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    raised: dict[tuple[str, str], str] = {}
    for i in tests_idx:
        cell = executed.cells[i] if i < len(executed.cells) else None
        if cell is None:
            continue
        err = _cell_raised(cell)
        for out in cell.get("outputs", []) or []:
            rec = (out.get("data") or {}).get(TEST_MIME)
            if isinstance(rec, str):
                try:
                    rec = json.loads(rec)
                except ValueError:
                    continue
            if isinstance(rec, dict) and "question" in rec and "name" in rec:
                k = (rec["question"], rec["name"])
                recs.setdefault(k, []).append(rec)
                if err:
                    raised[k] = err
    out = []
    for t in expected:
        k = (t["question"], t["name"])
        rs = recs.get(k, [])
        passed = bool(rs) and all(r.get("passed") is True for r in rs) and k not in raised
        if passed:
            msg = ""
        elif not rs:
            msg = f"did not run ({run_error})" if run_error else "did not run"
        elif k in raised:
            msg = f"the tests cell raised {raised[k]}"
        else:
            msg = next((str(r.get("message") or "") for r in rs if r.get("passed") is not True), "")
        pts = float(t.get("points", 1) or 0)
        out.append(
            {
                "question": t["question"],
                "name": t["name"],
                "hidden": bool(t.get("hidden")),
                "passed": passed,
                "points": pts if passed else 0.0,
                "max_points": pts,
                "message": msg[:2000],
            }
        )
    return out


def _execute(
    course: Course, cohort: str, session: str, nb: Any, opts: dict[str, Any], keys: SessionKeys
) -> tuple[Any, str | None, float]:
    """Run a grading notebook; return (executed notebook, run-level error or None, seconds)."""
    from kit import execute

    params = keys.parameters or course.session_parameters(cohort, session)
    src = course.root / course.cohort(cohort).session(session).notebook
    # On a cluster the scratch folder must be where the workers can see it: the
    # course folder, which a multi-machine cluster has to share anyway.
    scratch = artifacts.scratch_dir(course, cohort) if opts.get("cluster") else None
    if scratch:
        scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="casekit-grade-", dir=scratch) as tmp:
        # the trainee's code runs in a scratch folder: whatever it writes is thrown away
        cwd = Path(tmp)
        # data files beside the source notebook are reachable (read through links)
        for p in src.parent.iterdir() if src.parent.exists() else []:
            if not p.name.startswith(".") and p.suffix != ".ipynb":
                try:
                    (cwd / p.name).symlink_to(p, target_is_directory=p.is_dir())
                except OSError:
                    pass
        job = execute.Job(
            name=session,
            nb=nb,
            parameters=params,
            cwd=cwd,
            cell_timeout=opts["cell_timeout"],
            notebook_timeout=opts["notebook_timeout"],
            memory_mb=opts["memory_mb"],
            env={"CASEKIT_MODE": "grade"},
            mode="grade",
            stop_on_error=False,
        )
        if opts.get("cluster"):
            ex = execute.run_many([job], progress=False, cluster=opts["cluster"])[0]
        else:
            ex = execute.run_notebook(job.nb, job.parameters, **job.kwargs())
    run_error = None
    failure = getattr(ex, "failure", None)
    if failure:
        run_error = str(getattr(failure, "cause", failure))
    elif getattr(ex, "error", None) is not None and _is_fatal(ex.error):
        run_error = _describe(ex.error)
    executed = ex.nb if getattr(ex, "nb", None) is not None else nb
    return executed, run_error, float(getattr(ex, "seconds", 0.0) or 0.0)


def _describe(err: Any) -> str:
    for attr in ("cause", "message", "ename"):
        v = getattr(err, attr, None)
        if v:
            extra = getattr(err, "evalue", "")
            return f"{v}: {extra}" if extra and attr == "ename" else str(v)
    return str(err)


def _is_fatal(err: Any) -> bool:
    text = " ".join(str(getattr(err, a, "")) for a in ("ename", "kind", "cause", "message")).lower()
    return any(
        w in text for w in ("timeout", "timed out", "died", "dead", "killed", "memory", "crash")
    )
