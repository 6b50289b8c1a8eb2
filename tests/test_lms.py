"""Moodle and Canvas grade files, checked against the layouts those projects document.

Moodle ("Import grades: CSV"): an identifier column Moodle maps to a user
field (ID number, Email address or Username), one column per grade item and
an optional ``<item> (Feedback)`` column beside it. Canvas (gradebook
import): ``Student, ID, SIS User ID, SIS Login ID, Section``, assignment
columns ``Name`` or ``Name (id)``, a ``Points Possible`` second row, one row
per student, empty where there is no grade.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "grading"))
import sample  # noqa: E402

import kit  # noqa: E402
from kit.problems import CourseError

HANDED_IN = ("t01", "t02", "t03", "t17")  # right, partly wrong, empty, two days late
OPEN = ("t01", "t02", "t17")  # their essays wait for a marker: no final grade yet


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = sample.write_course(tmp_path_factory.mktemp("lms") / "course")
    roster = root / "cohorts/c1/roster.csv"
    lines = roster.read_text("utf-8").splitlines()
    lines = [lines[0] + ",email"] + [f"{ln},{ln.split(',')[0]}@example.org" for ln in lines[1:]]
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not kit.build(root, "c1", progress=False).failures
    tnb = nbformat.read(str(root / "build/c1/trainee/quiz.ipynb"), as_version=4)
    inbox = root / "exchange/c1/inbox"
    for t in HANDED_IN:
        spec = sample.S[t]
        when = spec.get("received", sample.ON_TIME)
        files = sample.seal(root, sample.submission_files(tnb, t, spec, when), t, when)
        d = inbox / t / "quiz" / "1"
        d.mkdir(parents=True)
        for name, data in files.items():
            (d / name).write_bytes(data)
    assert not kit.collect(root, "c1").failures
    assert not kit.grade(root, "c1", progress=False).failures
    return root


@pytest.fixture
def course(graded: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "course"
    shutil.copytree(graded, dst)
    return dst


def _read(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), (
        "no byte-order mark: it would become part of the first header"
    )
    return list(csv.reader(raw.decode("utf-8").splitlines()))


def _expected_points(course: Path) -> dict[str, str]:
    from kit.grading import grades_table

    table = grades_table(course, "c1").set_index("trainee")
    return {t: f"{table.loc[t, 'quiz']:.4f}".rstrip("0").rstrip(".") for t in HANDED_IN}


def test_moodle_file_follows_moodles_csv_import_layout(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "moodle.csv"
    r = kit.grades(course, "c1", out, format="moodle", provisional=True)
    assert r.written == [out] and r.left_out == []
    rows = _read(out)
    header, body = rows[0], rows[1:]
    # identifier column first, named after the Moodle user field it maps to (email: the roster has one)
    assert header == ["Email address", "Full name", "quiz", "quiz (Feedback)"]
    assert len(body) == len(sample.ROSTER) and all(len(r) == len(header) for r in body)
    by = {r[0]: r for r in body}
    assert by["t01@example.org"][1] == "学员1"
    want = _expected_points(course)
    for t in HANDED_IN:
        assert by[f"{t}@example.org"][2] == want[t]
        float(want[t])
    assert want["t01"] == "7" and want["t03"] == "0"
    # no submission: an empty grade (Moodle leaves it alone), and the feedback says why
    assert by["t05@example.org"][2] == "" and by["t05@example.org"][3] == "未提交"
    assert "迟交 2 天" in by["t17@example.org"][3]
    assert "待批阅 1 项" in by["t01@example.org"][3]  # the essay waits for a marker
    assert "暂定分" in by["t01@example.org"][3] and "暂定分" not in by["t03@example.org"][3]

    # mapped to the ID number instead; or to Username
    kit.grades(course, "c1", out, format="moodle", mapping={"ID number": "id"})
    rows = _read(out)
    assert rows[0][0] == "ID number" and {r[0] for r in rows[1:]} == set(sample.ROSTER)
    kit.grades(course, "c1", out, format="moodle", mapping={"Username": "id"})
    assert _read(out)[0][0] == "Username"


def test_canvas_file_follows_canvas_gradebook_import_layout(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "canvas.csv"
    kit.grades(course, "c1", out, format="canvas", provisional=True)
    rows = _read(out)
    header, possible, body = rows[0], rows[1], rows[2:]
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "quiz"]
    assert possible[0].strip() == "Points Possible" and possible[1:5] == ["", "", "", ""]
    assert possible[5] == "12"  # the quiz's maximum
    assert len(body) == len(sample.ROSTER)
    by = {r[2]: r for r in body}
    assert by["t01"][:5] == ["学员1", "", "t01", "t01@example.org", "G1"]
    want = _expected_points(course)
    assert {t: by[t][5] for t in HANDED_IN} == want
    assert by["t05"][5] == ""  # nothing handed in: Canvas keeps what it has

    # an existing assignment is named "Name (id)"; identifiers can be remapped
    kit.grades(
        course,
        "c1",
        out,
        format="canvas",
        assignment_ids={"quiz": "4321"},
        mapping={"SIS Login ID": "id"},
    )
    rows = _read(out)
    assert rows[0][5] == "quiz (4321)" and rows[2][3] == rows[2][2]


def test_lms_files_carry_final_grades_only(course: Path, tmp_path: Path) -> None:
    from kit.marking.notebook import record_mark

    want = _expected_points(course)
    for fmt in ("moodle", "canvas"):
        out = tmp_path / f"{fmt}.csv"
        r = kit.grades(course, "c1", out, format=fmt)
        rows = _read(out)
        col = rows[0].index("quiz")
        by = {r[2 if fmt == "canvas" else 0].split("@")[0]: r for r in rows[1:]}
        # a session still waiting for marking is left empty: the LMS keeps what it has
        assert {t: by[t][col] for t in HANDED_IN} == {"t01": "", "t02": "", "t03": "0", "t17": ""}
        assert len(r.left_out) == len(OPEN), r.left_out
        for t, line in zip(OPEN, r.left_out, strict=True):
            assert line.startswith(f"{t}, quiz: left empty, 1 item(s) awaiting marking"), line
            assert f"(provisional score {want[t]})" in line
    # once marked, the grade is final and goes out
    record_mark(
        course, "c1", "quiz", "q-essay", trainee="t01", criteria={"clarity": 2, "evidence": 1}
    )
    out = tmp_path / "moodle.csv"
    r = kit.grades(course, "c1", out, format="moodle")
    by = {row[0]: row for row in _read(out)[1:]}
    assert by["t01@example.org"][2] == str(int(want["t01"]) + 3)
    assert [line.split(",")[0] for line in r.left_out] == ["t02", "t17"]

    # the CLI says what it left out, and how to include it
    cmd = [sys.executable, "-m", "kit", "grades", "c1", "-C", str(course), "--lang", "en"]
    p = subprocess.run(
        [*cmd, "--to", str(out), "--format", "moodle"], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    assert "t02, quiz: left empty" in p.stderr and "--provisional" in p.stderr
    p = subprocess.run(
        [*cmd, "--to", str(out), "--format", "moodle", "--provisional"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0 and "left empty" not in p.stderr, p.stderr
    by = {row[0]: row for row in _read(out)[1:]}
    assert by["t02@example.org"][2] == want["t02"]


def test_bad_mapping_or_missing_identifiers_write_nothing(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "grades.csv"
    out.write_text("earlier export\n", encoding="utf-8")
    with pytest.raises(CourseError) as e:
        kit.grades(course, "c1", out, format="canvas", mapping={"SIS Login ID": "login"})
    assert "roster column 'login' does not exist" in str(e.value)
    with pytest.raises(CourseError) as e:
        kit.grades(course, "c1", out, format="moodle", mapping={"Student": "id"})
    assert "not a Moodle identifier column" in str(e.value)
    roster = course / "cohorts/c1/roster.csv"
    roster.write_text(roster.read_text("utf-8").replace("t02@example.org", ""), encoding="utf-8")
    with pytest.raises(CourseError) as e:
        kit.grades(course, "c1", out, format="moodle", mapping={"Email address": "email"})
    assert "roster.csv:trainee t02" in str(e.value) and "email" in str(e.value)
    assert out.read_text("utf-8") == "earlier export\n"  # whole or not at all
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    # without a complete email column the default identifier is the roster id
    kit.grades(course, "c1", out, format="moodle")
    assert _read(out)[0][0] == "ID number"


def test_cli_grades_format_flag(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "canvas.csv"
    run = [sys.executable, "-m", "kit", "grades", "c1", "-C", str(course), "--to", str(out)]
    p = subprocess.run(
        [*run, "--format", "canvas", "--map", "SIS Login ID=email"], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    assert _read(out)[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    p = subprocess.run(
        [*run, "--format", "canvas", "--map", "nonsense"], capture_output=True, text=True
    )
    assert p.returncode == 2 and "NAME=VALUE" in p.stderr and "Traceback" not in p.stderr
    p = subprocess.run(
        [*run[:-1], str(tmp_path / "m.xlsx"), "--format", "moodle"], capture_output=True, text=True
    )
    assert p.returncode == 2 and "m.xlsx" in p.stderr and ".csv" in p.stderr
