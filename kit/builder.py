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

import copy
import functools
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kit
from kit import artifacts
from kit.course import Course, inspect_course, load_course
from kit.messages import t
from kit.problems import Failure, Problem
from kit.sandbox.crossing import crossing_problems

if TYPE_CHECKING:
    # Imported where a notebook is read or run: a build with nothing to do needs neither
    # nbformat nor the executor, nor the kinds and cell roles they bring.
    import nbformat


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
    from kit import intent

    root = Path(course)
    loaded, problems = inspect_course(root)
    result = CheckResult(root, problems)
    if loaded is None:
        return result
    result.cohorts = len(loaded.cohorts)
    from kit import deliberation, programme

    offered = deliberation.offered_modules(loaded)
    scheduled = {
        (loaded.root / s.notebook).resolve() for c in loaded.cohorts.values() for s in c.sessions
    }
    authored = loaded.notebooks()
    elsewhere = scheduled - {p.resolve() for p in authored}
    for path in [*authored, *(p for p in elsewhere if p.is_file())]:
        result.notebooks += 1
        result.problems += _notebook_problems(path, offered)
    result.problems += intent.course_schedule_problems(loaded)
    result.problems += deliberation.check_deliberations(loaded)
    result.problems += programme.programme_problems(loaded)
    result.problems += variant_problems(loaded)
    from kit.access import open_problems

    result.problems += open_problems(loaded)  # a course other accounts can read (#19)
    result.problems += _crossing_problems(loaded)
    return result


def _notebook_problems(path: Path, offered: set[str] | None = None) -> list[Problem]:
    """What check says of one notebook: the authoring contract, then the author's intent."""
    from kit import intent
    from kit import notebooks as nbs

    return nbs.check_notebook(path, modules=offered) + intent.notebook_problems(path)


def _crossing_problems(course: Course) -> list[Problem]:
    """Tests that ask the judge for what cannot cross from a trainee's box (``kit.sandbox.crossing``)."""
    from kit import notebooks as nbs

    found = []
    for path in course.notebooks():
        nb = nbs.notebook_at(path)  # unreadable: reported above
        if nb is not None:
            found += crossing_problems(path, nb)
    return found


def variant_problems(course: Course) -> list[Problem]:
    """Warnings for sessions with a variant per trainee whose notebook could not tell them apart."""
    from kit import notebooks as nbs

    found = []
    for cohort in course.cohorts.values():
        for s in cohort.sessions:
            if not s.per_trainee:
                continue
            nb, _ = nbs.read_notebook(course.root / s.notebook)  # unreadable: reported above
            if nb is not None and not nbs.names_read(nb) & {"seed", "trainee"}:
                found.append(
                    Problem(
                        str(cohort.folder / "schedule.csv"),
                        t("where.session", session=s.session),
                        "variants",
                        t("build.variants_alike", session=s.session, notebook=s.notebook),
                        t("build.variants_alike_fix"),
                        severity="warning",
                    )
                )
    return found


# ---------------------------------------------------------------- build


@dataclass
class BuiltSession:
    """One session's build outputs (``cached``: reused from an earlier build).

    ``variant`` names the trainee whose own variant these are (None: the
    cohort's reference); ``trainee`` is the trainee edition's path.
    """

    session: str
    instructor: Path
    trainee: Path
    keys: Path
    practice: Path
    cached: bool = False
    seconds: float = 0.0
    variant: str | None = None


@dataclass
class BuildResult:
    """What ``build`` wrote, what it reused, and what failed (with causes).

    ``sessions`` are the cohort's reference editions (what handouts show),
    ``variants`` the trainees' own editions of sessions with a variant per trainee.
    """

    cohort: str
    out: Path
    sessions: list[BuiltSession] = field(default_factory=list)
    variants: list[BuiltSession] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    handouts: Any = None  # kit.pages.handouts.HandoutResult when the build wrote handouts too

    @property
    def written(self) -> list[Path]:
        return [
            p
            for s in self.sessions + self.variants
            if not s.cached
            for p in (s.instructor, s.trainee, s.keys)
        ]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failed_sessions(self) -> list[str]:
        """The sessions with at least one failure, once each (a session fails with many causes)."""
        # a failure names its session, or ``session/trainee`` for a variant (artifacts.cache_key)
        return list(dict.fromkeys(f.item.split("/", 1)[0] for f in self.failures))


