"""Three-party deliberation: records, history, the form, the banner, check."""

from __future__ import annotations

import ast
import json
import tomllib
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit import deliberation as dl
from kit.course import load_course
from kit.problems import CourseError


def add_module(root: Path, name: str = "emergency") -> None:
    """Give the fixture case an optional cell a deliberation can switch on."""
    path = root / "cases/coop.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    cell = nbformat.v4.new_markdown_cell("## 会务突发事件处置\n停电、冲突、媒体到场。")
    cell.metadata["tags"] = [f"module:{name}"]
    nb.cells.append(cell)
    nbformat.write(nb, str(path))


@pytest.fixture
def c(course: Path):
    add_module(course)
    return load_course(course)


def test_round_trip(c):
    path = dl.record_deliberation(
        c,
        "c1",
        "coop",
        by="王主任",
        role="organiser",
        trainee_expectations=["增加会务工作突发事件处理的经验分享"],
        trainee_questions="会议中途停电怎么办？",  # a single string is one item
        organiser_decisions=["压缩理论讲授，增加情景演练"],
        emphasis=["会务突发事件处置"],
        modules=["emergency"],
        time_split={"讲授": 30, "研讨": 60, "演练": 90},
        extra_questions=[{"id": "delib-blackout", "prompt": "会议中途停电，\n你第一步做什么？"}],
        parties={"organisers": ["王主任"], "teacher": "f1", "trainee_reps": ["t01", "t03"]},
        agreed_at="2026-03-01T15:00:00+08:00",
    )
    assert path == c.root / "cohorts/c1/deliberations/coop.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert raw["version"] == 1 and raw["updated_by"] == "王主任"
    inputs = dl.session_inputs(c.root, "c1", "coop")  # a path works as well as a Course
    assert inputs["trainee_questions"] == ["会议中途停电怎么办？"]
    assert inputs["emphasis"] == ["会务突发事件处置"]
    assert inputs["modules"] == ["emergency"]
    assert inputs["time_split"] == {"讲授": 30, "研讨": 60, "演练": 90}
    assert inputs["extra_questions"][0] == {
        "id": "delib-blackout",
        "prompt": "会议中途停电，\n你第一步做什么？",
        "kind": "essay",
        "options": [],
        "rubric": [],
    }
    assert inputs["parties"]["trainee_reps"] == ["t01", "t03"]
    assert inputs["agreed_at"].startswith("2026-03-01T15:00:00")
    json.dumps(inputs)  # papermill needs JSON-safe parameters
    # The other cohort's same session is untouched.
    assert dl.session_inputs(c, "c2", "coop") == {}
    assert dl.check_deliberations(c) == []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    direction=st.text(st.characters(blacklist_categories=["Cs"]), max_size=60),
    items=st.lists(
        st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20), max_size=3
    ),
)
def test_any_text_survives_the_toml_file(c, direction, items):
    # Whatever people type (quotes, backslashes, newlines, control characters)
    # must read back exactly: the file is written by our own small TOML writer.
    record = dl.Deliberation(teacher_direction=direction, emphasis=items)
    text = dl.dumps_record(record, "c1", "coop")
    assert dl.Deliberation.model_validate(tomllib.loads(text)) == record


