"""``check`` and ``build``: validate a course, run each session's notebook, write its editions.

A build runs each session's notebook once per cohort with papermill's
parameterisation and casekit's executor, then derives two editions from the
one executed notebook: the instructor edition (everything) and the trainee
edition (keys, hidden tests and teaching notes removed, solutions turned into
answer areas, locked cells checksummed). Keys, question specs, tests and locks
go to ``<session>.keys.json`` beside the instructor edition: that file, not
anything a trainee holds, is what grading trusts.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

import kit
from kit import artifacts, kinds
from kit import notebooks as nbs
from kit.course import Course, Failure, Problem, inspect_course, load_course
from kit.messages import t


@dataclass
class CheckResult:
    """Everything ``casekit check`` found."""

    course: Path
    problems: list[Problem] = field(default_factory=list)
    notebooks: int = 0
    cohorts: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def check(course: Path | str = ".") -> CheckResult:
    """Validate a whole course: files, references, every notebook, deliberations.

    Every problem is collected (nothing stops at the first); the result's
    ``ok`` is False when any is an error.
    """
    root = Path(course)
    loaded, problems = inspect_course(root)
    result = CheckResult(root, problems)
    if loaded is None:
        return result
    result.cohorts = len(loaded.cohorts)
    from kit import deliberation, programme

    offered = deliberation.offered_modules(loaded)
    for path in loaded.notebooks():
        result.notebooks += 1
        result.problems += nbs.check_notebook(path, modules=offered)
    scheduled = {
        (loaded.root / s.notebook).resolve() for c in loaded.cohorts.values() for s in c.sessions
    }
    for path in scheduled - {p.resolve() for p in loaded.notebooks()}:
        if path.is_file():
            result.notebooks += 1
            result.problems += nbs.check_notebook(path, modules=offered)
    result.problems += deliberation.check_deliberations(loaded)
    result.problems += programme.programme_problems(loaded)
    return result


# ---------------------------------------------------------------- build


@dataclass
class BuiltSession:
    """One session's build outputs (``cached``: reused from an earlier build)."""

    session: str
    instructor: Path
    trainee: Path
    keys: Path
    practice: Path
    cached: bool = False
    seconds: float = 0.0


@dataclass
class BuildResult:
    """What ``build`` wrote, what it reused, and what failed (with causes)."""

    cohort: str
    out: Path
    sessions: list[BuiltSession] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def written(self) -> list[Path]:
        return [p for s in self.sessions if not s.cached for p in (s.instructor, s.trainee, s.keys)]

    @property
    def ok(self) -> bool:
        return not self.failures


@functools.cache
def _kit_digest() -> str:
    # The version alone misses edits between releases; the editions depend on kit's code.
    h = hashlib.sha256(kit.__version__.encode())
    for path in sorted(Path(kit.__file__).parent.rglob("*")):
        if path.suffix in (".py", ".j2"):
            h.update(path.read_bytes())
    return h.hexdigest()


def _digest(nb_path: Path, params: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(nb_path.read_bytes())
    h.update(json.dumps(params, sort_keys=True, ensure_ascii=False, default=str).encode())
    h.update(_kit_digest().encode())
    return h.hexdigest()


def _write_nb(path: Path, nb: nbformat.NotebookNode) -> None:
    # Atomic, so a crash mid-write never leaves half a notebook behind.
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)


def session_plan(course: Course, cohort_id: str, session_id: str) -> dict[str, Any]:
    """Parameters (with the deliberation's agreed points) and enabled modules of a session."""
    from kit import deliberation

    params = course.session_parameters(cohort_id, session_id)
    inputs = deliberation.session_inputs(course, cohort_id, session_id)
    params["deliberation"] = inputs
    enabled = set(inputs.get("modules", [])) | set(params.get("modules", []) or [])
    return {"parameters": params, "modules": sorted(enabled)}


def session_problems(course: Course, cohort_id: str, session_id: str) -> list[Problem]:
    """The errors ``check`` reports that concern one session: its notebook, deliberation, datasets.

    The build refuses a session while any is left: what ``check`` forbids
    (a key outside a key cell, say) must not reach a trainee edition.
    """
    from kit import deliberation, programme

    s = course.cohort(cohort_id).session(session_id)
    found = nbs.check_notebook(course.root / s.notebook)
    found += deliberation.session_problems(course, cohort_id, session_id)
    found += programme.session_dataset_problems(course, cohort_id, session_id)
    return [p for p in found if p.severity == "error"]


def failed_tests(records: dict[str, Any], cohort: str) -> list[str]:
    """Why the instructor's own solutions fail: one text per test that did not pass.

    The build ran every solution with its visible and hidden tests for this
    cohort's parameters; a failure means the keys would mark a right answer
    wrong (or the tests are wrong), so the session must not be built.
    """
    return [
        t(
            "build.solution_fails",
            question=r.get("question"),
            test=r.get("name"),
            cohort=cohort,
            message=r.get("message") or "",
        )
        for r in records["tests"]
        if not r.get("passed")
    ]