@functools.cache
def _kit_digest() -> str:
    # The version alone misses edits between releases; the editions depend on kit's code.
    h = hashlib.sha256(kit.__version__.encode())
    for path in sorted(Path(kit.__file__).parent.rglob("*")):
        if path.suffix in (".py", ".j2"):
            h.update(path.read_bytes())
    return h.hexdigest()


def _digest(nb_bytes: bytes, params: dict[str, Any], due: Any = None) -> str:
    # everything the outputs depend on: the keys file records the due time too
    h = hashlib.sha256()
    h.update(nb_bytes)
    h.update(json.dumps(params, sort_keys=True, ensure_ascii=False, default=str).encode())
    h.update(str(due).encode())
    h.update(_kit_digest().encode())
    return h.hexdigest()


def _write_nb(path: Path, nb: nbformat.NotebookNode) -> None:
    import nbformat

    # Atomic, so a crash mid-write never leaves half a notebook behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)


def session_plan(
    course: Course, cohort_id: str, session_id: str, trainee: str | None = None
) -> dict[str, Any]:
    """Parameters (with the deliberation's agreed points) and enabled modules of a session.

    ``trainee``: the parameters of that trainee's own variant, for a session
    with a variant per trainee (see :meth:`Course.session_parameters`).
    """
    from kit import deliberation

    params = course.session_parameters(cohort_id, session_id, trainee)
    inputs = deliberation.session_inputs(course, cohort_id, session_id)
    params["deliberation"] = inputs
    enabled = set(inputs.get("modules", [])) | set(params.get("modules", []) or [])
    return {"parameters": params, "modules": sorted(enabled)}


def session_problems(
    course: Course, cohort_id: str, session_id: str, *, checked: dict | None = None
) -> list[Problem]:
    """The errors ``check`` reports that concern one session: its notebook, deliberation, datasets.

    The build refuses a session while any is left: what ``check`` forbids
    (a key outside a key cell, say) must not reach a trainee edition.
    ``checked`` remembers notebooks already checked (by content) across calls.
    """
    from kit import deliberation, intent, programme

    s = course.cohort(cohort_id).session(session_id)
    path = course.root / s.notebook
    memo = {} if checked is None else checked
    mark = (str(path), hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "")
    if mark not in memo:
        memo[mark] = _notebook_problems(path)
    found = list(memo[mark])
    found += intent.schedule_problems(course, cohort_id, session_id)
    found += deliberation.session_problems(course, cohort_id, session_id)
    found += programme.session_dataset_problems(course, cohort_id, session_id)
    return [p for p in found if p.severity == "error"]


@dataclass
class _Item:
    """One variant of one session to build: the reference (``variant`` None) or a trainee's own."""

    session: Any  # kit.course.Session
    variant: str | None
    plan: dict[str, Any]
    nb_path: Path
    paths: BuiltSession
    digest: str

    @property
    def name(self) -> str:
        return artifacts.cache_key(self.session.session, self.variant)


