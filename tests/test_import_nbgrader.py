"""Importing an nbgrader assignment, and finishing its term in casekit.

The assignment (tests/fixtures/foreign.py) is written in nbgrader's documented
source format. It is imported, checked and built like any session; then the
same student notebooks are graded by nbgrader's own ``autograde`` (run here,
from the ``test`` extra) and collected and graded by casekit, and the totals
must agree.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "grading"))
import foreign  # noqa: E402
import sample  # noqa: E402

import kit  # noqa: E402
from kit.course import CourseError  # noqa: E402
from kit.gradebook import Gradebook  # noqa: E402

STUDENTS = sorted(foreign.SUBMISSIONS)
SCHEDULE = (
    "session,notebook,date,teacher,site,method,unit,hours,mode,due,params\n"
    "budget,exercises/ps1-budget.ipynb,2026-03-02,f1,,drill,green,2,assessed,,{}\n"
)


def _nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "nbgrader"
    assert exe.exists(), "nbgrader is part of the test extra: run `make setup`"
    # nbgrader runs `alembic` from PATH: the venv's bin must come first
    env = {**os.environ, "PATH": f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    p = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return p


@pytest.fixture(scope="module")
def imported(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, kit.importers.ImportResult]:
    """A casekit course with the nbgrader assignment imported and scheduled, and the nbgrader course."""
    work = tmp_path_factory.mktemp("nbgrader-import")
    course = sample.write_course(work / "course", cell_timeout=10)
    nbg = foreign.write_nbgrader_course(work / "nbgrader", STUDENTS)
    res = kit.import_nbgrader(nbg / "source" / "ps1", course=course)
    (course / "cohorts/c1/schedule.csv").write_text(SCHEDULE, encoding="utf-8")
    return course, nbg, res


@pytest.fixture(scope="module")
def built(imported: tuple[Path, Path, object]) -> Path:
    course = imported[0]
    r = kit.build(course, "c1", progress=False)
    assert not r.failures, r.failures
    return course


def test_import_writes_a_notebook_that_checks_and_builds(imported, built: Path) -> None:
    course, _, res = imported
    nb_path = course / "exercises/ps1-budget.ipynb"
    assert res.notebooks == [nb_path]
    checked = kit.check(course)
    assert not checked.errors, [str(p) for p in checked.errors]
    assert not [p for p in checked.warnings if "ps1-budget" in p.file], checked.warnings

    keys = json.loads((built / "build/c1/instructor/budget.keys.json").read_text("utf-8"))
    specs = {q["id"]: q for q in keys["questions"]}
    assert {q: (s["kind"], s["points"]) for q, s in specs.items()} == {
        "total": ("code", 2),
        "largest": ("code", 3),
        "explain": ("essay", 3),
        "share": ("essay", 2),
        "plan": ("essay", 4),
    }
    # points equal nbgrader's: 5 autograded (tests), 9 by hand
    tests = {(t["question"], t["name"]): t for t in keys["tests"]}
    assert sum(t["points"] for t in tests.values()) == 5
    assert all(t["passed"] for t in tests.values()), "the instructor's solutions pass every test"
    hidden = {k for k, t in tests.items() if t.get("hidden") or t.get("role") == "hidden-tests"}
    assert hidden == {("total", "test_total"), ("largest", "test_largest_hidden")}

    # the report names the cells that changed form
    report = (course / "exercises/ps1-budget.import.md").read_text("utf-8")
    assert "cell 13 (grade_id share)" in report and "cell 14 (grade_id plan)" in report
    assert "ps1/budget.ipynb" in report


def test_trainee_edition_hides_what_nbgrader_hides(built: Path) -> None:
    text = (built / "build/c1/trainee/budget.ipynb").read_text("utf-8")
    instructor = (built / "build/c1/instructor/budget.ipynb").read_text("utf-8")
    nb = nbformat.reads(text, as_version=4)
    # hidden tests, model answers and the mark scheme never reach trainees
    for secret in (
        "total({}) == 0",
        'largest({\\"only\\": 0})',
        'largest(SPENDING) == \\"schools\\"',
        "Clinics serve fewer",
        foreign.PLAN_SCHEME,
        "return sum(d.values())",
        "max(d, key=d.get)",
        "v / total(SPENDING)",
    ):
        assert secret in instructor and secret not in text, secret
    # the scaffold around a solution region stays, to be completed
    answers = [c for c in nb.cells if c.metadata.get("casekit", {}).get("role") == "answer"]
    total_cell = next(c for c in answers if c.metadata["casekit"]["question"] == "total")
    assert (
        "def total(d):" in total_cell.source
        and '"""Sum of the values of d."""' in total_cell.source
    )
    compile(total_cell.source, "stub", "exec")  # still valid Python
    # visible tests stay, with nbgrader's visible asserts only
    visible = "".join(c.source for c in nb.cells if "tests" in c.metadata.get("tags", []))
    assert 'total({"a": 1, "b": 2}) == 3' in visible and 'largest({"x": 1, "y": 5})' in visible


@pytest.fixture(scope="module")
def nbgrader_totals(imported) -> dict[str, float]:
    """Run nbgrader itself: generate, hand in every student's notebook, autograde."""
    _, nbg, _ = imported
    _nbgrader("generate_assignment", "ps1", "--force", cwd=nbg)
    release = nbformat.read(str(nbg / "release/ps1/budget.ipynb"), as_version=4)
    for student, spec in foreign.SUBMISSIONS.items():
        d = nbg / "submitted" / student / "ps1"
        d.mkdir(parents=True)
        nbformat.write(foreign.nbgrader_submission(release, spec), str(d / "budget.ipynb"))
        (d / "timestamp.txt").write_text("2026-03-02 12:00:00.000000 UTC")
    _nbgrader("autograde", "ps1", "--create", cwd=nbg)
    con = sqlite3.connect(nbg / "gradebook.db")
    rows = con.execute(
        "select submitted_assignment.student_id, sum(coalesce(grade.auto_score, 0)) from grade "
        "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
        "join submitted_assignment on submitted_notebook.assignment_id = submitted_assignment.id "
        "group by submitted_assignment.student_id"
    ).fetchall()
    con.close()
    return {s: float(x) for s, x in rows}


