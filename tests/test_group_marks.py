"""Group marks reach every member, the grades export measures everyone against what was due,
and ``grade`` reports statuses as they are after marking."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd
from conftest import run_cli

from kit import workbook as W
from kit.builder import build
from kit.course import load_course
from kit.gradebook import Gradebook
from kit.grading import collect, grade, grades, grades_table
from kit.marking.notebook import record_mark

COHORT = "2026-spring"
SESSIONS = ["green-2", "red-2"]
GROUP = "第一课题组"  # sp01, sp07, sp13, ... of the sample roster


def hand_in(course: Path, trainee: str, session: str, answers: dict[str, tuple[str, Any]]) -> None:
    """Answer through the workbook runtime (question id → (kind, value)), then submit."""
    exchange = course / "exchange"
    wb = exchange / COHORT / "outbox" / trainee / f"{session}.ipynb"
    rt = W.open_workbook(
        session, trainee=trainee, cohort=COHORT, exchange=exchange, store=W.store_path_for(wb)
    )
    try:
        for qid, (kind, value) in answers.items():
            if kind == "upload":
                value = rt.save_file(qid, *value)
            rt.save(qid, value, kind)
    finally:
        W.close_workbook()
    W.submit(wb)


def test_group_marks_missed_sessions_and_statuses_after_marking(sample_course: Path, monkeypatch):
    monkeypatch.delenv("CASEKIT_LANG", raising=False)
    course = sample_course
    assert build(course, COHORT, sessions=SESSIONS, progress=False).ok
    trainees = ["sp01", "sp02", "sp06", "sp07", "sp13"]
    assert not W.release(course, COHORT, sessions=SESSIONS, trainees=trainees).failures
    report = ("第一课题组报告.md", "# 课题报告\n\n现状、问题、对策。\n".encode())
    hand_in(
        course,
        "sp01",
        "red-2",
        {"r2-log": ("observation", {"看到了什么（一件展品或一个场景的细节）": "展柜里的草鞋"}),
         "r2-report": ("upload", report)},
    )  # fmt: skip
    hand_in(course, "sp01", "green-2", {"g2-total-growth": ("number", 1.0)})
    hand_in(course, "sp02", "green-2", {"g2-advice": ("essay", "发展新能源装备。")})
    hand_in(course, "sp07", "green-2", {"g2-intensity": ("choice", "焦化")})
    # sp06 hands in nothing at all; sp13 nothing yet; sp02 and sp07 skip red-2
    assert collect(course, COHORT).written
    first = grade(course, COHORT, progress=False, workers=1)
    assert not first.failures, first.failures
    assert first.statuses["sp01/red-2"] == first.statuses["sp02/green-2"] == "needs-marking"

    # the group's report, marked once for the whole group; the other open items by hand
    members = record_mark(
        course, COHORT, "red-2", "r2-report", group=GROUP, criteria={"problem": True}
    )
    assert {"sp01", "sp07", "sp13"} <= set(members)
    record_mark(course, COHORT, "red-2", "r2-log", trainee="sp01", points=3)
    record_mark(course, COHORT, "green-2", "g2-advice", trainee="sp02", points=2)

    # every item is marked: grade says so, however often it runs
    again = run_cli("grade", COHORT, "-C", str(course), "--lang", "en")
    assert again.returncode == 0, again.stderr
    assert "needs-marking" not in again.stdout and "4 graded" in again.stdout, again.stdout
    assert set(grade(course, COHORT, progress=False).statuses.values()) == {"graded"}

    # a member hands in their own workbook later, without the group's report
    hand_in(course, "sp13", "red-2", {"r2-discipline": ("multi", ["统一着装，佩戴党员徽章"])})
    assert collect(course, COHORT).written
    assert not grade(course, COHORT, progress=False).failures
    with Gradebook.open(course) as gb:
        qs = gb.question_scores(COHORT)
    own = qs[(qs["trainee"] == "sp13") & (qs["question"] == "r2-report")]
    assert list(own["status"]) == ["marked"] and list(own["points"]) == [4.0]
    # a member who handed nothing in has the group's mark too, as the question is worth
    sp07 = qs[(qs["trainee"] == "sp07") & (qs["question"] == "r2-report")]
    report_max = float(
        qs[(qs["trainee"] == "sp01") & (qs["question"] == "r2-report")]["max_points"].iloc[0]
    )
    assert list(sp07["points"]) == [4.0] and list(sp07["max_points"]) == [report_max]

    table = grades_table(course, COHORT).set_index("trainee")
    assert table.loc["sp07", "red-2"] == 4.0 and table.loc["sp07", "red-2 status"] == "marked"
    assert table.loc["sp07", "unit red"] == 4.0
    assert table.loc["sp13", "red-2 status"] == "graded"
    # everyone is measured against every session that was graded for anyone
    due = table.loc["sp01", "max"]
    assert due > 0 and set(table.loc[trainees, "max"]) == {due}
    assert table.loc["sp06", "total"] == 0 and table.loc["sp06", "red-2 status"] == "missing"
    assert (
        len(set(table.loc[trainees, "unit red max"])) == 1 and table.loc["sp06", "unit red max"] > 0
    )
    assert table.loc["sp02", "max"] == due  # skipped red-2: still due
    assert table.loc[trainees, "open items"].sum() == 0

    # the spreadsheet and an LMS file say the same
    out = course / "grades.xlsx"
    grades(course, COHORT, out)
    # (the sheet people open speaks the course's language and numbers sessions by date)
    sheet = pd.read_excel(out, sheet_name="成绩").set_index("学员编号")
    red2 = f"第 {load_course(course).cohort(COHORT).number('red-2')} 讲 得分"
    assert sheet.loc["sp07", red2] == 4.0 and sheet.loc["sp07", "满分"] == due
    moodle = course / "moodle.csv"
    grades(course, COHORT, moodle, format="moodle", mapping={"ID number": "id"})
    rows = {r["ID number"]: r for r in csv.DictReader(moodle.open(encoding="utf-8"))}
    assert rows["sp07"]["red-2"] == "4"
