"""The sample course (吕梁市“铁肩计划”示例): the demo, the authors' template, the main fixture.

Every notebook runs top to bottom in a real Jupyter kernel (nbclient) with each
cohort's parameters, the way papermill would run it; the two cohorts get their
own data and therefore their own keys. The catalog, rosters and schedules meet
the programme's numbers (sizes, 75 % interactive teaching), every question
kind of the authoring contract appears, and ``casekit check`` passes.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from kit.artifacts import MIME_KEY as KEY_MIME
from kit.artifacts import MIME_TEST as TEST_MIME
from kit.builder import check, session_plan
from kit.course import load_course
from kit.notebooks import KINDS, question_calls, select_modules

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT)
COHORTS = sorted(COURSE.cohorts)
SESSIONS = [(cid, s.session, s.notebook) for cid in COHORTS for s in COURSE.cohorts[cid].sessions]
# Notebooks whose keys come from seeded data: their keys must differ between cohorts.
SEEDED = {
    "cases/red-memorial.ipynb",
    "cases/green-transition.ipynb",
    "cases/blue-petition.ipynb",
    "cases/gold-conference.ipynb",
    "exercises/green-data.ipynb",
    "exercises/blue-hotline.ipynb",
    "exercises/gold-writing.ipynb",
}
TIMINGS: dict[tuple[str, str], float] = {}


def _plan(cohort: str, session: str) -> tuple[dict, set[str]]:
    """Parameters and enabled modules, as the build computes them (deliberation included)."""
    plan = session_plan(COURSE, cohort, session)
    return plan["parameters"], set(plan["modules"])


def _execute(cohort: str, session: str, notebook: str) -> nbformat.NotebookNode:
    params, modules = _plan(cohort, session)
    nb = select_modules(nbformat.read(ROOT / notebook, as_version=4), modules)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    nb.cells.insert(
        at + 1, nbformat.v4.new_code_cell(injected, metadata={"tags": ["injected-parameters"]})
    )
    client = NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str((ROOT / notebook).parent)}},
    )
    start = time.perf_counter()
    client.execute()
    TIMINGS[(cohort, session)] = time.perf_counter() - start
    return nb


@pytest.fixture(scope="module")
def executed():
    cache: dict[tuple[str, str], nbformat.NotebookNode] = {}

    def get(cohort: str, session: str, notebook: str) -> nbformat.NotebookNode:
        if (cohort, session) not in cache:
            cache[(cohort, session)] = _execute(cohort, session, notebook)
        return cache[(cohort, session)]

    yield get
    if TIMINGS:
        print("\nsample notebook execution (fresh kernel, seconds):")
        for (cohort, session), secs in sorted(TIMINGS.items()):
            print(f"  {cohort:12} {session:8} {secs:5.1f}")


def _outputs(nb: nbformat.NotebookNode, mime: str) -> list[dict]:
    return [
        o["data"][mime]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if mime in o.get("data", {})
    ]


def _keys(nb: nbformat.NotebookNode) -> dict:
    return {k["id"]: k["value"] for k in _outputs(nb, KEY_MIME)}


@pytest.mark.parametrize(("cohort", "session", "notebook"), SESSIONS)
def test_notebook_runs_with_cohort_parameters(executed, cohort, session, notebook):
    nb = executed(cohort, session, notebook)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    failed = [t for t in _outputs(nb, TEST_MIME) if not t["passed"]]
    assert not failed, f"the instructor's solutions must pass their own tests: {failed}"
    asked = {
        qid for c in nb.cells if c.cell_type == "code" for _, qid, _ in question_calls(c.source)
    }
    keys = _keys(nb)
    assert set(keys) <= asked, f"keys for questions not asked: {set(keys) - asked}"
    print(f"{cohort} {session}: {TIMINGS[(cohort, session)]:.1f}s, {len(keys)} keys")


@pytest.mark.parametrize("notebook", sorted(SEEDED))
def test_cohorts_get_their_own_numbers_and_keys(executed, notebook):
    runs = []
    for cid in COHORTS:
        s = next(s for s in COURSE.cohorts[cid].sessions if s.notebook == notebook)
        runs.append(_keys(executed(cid, s.session, s.notebook)))
    a, b = runs[0], runs[1]
    shared = set(a) & set(b)
    assert shared, "both cohorts should answer some of the same questions"
    differ = [q for q in shared if a[q] != b[q]]
    assert differ, f"{notebook}: every key is the same in both cohorts: {a}"
    numbers = [q for q in shared if isinstance(a[q], int | float) and not isinstance(a[q], bool)]
    if numbers:
        assert any(a[q] != b[q] for q in numbers), f"{notebook}: numeric keys do not vary: {a}"


def test_modules_follow_schedule_and_deliberation(executed):
    # The trainees' wish from the news report: emergencies during a conference.
    for cid in COHORTS:
        s = next(
            s for s in COURSE.cohorts[cid].sessions if s.notebook.endswith("gold-conference.ipynb")
        )
        _, modules = _plan(cid, s.session)
        assert "emergency" in modules, f"{cid}: the emergency module should be enabled"
        assert "c1-faint" in _keys(executed(cid, s.session, s.notebook))


def test_catalog_sizes():
    assert len(COURSE.faculty) >= 24
    assert set(COURSE.faculty["kind"]) == {"leader", "scholar", "model-worker"}
    assert len(COURSE.sites) >= 16
    assert set(COURSE.sites["category"]) == {
        "red-heritage",
        "grassroots-governance",
        "clean-government",
        "transformation",
    }
    names = " ".join(COURSE.sites["name"])
    assert "接待大厅" in names and "12345" in names
    assert len(COURSE.readings) >= 24
    assert dict(COURSE.methods["interactive"]) == {
        "seminar": True,
        "case": True,
        "observation": True,
        "drill": True,
        "lecture": False,
    }
    assert [u.id for u in COURSE.config.units] == ["red", "green", "blue", "gold"]
    assert COURSE.language == "zh"


@pytest.mark.parametrize("cohort", COHORTS)
def test_cohort_roster_and_schedule(cohort):
    c = COURSE.cohorts[cohort]
    assert len(c.roster) >= 30
    assert c.roster["name"].is_unique
    notebooks = {s.notebook for s in c.sessions}
    assert notebooks == {str(p.relative_to(ROOT)) for p in COURSE.notebooks()}
    assert {s.unit for s in c.sessions} == {"red", "green", "blue", "gold"}
    interactive = dict(COURSE.methods["interactive"])
    hours = sum(s.hours for s in c.sessions)
    share = sum(s.hours for s in c.sessions if interactive[s.method]) / hours
    assert share >= COURSE.config.programme.interactive_target, f"{cohort}: {share:.0%}"
    assert sum(interactive[s.method] for s in c.sessions) / len(c.sessions) >= 0.75


def test_no_trainee_shares_a_name_with_faculty():
    faculty = set(COURSE.faculty["name"])
    for cid, c in COURSE.cohorts.items():
        clash = faculty & set(c.roster["name"])
        assert not clash, f"{cid}: {clash}"


def test_every_question_kind_appears():
    found: dict[str, set[str]] = {}
    for path in COURSE.notebooks():
        nb = nbformat.read(path, as_version=4)
        for c in nb.cells:
            if c.cell_type == "code":
                for kind, qid, _ in question_calls(c.source):
                    found.setdefault(kind, set()).add(f"{path.name}:{qid}")
    assert set(KINDS) <= set(found), f"missing kinds: {set(KINDS) - set(found)}"


def test_every_notebook_ends_with_a_session_rating_and_comment_and_has_a_teaching_note():
    for path in COURSE.notebooks():
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        asked = [(k, q) for c in code[-3:] for k, q, _ in question_calls(c.source)]
        assert "rating" in [k for k, _ in asked], path.name
        # the session rating comes with its free comment, paired by id for the report
        rated = {q for k, q in asked if k == "rating"}
        assert any(k == "text" and q.removesuffix("-comment") in rated for k, q in asked), path.name
        assert any("teaching-note" in c.metadata.get("tags", []) for c in nb.cells), path.name
        assert all(not c.get("outputs") for c in code), f"{path.name}: clear outputs"


def test_casekit_check_passes():
    result = check(ROOT)
    errors = [p for p in result.problems if p.severity == "error"]
    assert not errors, "\n".join(map(str, errors))
    warnings = [p for p in result.problems if p.severity == "warning"]
    assert not warnings, "\n".join(map(str, warnings))