def test_history_is_kept(c):
    dl.record_deliberation(
        c, "c1", "coop", by="t01", role="trainee-rep", trainee_expectations=["多讲应急"]
    )
    dl.record_deliberation(
        c, "c1", "coop", by="林晓峰", role="teacher", teacher_direction="以案例为主线"
    )
    dl.record_deliberation(
        c, "c1", "coop", by="t01", role="trainee-rep", trainee_expectations=["多讲应急", "多讲舆情"]
    )
    # Saving the same values again is not a new version.
    dl.record_deliberation(
        c, "c1", "coop", by="林晓峰", role="teacher", teacher_direction="以案例为主线"
    )
    h = dl.history(c, "c1", "coop")
    assert [e["version"] for e in h] == [1, 2, 3]
    assert [(e["by"], e["role"]) for e in h] == [
        ("t01", "trainee-rep"),
        ("林晓峰", "teacher"),
        ("t01", "trainee-rep"),
    ]
    assert h[2]["changes"] == {
        "trainee_expectations": {"old": ["多讲应急"], "new": ["多讲应急", "多讲舆情"]}
    }
    assert all(e["at"] for e in h)
    hist = c.root / "cohorts/c1/deliberations/coop.history.jsonl"
    before = hist.read_text(encoding="utf-8")

    # A hand edit of the TOML is noticed at the next save and recorded as such.
    toml = c.root / "cohorts/c1/deliberations/coop.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('"以案例为主线"', '"以问题为主线"'),
        encoding="utf-8",
    )
    dl.record_deliberation(c, "c1", "coop", by="王主任", role="organiser", emphasis=["舆情"])
    h = dl.history(c, "c1", "coop")
    assert hist.read_text(encoding="utf-8").startswith(before)  # append-only
    assert h[3]["by"] == "(edited by hand)"
    assert h[3]["changes"]["teacher_direction"] == {"old": "以案例为主线", "new": "以问题为主线"}
    assert h[4]["version"] == 4 and h[4]["changes"] == {"emphasis": {"old": [], "new": ["舆情"]}}


def test_roles_and_concurrent_saves(c):
    with pytest.raises(CourseError) as e:
        dl.record_deliberation(c, "c1", "coop", by="t01", role="trainee-rep", emphasis=["x"])
    assert e.value.problems[0].field == "emphasis"
    assert "trainee-rep may not change" in e.value.problems[0].message
    with pytest.raises(CourseError):
        dl.record_deliberation(c, "c1", "coop", by="x", role="boss", emphasis=["x"])  # type: ignore[arg-type]
    with pytest.raises(CourseError):
        dl.record_deliberation(c, "c1", "coop", by=" ", role="organiser", emphasis=["x"])
    with pytest.raises(CourseError) as e:
        dl.record_deliberation(c, "c1", "coop", by="x", role="organiser", emphsis=["typo"])
    assert e.value.problems[0].field == "emphsis"
    with pytest.raises(CourseError):
        dl.record_deliberation(c, "c1", "nope", by="x", role="organiser", emphasis=["x"])

    dl.record_deliberation(
        c, "c1", "coop", by="a", role="organiser", emphasis=["x"], expected_version=0
    )
    with pytest.raises(CourseError) as e:
        # Read at version 0, but someone saved version 1 since.
        dl.record_deliberation(
            c, "c1", "coop", by="b", role="organiser", emphasis=["y"], expected_version=0
        )
    assert "since you read version 0" in e.value.problems[0].message
    assert dl.session_inputs(c, "c1", "coop")["emphasis"] == ["x"]


def test_invalid_changes_are_located_and_not_written(c):
    with pytest.raises(CourseError) as e:
        dl.record_deliberation(
            c,
            "c1",
            "coop",
            by="x",
            role="organiser",
            time_split={"讲授": -5},
            extra_questions=[{"id": "Bad Id", "prompt": ""}],
        )
    fields = {p.field for p in e.value.problems}
    assert {"time_split", "extra_questions.0.id", "extra_questions.0.prompt"} <= fields
    with pytest.raises(CourseError) as e:
        dl.record_deliberation(c, "c1", "coop", by="x", role="organiser", modules=["nosuch"])
    assert e.value.problems[0].field == "modules" and "emergency" in e.value.problems[0].fix
    with pytest.raises(CourseError) as e:
        # q-word is already asked by the case itself.
        dl.record_deliberation(
            c,
            "c1",
            "coop",
            by="x",
            role="organiser",
            extra_questions=[{"id": "q-word", "prompt": "?"}],
        )
    assert "already asked" in e.value.problems[0].message
    with pytest.raises(CourseError) as e:
        dl.record_deliberation(
            c, "c1", "coop", by="x", role="organiser", parties={"trainee_reps": ["t99"]}
        )
    assert e.value.problems[0].field == "trainee_reps"
    assert not (c.root / "cohorts/c1/deliberations/coop.toml").exists()
    assert dl.history(c, "c1", "coop") == []