def _variants(course: Course, cohort_id: str, session: Any) -> list[str | None]:
    """The reference variant, then each trainee's own when the session has a variant per trainee."""
    roster = course.cohort(cohort_id).roster
    return [None] + ([str(t) for t in roster.index] if session.per_trainee else [])


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
    handouts: bool = False,
) -> BuildResult:
    """Build a cohort: run every session's notebook and write both editions.

    Sessions whose notebook, parameters and kit version are unchanged since
    the last build are reused (``force`` rebuilds). A notebook that fails
    becomes a failure with its cell and error; the others still build. A
    session with a variant per trainee (``variants = trainee`` in the
    schedule) is built once for the cohort's reference variant (handouts,
    instructor edition) and once per trainee on the roster, each from its own
    seed, with its own keys; each variant is cached on its own. ``handouts``
    then writes the sessions' handouts as ``casekit handouts`` does, in the
    same process (its exporters are prepared while the notebooks run).
    """
    from kit.access import protect_root

    protect_root(Path(course), ("build",))  # private by default (#19): the owner's only
    complete = sessions is None  # the whole cohort: what a stamp vouches for
    if complete and not force:
        unchanged = _unchanged(Path(course), cohort, engine)
        if unchanged is not None:
            return _with_handouts(Path(course), unchanged, progress) if handouts else unchanged
    began = artifacts.inputs_fingerprint(Path(course), _salt(engine))
    if force:
        _warm_up_executor(cluster, engine)  # everything runs: warm up while the course loads
    c = load_course(course)
    co = c.cohort(cohort)
    out = artifacts.cohort_build_dir(c, co.id)
    for sub in ("instructor", "trainee"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    cache = artifacts.read_build_cache(c, co.id)
    result = BuildResult(co.id, out)
    wanted = sessions or [s.session for s in co.sessions]
    todo = _to_run(c, co.id, wanted, cache, result, force=force, cluster=cluster, engine=engine)
    jobs, pending = _jobs(c, cohort, todo, engine, result, cache) if todo else ([], [])
    executed, proven = _run_and_prove(c, co.id, jobs, pending, workers, progress, cluster, handouts)
    for item, ran in zip(pending, executed, strict=True):
        _finish(c, co.id, item, ran, result, cache, proven.get(item.name))
    artifacts.write_build_cache(c, co.id, cache)
    order = {sid: i for i, sid in enumerate(wanted)}
    result.sessions.sort(key=lambda b: order[b.session])
    result.variants.sort(key=lambda b: (order[b.session], b.variant or ""))
    if result.failures:
        artifacts.drop_build_stamp(c.root, co.id)
    elif complete:
        artifacts.write_build_stamp(c.root, co.id, _stamp(c.root, began, result))
    return _with_handouts(c, result, progress) if handouts else result


def _to_run(
    c: Course,
    cohort: str,
    wanted: list[str],
    cache: dict[str, str],
    result: BuildResult,
    *,
    force: bool,
    cluster: str | None,
    engine: str,
) -> list[_Item]:
    """Each wanted session's variants that must run; the rest are listed in `result` as built.

    A session `check` refuses is a failure (and leaves the cache); a variant whose
    inputs are unchanged since its last build is reused, unless `force`.
    """
    co = c.cohort(cohort)
    checked: dict = {}
    todo: list[_Item] = []
    for sid in wanted:
        s = co.session(sid)
        refused = session_problems(c, co.id, sid, checked=checked)
        if refused:
            result.failures += [Failure(sid, str(p)) for p in refused]
            _forget(cache, sid)
            continue
        nb_path = c.root / s.notebook
        nb_bytes = nb_path.read_bytes()
        reference = session_plan(c, co.id, sid)
        for variant in _variants(c, co.id, s):
            # a variant differs from the reference in its own parameters only (seed, trainee)
            own = c.variant_parameters(co.id, sid, variant)
            plan = {**reference, "parameters": {**reference["parameters"], **own}}
            where = artifacts.build_paths(c, co.id, sid, variant)
            paths = BuiltSession(
                sid, where.instructor, where.trainee, where.keys, where.practice, variant=variant
            )
            item = _Item(s, variant, plan, nb_path, paths, _digest(nb_bytes, plan, s.due))
            if (
                not force
                and cache.get(item.name) == item.digest
                and all(p.exists() for p in (paths.instructor, paths.trainee, paths.keys))
            ):
                paths.cached = True
                _listed(result, paths)
                continue
            if not todo and not force:
                _warm_up_executor(cluster, engine)  # overlaps the rest of the planning
            todo.append(item)
    return todo


def _run_and_prove(
    c: Course,
    cohort: str,
    jobs: list,
    pending: list[_Item],
    workers: int | None,
    progress: bool,
    cluster: str | None,
    handouts: bool,
) -> tuple[list, dict[str, Any]]:
    """Run the notebooks; the judge that proves their solutions (kit.grading.proofs) starts meanwhile."""
    if not jobs:
        return [], {}
    from kit.execution.executor import run_many
    from kit.grading import proofs  # the grading package: pandas, the gradebook

    if handouts:  # nbconvert and its templates, while this process waits for the notebooks
        _in_background(_warm_exporters)
    proved = [(j, i) for j, i in zip(jobs, pending, strict=True) if proofs.needs_proof(i.nb_path)]
    warm = [(i.session.session, copy.deepcopy(j.nb), i.plan["parameters"])
            for j, i in proved[: proofs.WARM]]  # fmt: skip
    prover = proofs.Prover(c, cohort, warm) if proved else None
    executed = run_many(jobs, workers=workers, progress=progress, cluster=cluster)
    if prover is None:
        return executed, {}
    try:
        return executed, prover.prove(_claims(pending, executed))
    finally:
        prover.close()


def _warm_exporters() -> None:
    from kit.pages import handouts as export

    export.warm_up()


def _with_handouts(course: Course | Path, result: BuildResult, progress: bool) -> BuildResult:
    """Write the handouts of every session the build holds editions of (refused ones left out)."""
    from kit.pages import handouts as export

    built = [b.session for b in result.sessions]
    if built:
        result.handouts = export.handouts(course, result.cohort, sessions=built, progress=progress)
        result.failures += result.handouts.failures
    return result


def _in_background(work: Any) -> None:

    threading.Thread(target=work, name=f"casekit-{work.__name__}", daemon=True).start()


def _salt(engine: str) -> str:
    return f"{_kit_digest()}|{engine}"


def _outputs(b: BuiltSession) -> list[Path]:
    return [b.instructor, b.trainee, b.keys] + ([b.practice] if b.practice.exists() else [])


def _stamp(root: Path, inputs: str, result: BuildResult) -> artifacts.BuildStamp:
    """What this complete build vouches for: its inputs, sessions, variants and files."""
    return artifacts.BuildStamp(
        inputs=inputs,
        sessions=[b.session for b in result.sessions],
        variants=[artifacts.cache_key(b.session, b.variant) for b in result.variants],
        outputs={
            artifacts.cache_key(b.session, b.variant): [
                p.relative_to(root).as_posix() for p in _outputs(b)
            ]
            for b in result.sessions + result.variants
        },
    )


def _unchanged(root: Path, cohort: str, engine: str) -> BuildResult | None:
    """The result of a build with nothing to do, told without loading the course; None if not so.

    True when the last build of the whole cohort succeeded, no input file of
    the course folder (nor kit itself) has changed since it began, and every
    file it wrote is still there. Anything else takes the full path, which
    compares contents and rebuilds what changed.
    """
    stamp = artifacts.read_build_stamp(root, cohort)
    if stamp is None or stamp.inputs != artifacts.inputs_fingerprint(root, _salt(engine)):
        return None
    files = {name: [root / f for f in fs] for name, fs in stamp.outputs.items()}
    if not all(p.is_file() for fs in files.values() for p in fs):
        return None
    result = BuildResult(cohort, root / "build" / cohort)
    for name in stamp.sessions + stamp.variants:
        session, _, variant = name.partition("/")
        fs = files.get(name, [])
        if len(fs) < 3:
            return None
        practice = fs[3] if len(fs) > 3 else fs[1].with_suffix(".practice.json")
        _listed(
            result,
            BuiltSession(session, fs[0], fs[1], fs[2], practice, True, 0.0, variant or None),
        )
    return result


def _forget(cache: dict[str, str], session: str) -> None:
    """Drop a session's cache entries, its reference and every trainee's variant."""
    for name in [k for k in cache if k == session or k.startswith(session + "/")]:
        cache.pop(name)


def _listed(result: BuildResult, paths: BuiltSession) -> None:
    (result.sessions if paths.variant is None else result.variants).append(paths)


def _warm_up_executor(cluster: str | None, engine: str) -> None:
    """Start the executor's warm process in the background while the build goes on planning."""
    if cluster or engine != "fork":
        return
    _in_background(_warm_executor)


def _warm_executor() -> None:
    from kit.execution import executor as execute

    execute.warm_up()


def _jobs(
    c: Course,
    cohort: str,
    todo: list[_Item],
    engine: str,
    result: BuildResult,
    cache: dict[str, str],
) -> tuple[list[Any], list[_Item]]:
    """One executor job per item; a session's source is prepared once for all its variants."""
    from kit import deliberation
    from kit import notebooks as nbs
    from kit.execution.executor import Job

    sources: dict[str, Any] = {}
    jobs, pending = [], []
    for item in todo:
        sid = item.session.session
        if sid not in sources:
            source, problems = nbs.read_notebook(item.nb_path)
            if source is not None:
                source = nbs.select_modules(source, set(item.plan["modules"]))
                # The agreed points become cells: a box for everyone, a note for the teacher
                # (or the plain statement that no deliberation was held), the extra questions.
                names = deliberation.display_names(c, cohort, source)
                agreed = item.plan["parameters"]["deliberation"]
                deliberation.insert_cells(source, agreed, c.language, names)
                source = nbs.annotate(source)
            else:
                result.failures += [Failure(sid, p.message, str(item.nb_path)) for p in problems]
                _forget(cache, sid)
            sources[sid] = source
        if sources[sid] is None:
            continue
        jobs.append(
            Job(
                name=item.name,
                nb=sources[sid],
                parameters=item.plan["parameters"],
                cwd=item.nb_path.parent,
                cell_timeout=c.config.defaults.cell_timeout,
                notebook_timeout=c.config.defaults.notebook_timeout,
                memory_mb=c.config.defaults.memory_mb,
                mode="build",
                engine=engine,
            )
        )
        pending.append(item)
    return jobs, pending


def _claims(items: list[_Item], executed: list[Any]) -> list[Any]:
    """The executed variants whose solutions the prover grades (those that ran to the end)."""
    from kit.grading.proofs import Claim

    return [
        Claim(
            item.name,
            item.session.session,
            item.variant,
            ran.nb,
            item.nb_path,
            item.plan["parameters"],
        )  # fmt: skip
        for item, ran in zip(items, executed, strict=True)
        if not (ran.failure or ran.error)
    ]


def _finish(
    c: Course,
    cohort: str,
    item: _Item,
    ran: Any,
    result: BuildResult,
    cache: dict[str, str],
    proof: Any = None,
) -> None:
    """Write one executed variant's editions, keys and practice hashes, or record why not."""
    from kit import kinds
    from kit import notebooks as nbs

    s, paths = item.session, item.paths
    if ran.failure or ran.error:
        if ran.error:
            cause = t(
                "build.cell_raised",
                where=_where(ran.error, ran.nb, item.nb_path),
                error=ran.error.ename,
                message=ran.error.evalue,
            )
        else:
            cause = str(ran.failure)
        result.failures.append(Failure(item.name, cause, str(item.nb_path)))
        cache.pop(item.name, None)
        return
    nb = ran.nb
    rec = nbs.records(nb)
    # kit.grading.proofs graded the solutions as grading will: every autograded point, or no session
    if proof is not None and proof.refusals:
        result.failures += [Failure(item.name, why, str(item.nb_path)) for why in proof.refusals]
        cache.pop(item.name, None)
        return
    misfits = _key_misfits(rec, nb, item, cohort)
    if misfits:
        result.failures += [Failure(item.name, why, str(item.nb_path)) for why in misfits]
        cache.pop(item.name, None)
        return
    meta = {"cohort": cohort, "session": s.session, "notebook": s.notebook, "unit": s.unit}
    if item.variant is not None:
        meta["variant"] = item.variant
    nb.metadata["casekit"] = {"edition": "instructor", **meta}
    trainee, locks = nbs.trainee_edition(nb, language=c.language)
    trainee.metadata["casekit"].update(meta)
    if proof is not None:
        from kit.grading.proofs import record_shapes

        record_shapes(nb, proof.shapes)  # the instructor edition's only: grading reads them
    keys = artifacts.KeysFile(
        cohort=cohort,
        session=s.session,
        variant=item.variant,
        notebook=s.notebook,
        unit=s.unit,
        mode=s.mode,
        due=s.due.isoformat() if s.due else None,
        parameters=item.plan["parameters"],
        modules=item.plan["modules"],
        locks=locks,
        **rec,
    )
    _write_nb(paths.instructor, nb)
    _write_nb(paths.trainee, trainee)
    artifacts.write_keys(paths.keys, keys)
    if s.mode == "practice":
        # salted per variant: one trainee's hashes tell nothing about another's keys
        secret = artifacts.practice_secret(item.digest.encode())
        artifacts.write_json(paths.practice, kinds.practice_table(keys, secret))
    paths.seconds = ran.seconds
    _listed(result, paths)
    cache[item.name] = item.digest
    artifacts.write_build_cache(c, cohort, cache)  # per item, so a crash later keeps this one


def _key_misfits(rec: dict[str, Any], nb: Any, item: _Item, cohort: str) -> list[str]:
    """Why keys this variant computed from its data cannot be earned, each with its key cell."""
    from kit import intent

    which = "build.key_misfit" if item.variant is None else "build.key_misfit_variant"
    return [
        t(
            which,
            where=_cell_where(i, nb, item.nb_path) if i is not None else "",
            cohort=cohort,
            trainee=item.variant,
            why=why,
            fix=fix,
        )
        for i, why, fix in intent.built_key_problems(rec, nb)
    ]


def _where(error: Any, executed: nbformat.NotebookNode, nb_path: Path) -> str:
    """Name the failing cell as the author sees it: its position in their notebook, counted from 1."""
    return _cell_where(error.cell_index, executed, nb_path)


def _cell_where(index: int, executed: nbformat.NotebookNode, nb_path: Path) -> str:
    """The executed notebook's cell `index` as the author sees it: its place in their notebook."""
    from kit import notebooks as nbs

    cell_id = executed.cells[index].get("id") if executed else None
    authored, _ = nbs.read_notebook(nb_path)
    for i, cell in enumerate(authored.cells if authored else []):
        if cell.get("id") == cell_id:
            first = nbs.source(cell).strip().splitlines()[:1]
            where = t("where.cell", n=i + 1)
            return t("build.cell_first_line", where=where, line=first[0][:40]) if first else where
    return t("build.added_cell")
