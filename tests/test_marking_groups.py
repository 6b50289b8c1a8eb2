"""Marking by answer groups with partial rubric points, through to feedback and the grades export."""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from classroom import CALLBACK, ESSAY, STAFF, TRIAGE, class_course, hand_in_all  # noqa: E402

from kit.gradebook import Gradebook  # noqa: E402
from kit.grading import feedback, grades  # noqa: E402
from kit.marking.book import MarkError, MarkSession, left  # noqa: E402

#: trainee → essay: three known groups of four, three and three
ESSAYS = dict(
    zip(
        [f"t{i:02d}" for i in range(1, 11)],
        TRIAGE[:4] + STAFF[:3] + CALLBACK[:3],
        strict=True,
    )
)
# spreadsheet programs must show this as text, never run it as a formula
ESSAYS["t11"] = '=HYPERLINK("http://example.invalid","x")'
KNOWN = [set(list(ESSAYS)[:4]), set(list(ESSAYS)[4:7]), set(list(ESSAYS)[7:10]), {"t11"}]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = class_course(tmp_path_factory.mktemp("marking") / "course", ESSAY, trainees=12)
    hand_in_all(root, {t: {"q-plan": (text, "essay")} for t, text in ESSAYS.items()})
    return root


@pytest.fixture
def handed_in(built: Path, tmp_path: Path) -> Path:
    """A private copy of the class that handed in (course, store and gradebook)."""
    dst = tmp_path / "course"
    shutil.copytree(built, dst)
    return dst


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
    assert book.left() == 11

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
        assert row["source"] == "item" and book2.left() == 7
        # partial points out of range are refused, not capped, when asked to be strict
        with pytest.raises(MarkError, match="clarity"):
            from kit.marking.book import mark_rows

            mark_rows(book2.spec("coop", "q-plan"), {"clarity": 2.5}, strict=True)
    # what is left, per question
    todo = left(root, "c1").set_index("question").loc["q-plan"]
    assert (todo["items"], todo["marked"], todo["left"]) == (11, 4, 7)
    assert (todo["groups"], todo["groups_left"]) == (4, 3)

    # feedback shows the partial criterion, the grades export carries it
    assert not feedback(root, "c1").failures
    page = (root / "build/c1/feedback/t03/coop.html").read_text("utf-8")
    # a partial criterion: ◐ with its points of the criterion's maximum (#13's rubric list)
    assert '<span class="tick">◐</span>' in page and "0.5 / 2" in page and "措施不具体" in page
    csv = pd.read_csv(grades(root, "c1", root / "g.csv").written[0], encoding="utf-8-sig")
    with Gradebook.open(root) as gb:
        auto = gb.question_scores("c1", "coop")
    auto_t03 = auto[(auto["trainee"] == "t03") & (auto["question"] != "q-plan")]["points"].sum()
    assert csv.set_index("学员编号").loc["t03", "总分"] == pytest.approx(auto_t03 + 1.5)
    xlsx = grades(root, "c1", root / "g.xlsx").written[0]
    rubric = pd.read_excel(xlsx, sheet_name="评分细则")
    r = rubric[(rubric["学员编号"] == "t03") & (rubric["评分项"] == "clarity")].iloc[0]
    assert (r["得分"], r["满分"]) == (0.5, 2)


def test_marking_app_gives_partial_points_to_an_answer_group(
    handed_in: Path, tmp_path: Path
) -> None:
    from kit.marking.notebook import MarkingApp

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
    assert app.left() == 7
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


# ---------------------------------------------------------------- marks in a spreadsheet


