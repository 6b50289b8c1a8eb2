"""``casekit try``: answers from a file graded as a submission would be, the course untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import copy_sample, run_cli
from test_golden import COHORT, GOLDEN, answers_for

from kit.builder import build
from kit.problems import CourseError
from kit.trial import read_answers, try_answers

SESSION = "green-2"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    # one build for the module: a trial leaves the course as it found it (checked below)
    course = copy_sample(tmp_path_factory.mktemp("try") / "sample")
    assert build(course, COHORT, sessions=[SESSION], progress=False).ok
    return course


def _untouched(course: Path) -> None:
    for written in ("gradebook.sqlite", "submissions", "exchange"):
        assert not (course / written).exists(), written
    assert not (course / "build" / COHORT / "feedback").exists()


def test_try_scores_answers_as_the_golden_submission_was_scored(built: Path, tmp_path: Path):
    # sp01's green-2 answers from the golden run, written to a file an author would write
    answers = answers_for(built, "sp01", SESSION)
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers, ensure_ascii=False), "utf-8")
    r = try_answers(built, COHORT, SESSION, path, trainee="sp01")
    _untouched(built)
    golden = json.loads(GOLDEN.read_text("utf-8"))["questions"]
    want = {
        q["question"]: (q["points"], q["status"])
        for q in golden
        if q["trainee"] == "sp01" and q["session"] == SESSION and q["status"] != "marked"
    }
    got = {q["question"]: (round(q["points"], 6), q["status"]) for q in r.questions}
    assert want and {q: got[q] for q in want} == want
    assert got["g2-advice"] == (0.0, "needs-marking")  # the golden's was marked by hand later
    assert {t["name"] for t in r.tests if t["hidden"]} == {"合计数正确", "企业一家不少、顺序正确"}
    assert r.page == built / "build" / COHORT / "try" / f"{SESSION}.html"
    page = r.page.read_text("utf-8")
    assert "成绩反馈" in page and "合计数正确" not in page  # a trainee's page: no hidden test


def test_try_from_the_command_line_with_yaml(built: Path, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("CASEKIT_LANG", raising=False)
    path = tmp_path / "answers.yaml"
    path.write_text(
        "g2-by-industry: |\n"
        '  by_industry = ledger.groupby("产业")["产值2025"].sum()\n'
        "g2-intensity: 焦化\n"
        "g2-eval: 4\n",
        "utf-8",
    )
    out = tmp_path / "page.html"
    r = run_cli("try", COHORT, SESSION, "--answers", str(path), "-C", str(built), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "g2-by-industry" in r.stdout and "（隐藏）" in r.stdout  # the author sees hidden tests
    assert "✗ g2-by-industry · 从大到小排序" in r.stdout  # unsorted: that visible test fails
    assert "总分" in r.stdout and out.exists()
    _untouched(built)

    # a question the session does not ask, and a rating off the scale: both named, nothing graded
    path.write_text("g2-nope: 1\ng2-eval: 9\n", "utf-8")
    bad = run_cli("try", COHORT, SESSION, "--answers", str(path), "-C", str(built), "--lang", "en")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    lines = [line for line in bad.stderr.splitlines() if line.startswith("✗")]
    assert len(lines) == 2, bad.stderr
    assert (
        f"{path}: g2-nope: not a question of this session — questions: g2-by-industry" in lines[0]
    )
    assert f"{path}: g2-eval: not a point on the scale" in lines[1]


def test_try_needs_a_built_session_and_a_readable_file(sample_course: Path, tmp_path: Path):
    path = tmp_path / "a.toml"
    path.write_text('g2-intensity = "焦化"\n', "utf-8")
    with pytest.raises(CourseError, match="not built yet"):
        try_answers(sample_course, COHORT, SESSION, path)
    path.write_text("g2-intensity = \n", "utf-8")
    with pytest.raises(CourseError, match="cannot read the answers"):
        read_answers(path)
    with pytest.raises(CourseError, match="must be a .json, .yaml or .toml"):
        read_answers(tmp_path / "answers.txt")


def test_a_trial_is_on_time_and_reads_numbers_as_people_type_them(built: Path, tmp_path: Path):
    # green-2 was due on 2026-04-24: long past, yet a trial is of the answers, not of the clock
    keys = json.loads(
        (built / "build" / COHORT / "instructor" / f"{SESSION}.keys.json").read_text()
    )
    growth = keys["keys"]["g2-total-growth"]["value"]  # unit "%"
    wide = str(growth).translate(str.maketrans("0123456789.-", "０１２３４５６７８９．－"))
    path = tmp_path / "answers.yaml"
    path.write_text(
        f"g2-total-growth: '{wide}%'\ng2-intensity: {keys['keys']['g2-intensity']['value']}\n",
        "utf-8",
    )
    r = try_answers(built, COHORT, SESSION, path, trainee="sp02")
    got = {q["question"]: q for q in r.questions}
    assert got["g2-total-growth"]["status"] == "correct", got["g2-total-growth"]
    assert got["g2-intensity"]["status"] == "correct"
    # no late penalty: the total is what the questions earned
    assert r.points == pytest.approx(sum(q["points"] for q in r.questions)) == 4.0
    _untouched(built)