def test_check_deliberations_names_file_and_field(c):
    folder = c.root / "cohorts/c1/deliberations"
    folder.mkdir()
    (folder / "ghost.toml").write_text('emphasis = ["x"]\n', encoding="utf-8")
    (folder / "coop.toml").write_text('emphasis = ["x"\nmodules = []\n', encoding="utf-8")
    folder2 = c.root / "cohorts/c2/deliberations"
    folder2.mkdir()
    (folder2 / "coop.toml").write_text(
        'modules = ["nosuch"]\ncolour = "red"\n[parties]\nteacher = "f2"\n', encoding="utf-8"
    )
    problems = dl.check_deliberations(c)
    by_file = {(Path(p.file).parent.parent.name, Path(p.file).name, p.field) for p in problems}
    assert ("c1", "ghost.toml", "") in by_file  # unknown session
    assert any(
        p.file.endswith("c1/deliberations/coop.toml") and "malformed TOML" in p.message
        for p in problems
    )
    assert ("c2", "coop.toml", "colour") in by_file  # unknown key
    msgs = [str(p) for p in problems]
    assert not any("nosuch" in m for m in msgs)  # a record that does not parse is reported once
    (folder2 / "coop.toml").write_text(
        'modules = ["nosuch"]\n[parties]\nteacher = "f2"\n', encoding="utf-8"
    )
    problems = dl.check_deliberations(c.root)
    mod = [p for p in problems if p.field == "modules"]
    assert mod and mod[0].severity == "error" and "module:nosuch" in mod[0].message
    teacher = [p for p in problems if p.field == "teacher"]
    assert (
        teacher and teacher[0].severity == "warning"
    )  # f2 exists but is not the session's teacher
    with pytest.raises(CourseError):
        dl.session_inputs(c, "c1", "coop")  # a malformed record never builds silently


def test_offered_modules(c):
    assert dl.offered_modules(c) == set()
    dl.record_deliberation(c, "c2", "coop", by="x", role="organiser", modules=["emergency"])
    assert dl.offered_modules(c) == {"emergency"}


def test_banner(c):
    none = dl.deliberation_banner({}, "zh")
    assert "未记录三方研议" in none
    assert dl.deliberation_banner({}, "zh", audience="trainee") == ""
    assert "No three-party deliberation" in dl.deliberation_banner({}, "en")

    dl.record_deliberation(
        c,
        "c1",
        "coop",
        by="王主任",
        role="organiser",
        teacher_direction="<script>alert(1)</script>以案例为主线",
        organiser_decisions=["内部决定：压缩讲授"],
        trainee_expectations=["增加会务突发事件经验"],
        emphasis=["**应急**处置"],
        extra_questions=[{"id": "delib-q", "prompt": "停电怎么办？"}],
        parties={"trainee_reps": ["t01"]},
    )
    inputs = dl.session_inputs(c, "c1", "coop")
    ins = dl.deliberation_banner(inputs, "zh")
    tr = dl.deliberation_banner(inputs, "zh", audience="trainee")
    assert "本课回应的学员关切" in ins and "本课回应的学员关切" in tr
    assert "<script>" not in ins and "&lt;script&gt;" in ins
    assert "\\*\\*应急\\*\\*处置" in tr  # markup typed by people is shown, not applied
    for text in ("增加会务突发事件经验", "停电怎么办？"):
        assert text in ins and text in tr
    # Internal matters stay in the instructor edition.
    assert "内部决定" in ins and "内部决定" not in tr
    assert "以案例为主线" in ins and "以案例为主线" not in tr
    assert "t01" in ins and "t01" not in tr
    assert "What this class responds to" in dl.deliberation_banner(inputs, "en")