def build(
    course: Path | str,
    cohort: str,
    *,
    sessions: list[str] | None = None,
    workers: int | None = None,
    force: bool = False,
    progress: bool = True,
    engine: str = "fork",
    cluster: str | None = None,
) -> BuildResult:
    """Build a cohort: run every session's notebook and write both editions.

    Sessions whose notebook, parameters and kit version are unchanged since
    the last build are reused (``force`` rebuilds). A notebook that fails
    becomes a failure with its cell and error; the others still build.
    """
    from kit import deliberation
    from kit.execute import Job, run_many

    c = load_course(course)
    co = c.cohort(cohort)
    out = artifacts.cohort_build_dir(c, co.id)
    for sub in ("instructor", "trainee"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    cache = artifacts.read_build_cache(c, co.id)
    result = BuildResult(co.id, out)
    wanted = sessions or [s.session for s in co.sessions]
    jobs, pending = [], []
    for sid in wanted:
        s = co.session(sid)
        refused = session_problems(c, co.id, sid)
        if refused:
            result.failures += [Failure(sid, str(p)) for p in refused]
            cache.pop(sid, None)
            continue
        plan = session_plan(c, co.id, sid)
        nb_path = c.root / s.notebook
        where = artifacts.build_paths(c, co.id, sid)
        paths = BuiltSession(sid, where.instructor, where.trainee, where.keys, where.practice)
        digest = _digest(nb_path, plan)
        if (
            not force
            and cache.get(sid) == digest
            and all(p.exists() for p in (paths.instructor, paths.trainee, paths.keys))
        ):
            paths.cached = True
            result.sessions.append(paths)
            continue
        source, problems = nbs.read_notebook(nb_path)
        if source is None:
            result.failures += [Failure(sid, p.message, str(nb_path)) for p in problems]
            continue
        source = nbs.select_modules(source, set(plan["modules"]))
        # The agreed points become cells: a box for everyone, a note for the teacher
        # (or the plain statement that no deliberation was held), the extra questions.
        names = deliberation.display_names(c, co.id, source)
        deliberation.insert_cells(source, plan["parameters"]["deliberation"], c.language, names)
        source = nbs.annotate(source)
        jobs.append(
            Job(
                name=sid,
                nb=source,
                parameters=plan["parameters"],
                cwd=nb_path.parent,
                cell_timeout=c.config.defaults.cell_timeout,
                notebook_timeout=c.config.defaults.notebook_timeout,
                memory_mb=c.config.defaults.memory_mb,
                mode="build",
                engine=engine,
            )
        )
        pending.append((s, plan, nb_path, paths, digest))

    executed = run_many(jobs, workers=workers, progress=progress, cluster=cluster) if jobs else []
    for (s, plan, nb_path, paths, digest), ran in zip(pending, executed, strict=True):
        if ran.failure or ran.error:
            if ran.error:
                cause = t(
                    "build.cell_raised",
                    where=_where(ran.error, ran.nb, nb_path),
                    error=ran.error.ename,
                    message=ran.error.evalue,
                )
            else:
                cause = str(ran.failure)
            result.failures.append(Failure(s.session, cause, str(nb_path)))
            cache.pop(s.session, None)
            continue
        nb = ran.nb
        rec = nbs.records(nb)
        wrong = failed_tests(rec, co.id)
        if wrong:
            result.failures += [Failure(s.session, why, str(nb_path)) for why in wrong]
            cache.pop(s.session, None)
            continue
        nb.metadata["casekit"] = {
            "edition": "instructor",
            "cohort": co.id,
            "session": s.session,
            "notebook": s.notebook,
            "unit": s.unit,
        }
        trainee, locks = nbs.trainee_edition(nb, language=c.language)
        trainee.metadata["casekit"].update(
            {k: nb.metadata["casekit"][k] for k in ("cohort", "session", "notebook", "unit")}
        )
        keys = artifacts.KeysFile(
            cohort=co.id,
            session=s.session,
            notebook=s.notebook,
            unit=s.unit,
            mode=s.mode,
            due=s.due.isoformat() if s.due else None,
            parameters=plan["parameters"],
            modules=plan["modules"],
            locks=locks,
            **rec,
        )
        _write_nb(paths.instructor, nb)
        _write_nb(paths.trainee, trainee)
        artifacts.write_keys(paths.keys, keys)
        if s.mode == "practice":
            secret = artifacts.practice_secret(digest.encode())
            artifacts.write_json(paths.practice, kinds.practice_table(keys, secret))
        paths.seconds = ran.seconds
        result.sessions.append(paths)
        cache[s.session] = digest
        artifacts.write_build_cache(c, co.id, cache)  # per session, so a crash later keeps this one
    artifacts.write_build_cache(c, co.id, cache)
    order = {sid: i for i, sid in enumerate(wanted)}
    result.sessions.sort(key=lambda b: order[b.session])
    return result


def _where(error: Any, executed: nbformat.NotebookNode, nb_path: Path) -> str:
    """Name the failing cell as the author sees it: its position in their notebook, counted from 1."""
    cell_id = executed.cells[error.cell_index].get("id") if executed else None
    authored, _ = nbs.read_notebook(nb_path)
    for i, cell in enumerate(authored.cells if authored else []):
        if cell.get("id") == cell_id:
            first = nbs.source(cell).strip().splitlines()[:1]
            where = t("where.cell", n=i + 1)
            return t("build.cell_first_line", where=where, line=first[0][:40]) if first else where
    return t("build.added_cell")
