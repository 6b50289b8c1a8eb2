"""Marking by answer groups with partial rubric points, through to feedback and the grades export."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from classroom import CALLBACK, ESSAY, STAFF, TRIAGE, class_course, hand_in_all  # noqa: E402

from kit.gradebook import Gradebook  # noqa: E402
from kit.grading import feedback, grades  # noqa: E402
from kit.markbook import MarkError, MarkSession, left  # noqa: E402

#: trainee → essay: three known groups of four, three and three
ESSAYS = dict(
    zip(
        [f"t{i:02d}" for i in range(1, 11)],
        TRIAGE[:4] + STAFF[:3] + CALLBACK[:3],
        strict=True,
    )
)
KNOWN = [set(list(ESSAYS)[:4]), set(list(ESSAYS)[4:7]), set(list(ESSAYS)[7:])]


@pytest.fixture(scope="module")
def handed_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = class_course(tmp_path_factory.mktemp("marking") / "course", ESSAY, trainees=12)
    hand_in_all(root, {t: {"q-plan": (text, "essay")} for t, text in ESSAYS.items()})
    return root


def _totals(root: Path) -> pd.Series:
    with Gradebook.open(root) as gb:
        m = gb.marks("c1", "coop")
    return m[(m["criterion"] == "") & (m["question"] == "q-plan")].set_index("trainee")


def test_groups_found_marked_once_overrides_stick_partial_points_reach_every_output(
    handed_in: Path,
) -> None:
    root = handed_in
    book = MarkSession(root, "c1", "coop", marker="林老师")
    items = book.items[book.items["question"] == "q-plan"]
    found = [set(g["trainee"]) for _, g in items.groupby("agroup")]
    assert sorted(found, key=min) == KNOWN
    # the queue shows each group together, the largest first
    assert list(items["agroup"]) == sorted(items["agroup"])
    assert list(items["agroup_size"][:4]) == [4, 4, 4, 4]
    assert book.left() == 10

    # a group marked once: every member gets the partial points
    first = int(items.index[items["trainee"] == "t01"][0])
    given = book.save(first, criteria={"clarity": 1.5, "measures": 2}, comment="思路清楚",
                      scope="answers")  # fmt: skip
    assert sorted(given) == sorted(KNOWN[0])
    t = _totals(root)
    assert set(t.index) == KNOWN[0] and (t["points"] == 3.5).all()
    assert set(t["source"]) == {"answers"}
    # one member marked on their own, then the group again: the override sticks
    t03 = int(items.index[items["trainee"] == "t03"][0])
    book.save(t03, criteria={"clarity": 0.5, "measures": 1}, comment="措施不具体")
    again = book.save(first, criteria={"clarity": 2, "measures": 2}, scope="answers")
    assert "t03" not in again and sorted(again) == ["t01", "t02", "t04"]
    t = _totals(root)
    assert t.loc["t03", "points"] == 1.5 and t.loc["t03", "source"] == "item"
    assert t.loc["t01", "points"] == t.loc["t04", "points"] == 4
    book.close()

    # a new sitting reads the same marks and groups back
    with MarkSession(root, "c1", "coop") as book2:
        row = book2.items.set_index("trainee").loc["t03"]
        assert row["marked"] and row["criteria"] == {"clarity": 0.5, "measures": 1.0}
        assert row["source"] == "item" and book2.left() == 6
        # partial points out of range are refused, not capped, when asked to be strict
        with pytest.raises(MarkError, match="clarity"):
            from kit.markbook import mark_rows

            mark_rows(book2.spec("coop", "q-plan"), {"clarity": 2.5}, strict=True)
    # what is left, per question
    todo = left(root, "c1").set_index("question").loc["q-plan"]
    assert (todo["items"], todo["marked"], todo["left"]) == (10, 4, 6)
    assert (todo["groups"], todo["groups_left"]) == (3, 2)

    # feedback shows the partial criterion, the grades export carries it
    assert not feedback(root, "c1").failures
    page = (root / "build/c1/feedback/t03/coop.html").read_text("utf-8")
    assert "◐ clarity (0.5 / 2)" in page and "措施不具体" in page
    csv = pd.read_csv(grades(root, "c1", root / "g.csv").written[0], encoding="utf-8-sig")
    with Gradebook.open(root) as gb:
        auto = gb.question_scores("c1", "coop")
    auto_t03 = auto[(auto["trainee"] == "t03") & (auto["question"] != "q-plan")]["points"].sum()
    assert csv.set_index("trainee").loc["t03", "total"] == pytest.approx(auto_t03 + 1.5)
    xlsx = grades(root, "c1", root / "g.xlsx").written[0]
    rubric = pd.read_excel(xlsx, sheet_name="rubric")
    r = rubric[(rubric["trainee"] == "t03") & (rubric["criterion"] == "clarity")].iloc[0]
    assert (r["points"], r["max_points"]) == (0.5, 2)


def test_marking_app_gives_partial_points_to_an_answer_group(
    handed_in: Path, tmp_path: Path
) -> None:
    from kit.marking import MarkingApp

    db = f"sqlite:///{tmp_path / 'app.sqlite'}"
    # a fresh gradebook on the same store: index it from the submissions again
    from kit.grading import grade, index_store

    index_store(handed_in, "c1", db=db)
    grade(handed_in, "c1", db=db, progress=False)
    app = MarkingApp(handed_in, "c1", "coop", db=db, marker="tester")
    it = app.items.iloc[app.pos]
    assert it["question"] == "q-plan" and it["agroup_size"] == 4
    assert "共 4 份" in app.group_info.value
    app._points["clarity"].value = 1.5
    app._checks["measures"].value = True
    assert app.points.value == 3.5 and not app._checks["clarity"].value
    app.same_answers.value = True
    app.save()
    assert app.left() == 6
    assert app.items.iloc[app.pos]["agroup"] != it["agroup"]  # the group is done: next group
    with Gradebook(db) as gb:
        m = gb.marks("c1", "coop")
    crit = m[(m["criterion"] == "clarity")].set_index("trainee")["points"]
    assert sorted(crit.index) == sorted(KNOWN[0]) and (crit == 1.5).all()


def test_an_older_gradebook_gains_the_mark_source(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE rubric_marks (cohort VARCHAR(100), session VARCHAR(100), trainee VARCHAR(100),"
        " question VARCHAR(100), criterion VARCHAR(100), checked BOOLEAN, points FLOAT,"
        " comment TEXT, marker VARCHAR(100), grp VARCHAR(100), submission_id INTEGER,"
        " at DATETIME, PRIMARY KEY (cohort, session, trainee, question, criterion))"
    )
    con.execute(
        "INSERT INTO rubric_marks VALUES ('c1','s','t01','q','',1,2.0,'','m','',NULL,"
        "'2026-01-01 00:00:00')"
    )
    con.commit()
    con.close()
    with Gradebook(f"sqlite:///{path}") as gb:
        m = gb.marks("c1")
    assert list(m["source"]) == ["item"] and list(m["points"]) == [2.0]