def test_extra_questions_are_asked_through_the_authoring_api():
    from kit import questions

    assert dl.extra_questions_source({}) == ""
    record = dl.Deliberation(
        extra_questions=[
            {"id": "d-1", "prompt": "为什么？'\"\n第二行"},
            {"id": "d-2", "prompt": "选一个", "kind": "choice", "options": ["甲", "乙"]},
            {"id": "d-3", "prompt": "打分", "kind": "rating"},
            {
                "id": "d-4",
                "prompt": "写报告",
                "kind": "upload",
                "rubric": [{"text": "有数据", "points": 5}],
            },
        ]
    )
    src = dl.extra_questions_source(record.inputs(), "zh")
    ast.parse(src)
    shown = []
    exec(src, {"display": shown.append})  # what the inserted code cell does in a kernel
    specs = {q: questions.QUESTIONS[q] for q in ("d-1", "d-2", "d-3", "d-4")}
    assert specs["d-1"]["kind"] == "essay" and specs["d-1"]["prompt"] == "为什么？'\"\n第二行"
    assert specs["d-1"]["points"] == 0  # a discussion prompt is not scored
    assert specs["d-2"]["options"] == ["甲", "乙"] and specs["d-2"]["points"] == 0
    assert specs["d-4"]["points"] == 5
    assert len(shown) == 4
    with pytest.raises(ValueError):
        dl.ExtraQuestion(id="x", prompt="?", kind="choice", options=["只有一个"])
    with pytest.raises(ValueError):
        dl.ExtraQuestion(id="x", prompt="?", kind="rating", rubric=[{"text": "t"}])


def test_deliberation_cells(c):
    nb = nbformat.read(str(c.root / "cases/coop.ipynb"), as_version=4)
    n = len(nb.cells)
    dl.insert_cells(nb, {}, "zh")
    assert len(nb.cells) == n + 1
    note = nb.cells[2]  # right after the parameters cell
    assert "parameters" in nb.cells[1].metadata["tags"]
    assert note.metadata["tags"] == ["teaching-note"] and "未记录三方研议" in note.source
    assert note.metadata["casekit"] == {"role": "deliberation"}

    dl.record_deliberation(
        c,
        "c1",
        "coop",
        by="王主任",
        role="organiser",
        teacher_direction="以案例为主线",
        emphasis=["会务突发事件处置"],
        extra_questions=[{"id": "delib-q", "prompt": "停电怎么办？"}],
    )
    cells = dl.deliberation_cells(dl.session_inputs(c, "c1", "coop"), "zh")
    public, notes, code = cells
    assert "会务突发事件处置" in public.source and "tags" not in public.metadata
    assert "以案例为主线" in notes.source and "会务突发事件处置" not in notes.source
    assert notes.metadata["tags"] == ["teaching-note"]
    assert code.cell_type == "code" and "delib-q" in code.source


def test_form_writes_through_record(c):
    form = dl.deliberation_form(c, "c1", "coop", by="王主任")
    assert set(form.fields["modules"].options) == {"emergency"}
    form.fields["trainee_expectations"].value = "增加会务突发事件经验\n\n多讲舆情应对\n"
    form.fields["emphasis"].value = "会务突发事件处置"
    form.fields["modules"].value = ("emergency",)
    form.fields["time_split"].value = "讲授=30，研讨=60"
    form.fields[
        "extra_questions"
    ].value = "delib-blackout | 停电后第一步做什么？\ndelib-pick | choice | 先联系谁？ | options: 主持人; 电工"
    form.save_button.click()
    assert "1" in form.status.value, form.status.value
    inputs = dl.session_inputs(c, "c1", "coop")
    assert inputs["trainee_expectations"] == ["增加会务突发事件经验", "多讲舆情应对"]
    assert inputs["modules"] == ["emergency"]
    assert inputs["time_split"] == {"讲授": 30, "研讨": 60}
    assert [q["id"] for q in inputs["extra_questions"]] == ["delib-blackout", "delib-pick"]
    assert inputs["extra_questions"][1]["options"] == ["主持人", "电工"]
    assert dl.history(c, "c1", "coop")[-1]["by"] == "王主任"

    # A trainee representative may only touch expectations and questions;
    # only changed fields are sent, so their save goes through.
    rep = dl.deliberation_form(c, "c1", "coop", by="t01", role="trainee-rep")
    assert rep.fields["emphasis"].disabled and not rep.fields["trainee_questions"].disabled
    assert rep.fields["emphasis"].value == "会务突发事件处置"  # loaded from the record
    rep.fields["trainee_questions"].value = "停电时谁负责广播？"
    rep.save_button.click()
    assert dl.session_inputs(c, "c1", "coop")["trainee_questions"] == ["停电时谁负责广播？"]
    h = dl.history(c, "c1", "coop")
    assert (h[-1]["version"], h[-1]["role"], list(h[-1]["changes"])) == (
        2,
        "trainee-rep",
        ["trainee_questions"],
    )

    # The first form is stale now (version 1): its save is refused, and says why.
    form.fields["emphasis"].value = "别的"
    assert form.save() is None
    # in the course's language (the sample course is Chinese), whatever the machine speaks
    assert "你读取第 1 版之后" in form.status.value
    # An invalid entry is shown in the form, not raised.
    form.load()
    form.fields["time_split"].value = "讲授 半小时"
    form.save_button.click()
    assert "活动=分钟" in form.status.value
    form.fields["time_split"].value = ""
    form.save_button.click()
    assert dl.session_inputs(c, "c1", "coop")["time_split"] == {}