def _fill(path: Path, edits: dict[str, dict[str, object]]) -> None:
    """Edit the marks sheet as a marker would in a spreadsheet program: cell by cell."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["marks"]
    head = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        who = row[head.index("trainee")].value
        for col, value in edits.get(who, {}).items():
            row[head.index(col)].value = value
    wb.save(path)


def test_marks_go_out_to_a_sheet_and_come_back(handed_in: Path) -> None:
    from kit.marking.sheets import export_marks, import_marks

    root = handed_in
    with MarkSession(root, "c1", "coop") as book:
        book.save(0, criteria={"clarity": 2, "measures": 0.5}, comment="=先分级")
    out = export_marks(root, "c1", root / "marks.xlsx")
    assert out.items == 11
    sheet = pd.read_excel(root / "marks.xlsx", sheet_name=None, dtype=object)
    marks, rubric = sheet["marks"], sheet["rubric"]
    assert list(marks.columns[-4:]) == ["c:clarity", "c:measures", "points", "comment"]
    assert set(rubric["text"]) == {"思路清楚", "措施可行"}
    t11 = marks.set_index("trainee").loc["t11"]
    assert t11["answer"] == "'" + ESSAYS["t11"]  # text, not a formula
    from openpyxl import load_workbook

    ws = load_workbook(root / "marks.xlsx")["marks"]
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    # exported and read back unchanged: nothing is written
    again = import_marks(root, "c1", root / "marks.xlsx")
    assert again.applied == [] and again.unchanged == 1 and again.blank == 10
    # marked offline: partial points, a total given, a comment
    _fill(root / "marks.xlsx", {"t05": {"c:clarity": 1.5, "c:measures": 1},
                                "t08": {"points": 3, "comment": "回访到位"}})  # fmt: skip
    r = import_marks(root, "c1", root / "marks.xlsx", marker="离线批阅")
    assert sorted(r.applied) == ["t05/coop/q-plan", "t08/coop/q-plan"]
    t = _totals(root)
    assert t.loc["t05", "points"] == 2.5 and t.loc["t05", "source"] == "import"
    assert t.loc["t08", "points"] == 3 and t.loc["t08", "comment"] == "回访到位"
    assert t.loc["t08", "marker"] == "离线批阅"
    first = book.items.iloc[0]["trainee"]
    assert t.loc[first, "comment"] == "=先分级"  # the marker's own text comes back as typed


def test_a_bad_sheet_names_each_bad_row_and_changes_nothing(handed_in: Path) -> None:
    from kit.marking.sheets import export_marks, import_marks
    from kit.problems import CourseError

    root = handed_in
    export_marks(root, "c1", root / "marks.csv")
    table = pd.read_csv(root / "marks.csv", dtype=str, keep_default_na=False)
    rows = {t: i for i, t in enumerate(table["trainee"])}
    table.loc[rows["t01"], "c:clarity"] = "1.5"  # a good row: must not be written either
    table.loc[rows["t02"], "c:clarity"] = "2.5"  # over the criterion's 2 points
    table.loc[rows["t03"], "c:measures"] = "许多"  # not a number
    table.loc[rows["t04"], "trainee"] = "t99"  # nobody
    table.loc[rows["t04"], "points"] = "1"
    table.loc[rows["t05"], "points"] = "9"  # over the question's 4 points
    table["c:tone"] = ""
    table.loc[rows["t06"], "c:tone"] = "1"  # no such criterion
    table.to_csv(root / "marks.csv", index=False, encoding="utf-8-sig")
    before = _totals(root)
    with pytest.raises(CourseError) as err:
        import_marks(root, "c1", root / "marks.csv")
    found = {(p.where, p.field) for p in err.value.problems}
    row = {t: f"row {i + 2}" for t, i in rows.items()}
    assert found == {
        (row["t02"], "c:clarity"),
        (row["t03"], "c:measures"),
        (row["t04"], "trainee"),
        (row["t05"], "points"),
        (row["t06"], "c:tone"),
    }
    assert all(p.file.endswith("marks.csv") for p in err.value.problems)
    assert _totals(root).equals(before)  # nothing half-applied

    # the command line says the same, without a traceback, and exits 2
    from conftest import run_cli

    done = run_cli("import-marks", "c1", str(root / "marks.csv"), "-C", str(root))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    # in the course's language (Chinese), the row as the spreadsheet numbers it
    said = done.stderr.replace("\n", "")
    assert f"marks.csv:第 {rows['t02'] + 2} 行: c:clarity: 评分项 'clarity'：2.5 分超出" in said
    done = run_cli("import-marks", "c1", str(root / "marks.csv"), "-C", str(root), "--lang", "en")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"marks.csv:{row['t02']}: c:clarity: criterion 'clarity'" in done.stderr.replace(
        "\n", ""
    )
    assert _totals(root).equals(before)


def test_anonymous_sheet_and_what_is_left_on_the_command_line(handed_in: Path) -> None:
    from conftest import run_cli

    from kit.marking.sheets import export_marks, import_marks

    root = handed_in
    export_marks(root, "c1", root / "anon.csv", anonymous=True)
    table = pd.read_csv(root / "anon.csv", dtype=str, keep_default_na=False)
    assert "trainee" not in table.columns and "name" not in table.columns
    assert table["item"].str.startswith("答卷").all()
    table.loc[0, "points"] = "2"
    table.to_csv(root / "anon.csv", index=False, encoding="utf-8-sig")
    r = import_marks(root, "c1", root / "anon.csv")
    assert len(r.applied) == 1
    done = run_cli("mark", "c1", "-C", str(root))
    assert done.returncode == 0, done.stderr
    assert "q-plan" in done.stdout and "还剩 10 份未批（共 11 份）" in done.stdout
    done = run_cli("mark", "c1", "-C", str(root), "--lang", "en")
    assert "answer groups left" in done.stdout and "10 item(s) left of 11" in done.stdout


def test_upload_reports_are_read_for_grouping(tmp_path: Path) -> None:
    import json
    import zipfile

    from kit.marking.book import upload_text

    folder = tmp_path / "submissions/c1/t01/coop/x/files/q-report"
    folder.mkdir(parents=True)
    xml = ('<w:document><w:body><w:p><w:r><w:t>东山村积分制</w:t></w:r></w:p>'
           "<w:p><w:r><w:t>第一手数据</w:t></w:r></w:p></w:body></w:document>")  # fmt: skip
    with zipfile.ZipFile(folder / "报告.docx", "w") as z:
        z.writestr("word/document.xml", xml)
    (folder / "notes.md").write_text("# 调研\n32 户", "utf-8")
    (folder / "bad.docx").write_bytes(b"not a zip")
    at = "submissions/c1/t01/coop/x"
    assert (
        upload_text(tmp_path, at, "q-report", json.dumps({"name": "报告.docx"}))
        == "东山村积分制\n第一手数据\n"
    )
    assert (
        upload_text(tmp_path, at, "q-report", json.dumps({"name": "notes.md"})) == "# 调研\n32 户"
    )
    assert upload_text(tmp_path, at, "q-report", json.dumps({"name": "bad.docx"})) == ""
    assert upload_text(tmp_path, at, "q-report", json.dumps({"name": "../../../etc/passwd"})) == ""