def test_nbgrader_submissions_grade_to_nbgraders_totals(
    built: Path, imported, nbgrader_totals
) -> None:
    _, nbg, _ = imported
    # nbgrader's own totals are what its documented rule gives
    assert nbgrader_totals == {s: float(v["expect"]) for s, v in foreign.SUBMISSIONS.items()}

    res = kit.collect(built, "c1", source=nbg / "submitted")
    assert not res.failures and not res.unknown, (res.failures, res.unknown)
    assert len(res.written) == len(STUDENTS)
    g = kit.grade(built, "c1", progress=False)
    assert not g.failures, g.failures
    with Gradebook.open(built) as gb:
        qs = gb.question_scores("c1")
        subs = gb.submission_scores("c1")
    ours = qs.groupby("trainee")["points"].sum().to_dict()
    assert {t: round(p, 6) for t, p in ours.items()} == nbgrader_totals

    # answers arrived by question id: essays wait for marking, blank ones do not
    t08 = qs[qs["trainee"] == "t08"].set_index("question")
    assert t08.loc["explain", "status"] == "needs-marking"
    assert "Move 20 from roads to clinics." in t08.loc["plan", "answer"]
    assert "SPENDING['clinics'] += 20" in t08.loc["plan", "answer"]
    t01 = qs[qs["trainee"] == "t01"].set_index("question")
    assert t01.loc["explain", "status"] == "unanswered"
    # nbgrader's timestamp.txt is written on the student's side: the time is the arrival at
    # collect (kit.hub.trust, #9.3), never a field in files a trainee wrote
    got = subs.set_index("trainee").loc["t01", "received_at"]
    assert not str(got).startswith("2026-03-02 12:00") and str(got) >= "2026-03-03"

    # collecting the same folder again stores nothing twice
    again = kit.collect(built, "c1", source=nbg / "submitted")
    assert not again.written and len(again.duplicates) == len(STUDENTS)


def test_a_zip_of_nbgrader_notebooks_collects_and_strangers_are_named(
    built: Path, imported, nbgrader_totals
) -> None:
    _, nbg, _ = imported
    release = nbformat.read(str(nbg / "release/ps1/budget.ipynb"), as_version=4)
    other = foreign.nbgrader_source()
    for cell in other.cells:
        if "nbgrader" in cell.metadata:
            cell.metadata["nbgrader"]["grade_id"] = "other-" + cell.metadata["nbgrader"]["grade_id"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        spec = foreign.SUBMISSIONS["t03"]
        z.writestr(
            "downloads/t20.ipynb", nbformat.writes(foreign.nbgrader_submission(release, spec))
        )
        z.writestr("downloads/t21.ipynb", nbformat.writes(other))
    archive = built / "nbgrader-downloads.zip"
    archive.write_bytes(buf.getvalue())
    res = kit.collect(built, "c1", source=archive)
    assert [p.parent.parent.name for p in res.written] == ["t20"]
    assert len(res.unknown) == 1 and "downloads/t21.ipynb" in res.unknown[0]
    assert "no session of this cohort was imported from it" in res.unknown[0]
    g = kit.grade(built, "c1", progress=False)
    assert not g.failures
    with Gradebook.open(built) as gb:
        qs = gb.question_scores("c1")
    assert qs[qs["trainee"] == "t20"]["points"].sum() == foreign.SUBMISSIONS["t03"]["expect"]


def test_import_refuses_to_overwrite_and_names_bad_sources(imported, tmp_path: Path) -> None:
    course, nbg, _ = imported
    with pytest.raises(CourseError) as e:
        kit.import_nbgrader(nbg / "source" / "ps1", course=course)
    assert "ps1-budget.ipynb" in str(e.value) and "--force" in str(e.value)
    plain = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), str(plain))
    with pytest.raises(CourseError) as e:
        kit.import_nbgrader(plain, course=course, out=tmp_path / "out")
    assert "plain.ipynb" in str(e.value) and "nbgrader metadata" in str(e.value)
    assert not (tmp_path / "out").exists()
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    p = subprocess.run(
        [sys.executable, "-m", "kit", "import", "nbgrader", str(broken), "-C", str(course)],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2 and "broken.ipynb" in p.stderr and "Traceback" not in p.stderr


def test_cli_import_prints_the_report(tmp_path: Path) -> None:
    nbg = foreign.write_nbgrader_course(tmp_path / "nbg", ["t01"])
    out = tmp_path / "out"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "kit",
            "import",
            "nbgrader",
            str(nbg / "source/ps1/budget.ipynb"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert "ps1-budget.ipynb: 5 question(s)" in p.stdout
    assert "cell 14 (grade_id plan)" in p.stdout
    assert (out / "ps1-budget.ipynb").exists() and (out / "ps1-budget.import.md").exists()
    shutil.rmtree(out)
