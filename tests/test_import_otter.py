"""Importing otter-grader master notebooks (current raw-cell format and the older one).

The masters (tests/fixtures/foreign.py) are written in otter's documented
format. Imported, checked and built like any session, their questions keep
otter's points (resolved by otter's documented rule), hidden tests stay
hidden, and answers graded by casekit earn what otter's rule gives: the
points of every test case whose output matches the master's.
"""

from __future__ import annotations

import json
import sys
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
from kit.importers.otter import resolve_points  # noqa: E402

SCHEDULE = (
    "session,notebook,date,teacher,site,method,unit,hours,mode,due,params\n"
    "roads,exercises/roads.ipynb,2026-03-02,f1,,drill,green,2,assessed,,{}\n"
    "evens,exercises/evens.ipynb,2026-03-03,f1,,drill,green,2,assessed,,{}\n"
    "roads0,exercises/roads0.ipynb,2026-03-04,f1,,drill,green,2,assessed,,{}\n"
)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("otter-import")
    root = sample.write_course(work / "course", cell_timeout=10)
    masters = work / "masters"
    masters.mkdir()
    for name, nb in (
        ("roads", foreign.otter_master()),
        ("evens", foreign.otter_master_exceptions()),
        ("roads0", foreign.otter_master_v0()),
    ):
        nbformat.write(nb, str(masters / f"{name}.ipynb"))
        kit.import_otter(masters / f"{name}.ipynb", course=root)
    (root / "cohorts/c1/schedule.csv").write_text(SCHEDULE, encoding="utf-8")
    r = kit.build(root, "c1", progress=False)
    assert not r.failures, r.failures
    return root


def _keys(course: Path, session: str) -> dict:
    return json.loads((course / f"build/c1/instructor/{session}.keys.json").read_text("utf-8"))


def test_otter_points_follow_otters_documented_rule() -> None:
    assert resolve_points(3, [None, None, 1]) == [1, 1, 1]
    assert resolve_points(4, [None, None]) == [2, 2]
    assert resolve_points(None, [None, 2]) == [0, 2]
    assert resolve_points(None, [None, None]) == [0.5, 0.5]
    assert resolve_points(None, [0, None]) == [0, 1]
    assert resolve_points([1, 3], [None, None]) == [1, 3]


def test_imports_check_build_and_keep_points(course: Path) -> None:
    checked = kit.check(course)
    assert not checked.errors, [str(p) for p in checked.errors]
    want = {
        "roads": {"q1": ("code", 3), "q2": ("essay", 2), "q3": ("code", 4)},
        "evens": {"evens": ("code", 2)},
        "roads0": {"q1": ("code", 2), "q2": ("essay", 1)},
    }
    for session, questions in want.items():
        keys = _keys(course, session)
        assert {q["id"]: (q["kind"], q["points"]) for q in keys["questions"]} == questions
        # the instructor's solutions pass every converted test
        assert keys["tests"] and all(t["passed"] for t in keys["tests"]), keys["tests"]
    tests = {t["name"]: t for t in _keys(course, "roads")["tests"]}
    assert {n: t["points"] for n, t in tests.items()} == {
        "q1 - 1": 1, "q1 - 2": 1, "q1 - 3": 1, "q3 - 1": 2, "q3 - 2": 2,
    }  # fmt: skip
    hidden = {n for n, t in tests.items() if t.get("hidden") or t.get("role") == "hidden-tests"}
    assert hidden == {"q1 - 2", "q1 - 3", "q3 - 2"}
    evens = {t["name"]: t for t in _keys(course, "evens")["tests"]}
    assert evens["evens - 2"]["role"] == "hidden-tests" and evens["evens - 1"]["role"] == "tests"

    report = (course / "exercises/roads.import.md").read_text("utf-8")
    assert "export_cell, generate, init_cell" in report
    report0 = (course / "exercises/roads0.import.md").read_text("utf-8")
    assert "## Ignore ##" in report0


def test_trainee_edition_hides_solutions_and_hidden_tests(course: Path) -> None:
    text = (course / "build/c1/trainee/roads.ipynb").read_text("utf-8")
    instructor = (course / "build/c1/instructor/roads.ipynb").read_text("utf-8")
    for secret in (
        "round(km(10), 2)",
        "print(round(length))",
        "The longest road",
        "miles * 1.609",
        "sum(ROADS)",
    ):
        assert secret in instructor and secret not in text, secret
    assert "def km(miles):" in text  # the scaffold around otter's solution block stays
    assert "round(km(1), 3)" in text  # visible tests stay
    assert "Type your answer here" in text  # the manual question's prompt stays
    assert "BEGIN QUESTION" not in text and "# ASSIGNMENT CONFIG" not in text


def test_answers_grade_to_otters_totals(course: Path) -> None:
    inbox = (
        course / "downloads"
    )  # a folder the instructor chose: the inbox vouches for no bare answers
    for trainee, spec in foreign.OTTER_SUBMISSIONS.items():
        answers = {
            q: {"value": spec[q], "at": "2026-03-02T10:00:00+00:00", "kind": "code"}
            for q in ("q1", "q3")
            if q in spec
        }
        d = inbox / trainee / "roads" / "1"
        d.mkdir(parents=True)
        doc = {"trainee": trainee, "session": "roads", "answers": answers}
        (d / "answers.json").write_text(json.dumps(doc), encoding="utf-8")
    assert not kit.collect(course, "c1", source=inbox).failures
    g = kit.grade(course, "c1", "roads", progress=False)
    assert not g.failures, g.failures
    with Gradebook.open(course) as gb:
        qs = gb.question_scores("c1", "roads")
    totals = qs.groupby("trainee")["points"].sum().to_dict()
    assert {t: round(p, 6) for t, p in totals.items()} == {
        t: s["expect"] for t, s in foreign.OTTER_SUBMISSIONS.items()
    }


def test_not_an_otter_notebook_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), str(plain))
    with pytest.raises(CourseError) as e:
        kit.import_otter(plain, course=None, out=tmp_path / "out")
    assert "plain.ipynb" in str(e.value) and "BEGIN QUESTION" in str(e.value)
    broken = foreign.otter_master()
    broken.cells = [c for c in broken.cells if "END QUESTION" not in c.source]
    nbformat.write(broken, str(tmp_path / "broken.ipynb"))
    with pytest.raises(CourseError) as e:
        kit.import_otter(tmp_path / "broken.ipynb", course=None, out=tmp_path / "out")
    assert "broken.ipynb:cell" in str(e.value)
    assert not (tmp_path / "out").exists()