# ---------------------------------------------------------------- through the build


@pytest.fixture
def built(course: Path):
    """c1 has a deliberation (emphasis + extra question), c2 has none; both built with handouts."""
    from kit import builder
    from kit.pages import handouts as export

    dl.record_deliberation(
        course,
        "c1",
        "coop",
        by="王主任",
        role="organiser",
        teacher_direction="以合作社收益分配为主线",
        emphasis=["会务突发事件处置"],
        extra_questions=[{"id": "delib-blackout", "prompt": "会议中途停电，你第一步做什么？"}],
    )
    for cid in ("c1", "c2"):
        assert builder.build(course, cid, progress=False).ok
        assert export.handouts(course, cid, progress=False).failures == []
    return course / "build"


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_deliberation_changes_both_editions_and_the_handout(built: Path):
    for f in ("instructor/coop.ipynb", "trainee/coop.ipynb", "handouts/coop.html"):
        with_d, without = _text(built / "c1" / f), _text(built / "c2" / f)
        for point in ("会务突发事件处置", "会议中途停电，你第一步做什么？"):
            assert point in with_d, (f, point)
            assert point not in without, (f, point)
    assert "未记录三方研议" in _text(built / "c2/instructor/coop.ipynb")
    assert "未记录三方研议" not in _text(built / "c1/instructor/coop.ipynb")


def test_build_uses_deliberation_cells(built: Path):
    # Instructor-only notes stay out of what trainees get ...
    assert "未记录三方研议" not in _text(built / "c2/trainee/coop.ipynb")
    assert "未记录三方研议" not in _text(built / "c2/handouts/coop.html")
    assert "以合作社收益分配为主线" not in _text(built / "c1/handouts/coop.html")
    # ... and the extra question is a real question with a stable id.
    keys = json.loads(_text(built / "c1/instructor/coop.keys.json"))
    assert "delib-blackout" in json.dumps(keys, ensure_ascii=False)


def test_record_written_by_hand_enters_the_history_at_first_save(c):
    folder = c.root / "cohorts/c1/deliberations"
    folder.mkdir()
    (folder / "coop.toml").write_text(
        'version = 1\nagreed_at = 2026-03-01T16:00:00+08:00\nemphasis = ["应急"]\n'
        '[parties]\norganisers = ["党校教务处"]\n',
        encoding="utf-8",
    )
    assert dl.session_inputs(c, "c1", "coop")["emphasis"] == ["应急"]
    dl.record_deliberation(c, "c1", "coop", by="t01", role="trainee-rep", trainee_questions=["?"])
    h = dl.history(c, "c1", "coop")
    assert [(e["version"], e["by"]) for e in h] == [(1, "(edited by hand)"), (2, "t01")]
    assert h[0]["changes"]["emphasis"] == {"old": [], "new": ["应急"]}
    assert dl.session_inputs(c, "c1", "coop")["agreed_at"] == "2026-03-01T16:00:00+08:00"
