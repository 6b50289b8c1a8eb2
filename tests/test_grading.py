"""Grading end to end: collect, autograde, tamper flags, marking, feedback, export, crash and resume.

The fixture course (tests/fixtures/grading/sample.py) is built once with the
real build; 32 trainees hand in scenario submissions with exactly known
scores. Everything that touches the gradebook runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest_pg import DB_PARAMS, make_db_url, pg_server, second_db_url  # noqa: F401 - fixture

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "grading"))
import sample  # noqa: E402

from kit.gradebook import Gradebook  # noqa: E402
from kit.grading import collect, feedback, grade, grades  # noqa: E402
from kit.marking.notebook import mark, queue, record_mark  # noqa: E402
from kit.problems import CourseError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=DB_PARAMS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh gradebook URL: SQLite file, then a new PostgreSQL database."""
    return make_db_url(request, tmp_path)


@pytest.fixture(scope="session")
def built_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quiz course, built once (instructor edition, keys, trainee edition)."""
    from kit.builder import build

    root = sample.write_course(tmp_path_factory.mktemp("grading") / "course")
    res = build(root, "c1", progress=False)
    assert not res.failures, res.failures
    return root


@pytest.fixture
def course(built_course: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "course"
    shutil.copytree(built_course, dst)
    return dst


def trainee_nb(course: Path):
    return nbformat.read(str(course / "build/c1/trainee/quiz.ipynb"), as_version=4)


def collected(course: Path, db: str) -> Path:
    sample.write_inbox(course, trainee_nb(course))
    res = collect(course, "c1", db=db)
    assert not res.failures and not res.unknown and not res.duplicates
    assert len(res.written) == len(sample.S) + 1  # t31 handed in twice
    return course


# ---------------------------------------------------------------- the scenarios


def test_grade_scenarios(course: Path, db_url: str) -> None:
    collected(course, db_url)
    res = grade(course, "c1", db=db_url, workers=2, progress=False)
    assert [f.item for f in res.failures] == ["t19/quiz"]
    assert "answers.json is not valid JSON" in res.failures[0].cause
    assert len(res.statuses) == len(sample.S)

    with Gradebook.open(course, db_url) as gb:
        scores = gb.submission_scores("c1").set_index("trainee")
        qs = gb.question_scores("c1")
        flags = gb.flags("c1")
        tests = gb.tests("c1")
        subs = gb.submissions("c1")
    code = qs[qs["question"] == "q-code"].set_index("trainee")
    problems = []
    for t, spec in sample.S.items():
        row = scores.loc[t]
        want_status = sample.expected_status(spec)
        got = (
            row["status"],
            float(row["raw_points"]),
            float(code.loc[t, "points"]) if t in code.index else None,
            sorted(flags[flags["trainee"] == t]["code"]),
            int(row["days_late"]),
        )
        want = (
            want_status,
            float(spec.get("auto", 0)),
            float(spec["codep"]) if "codep" in spec else None,
            sorted(spec.get("flags", [])),
            spec.get("late", 0),
        )
        if got != want:
            problems.append(f"{t} ({spec['name']}): got {got}, want {want}")
    assert not problems, "\n".join(problems)

    # every cause is recorded
    assert "CellTimeoutError" in code.loc["t04", "detail"]
    assert "exited with code 3" in code.loc["t14", "detail"]
    assert "MemoryError" in code.loc["t25", "detail"]
    assert scores.loc["t19", "cause"] == "answers.json is not valid JSON"
    # late: 2 days at 0.1 per day
    assert scores.loc["t17", "penalty"] == pytest.approx(0.2)
    assert scores.loc["t17", "points"] == pytest.approx(7 * 0.8)
    # the later of t31's two submissions counts
    t31 = subs[subs["trainee"] == "t31"].sort_values("received_at")
    assert list(t31["is_current"]) == [False, True]
    # the hidden test is graded (and stored for the instructor)
    hid = tests[(tests["trainee"] == "t02") & tests["hidden"]]
    assert list(hid["name"]) == ["HIDDEN-negatives"] and not hid["passed"].any()
    # no submission: not in the gradebook
    assert "t33" not in scores.index

    # rerun: nothing to do, same gradebook
    with Gradebook.open(course, db_url) as gb:
        before = gb.snapshot("c1")
    again = grade(course, "c1", db=db_url, progress=False)
    # t19's unreadable answers are its own failure, recorded once: not retried (#19)
    assert sorted(again.skipped) == sorted(res.statuses)
    assert not again.graded and not again.failures
    with Gradebook.open(course, db_url) as gb:
        assert gb.snapshot("c1") == before

    # ---- marking: a trainee, then a group; status turns to graded
    assert record_mark(
        course, "c1", "quiz", "q-essay", trainee="t01",
        criteria={"clarity": True, "evidence": 2}, comment="论证清楚 <b>好</b>", db=db_url,
    ) == ["t01"]  # fmt: skip
    members = record_mark(
        course, "c1", "quiz", "q-essay", group="G3", criteria={"clarity": True}, db=db_url
    )
    assert members == [t for t in sample.ROSTER[2::3]]
    q = queue(course, "c1", "quiz", db=db_url)
    assert len(q) == sum(1 for s in sample.S.values() if s.get("essay") and not s.get("corrupt"))
    with Gradebook.open(course, db_url) as gb:
        scores = gb.submission_scores("c1").set_index("trainee")
    assert scores.loc["t01", "status"] == "graded"
    assert scores.loc["t01", "points"] == pytest.approx(7 + 4)
    assert scores.loc["t09", "status"] == "graded"  # t09 is in group G3
    assert scores.loc["t09", "points"] == pytest.approx(7 + 2)
    assert scores.loc["t02", "status"] == "needs-marking"
    # a mark can be given over: it replaces the old one
    record_mark(course, "c1", "quiz", "q-essay", trainee="t01", points=1, db=db_url)
    with Gradebook.open(course, db_url) as gb:
        assert gb.submission_scores("c1").set_index("trainee").loc["t01", "points"] == 8

    # ---- feedback
    fb = feedback(course, "c1", db=db_url)
    assert not fb.failures
    assert len(fb.written) == len(sample.S)
    page = (course / "build/c1/feedback/t09/quiz.html").read_text("utf-8")
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=" in page
    assert "<script" not in page.lower() and "<img" not in page.lower()
    for secret in ("HIDDEN-negatives", "HIDDEN-MESSAGE"):
        assert secret not in page
    for t in sample.S:
        if t == "t13":
            continue  # that trainee's own code names the hidden test
        assert "HIDDEN" not in (course / f"build/c1/feedback/{t}/quiz.html").read_text("utf-8")
    assert "http://" not in page and "https://" not in page  # offline
    p1 = (course / "build/c1/feedback/t01/quiz.html").read_text("utf-8")
    assert "论证清楚" not in p1  # the earlier comment was replaced with the new mark
    assert "small" in (course / "build/c1/feedback/t02/quiz.html").read_text("utf-8")

    # ---- export
    out = grades(course, "c1", course / "grades.csv", db=db_url).written[0]
    # a spreadsheet people open: in the course's language (zh), sessions by their number
    table = pd.read_csv(out, encoding="utf-8-sig").set_index("学员编号")
    assert table.loc["t09", "总分"] == pytest.approx(9)
    assert table.loc["t09", "经济建设 得分"] == pytest.approx(9)
    assert table.loc["t17", "总分"] == pytest.approx(5.6)
    assert table.loc["t09", "第 1 讲 状态"] == "已评分"
    # t33 (group G3) handed nothing in: the group's mark reaches them all the same (#10)
    assert table.loc["t33", "第 1 讲 状态"] == "已批阅" and table.loc["t33", "第 1 讲 得分"] == 2
    assert table.loc["t33", "满分"] == table.loc["t01", "满分"] > 0
    xlsx = grades(course, "c1", course / "grades.xlsx", db=db_url).written[0]
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert set(sheets) == {"成绩", "各题得分", "评分细则", "课次"}
    assert sheets["课次"].iloc[0].to_dict()["课次编号"] == "quiz"
    assert set(sheets["各题得分"]["状态"]) <= {
        "正确",
        "部分正确",
        "错误",
        "未作答",
        "待批阅",
        "已批阅",
        "已作答",
        "不计分",
        "未能评分",
    }


def test_marking_notebook_and_anonymous_queue(course: Path) -> None:
    collected(course, None)
    grade(course, "c1", progress=False)
    path = mark(course, "c1", "quiz", anonymous=True)
    nb = nbformat.read(str(path), as_version=4)
    assert "MarkingApp" in nb.cells[1].source and "anonymous=True" in nb.cells[1].source
    q = queue(course, "c1", "quiz", anonymous=True)
    assert q["label"].str.startswith("答卷").all()
    assert not q["label"].isin(["学员1", "学员2"]).any()

    from kit.marking.notebook import MarkingApp

    app = MarkingApp(course, "c1", "quiz", anonymous=True, marker="tester")
    left = app.left()
    assert left == len(q)
    assert "学员" not in app.status.value
    first = app.items.iloc[app.pos]["trainee"]
    app._checks["evidence"].value = True
    assert app.points.value == 3
    app.comment.value = "好"
    app.save()
    assert app.left() == left - 1
    with Gradebook.open(course) as gb:
        m = gb.marks("c1", "quiz")
    row = m[(m["trainee"] == first) & (m["criterion"] == "")].iloc[0]
    assert row["points"] == 3 and row["comment"] == "好" and row["marker"] == "tester"


# ---------------------------------------------------------------- crash and resume


def test_killed_run_resumes_to_the_same_gradebook(
    course: Path, db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    collected(course, db_url)
    # written in batches of 4 (a programme's are larger): the kill lands between batches
    script = (
        "import sys\nfrom kit.grading import autograde, grade\nautograde.WRITE_BATCH = 4\n"
        "grade(sys.argv[1], 'c1', db=sys.argv[2], workers=1, progress=False)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(course), db_url],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    done = 0
    try:
        while time.monotonic() < deadline:
            with Gradebook.open(course, db_url) as gb:
                done = len(gb.submission_scores("c1"))
            if done >= 8 or proc.poll() is not None:
                break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the grader and its executor children
        proc.wait()
    assert 8 <= done < len(sample.S), f"the run was not killed half-way ({done} graded)"

    res = grade(course, "c1", db=db_url, progress=False)
    assert len(res.skipped) >= 8 - 1  # what the killed run finished is not done again
    with Gradebook.open(course, db_url) as gb:
        resumed = gb.snapshot("c1")

    clean_db = second_db_url(db_url, tmp_path, request)
    clean = tmp_path / "clean"
    shutil.copytree(course, clean, ignore=shutil.ignore_patterns("gradebook*.sqlite*"))
    grade(clean, "c1", db=clean_db, progress=False)
    with Gradebook.open(clean, clean_db) as gb:
        assert gb.snapshot("c1") == resumed


# ---------------------------------------------------------------- collect


def _zip_with(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16  # a symlink
            zf.writestr(info, target)
    return buf.getvalue()


def _tar_with(
    members: dict[str, bytes], *, symlink: str | None = None, hardlink: str | None = None
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tf.addfile(info)
        if hardlink:
            info = tarfile.TarInfo(hardlink)
            info.type, info.linkname = tarfile.LNKTYPE, "../../outside.txt"
            tf.addfile(info)
    return buf.getvalue()


def _good_files(course: Path, trainee: str = "t01") -> dict[str, bytes]:
    files = sample.submission_files(trainee_nb(course), trainee, sample.S[trainee], sample.ON_TIME)
    files = sample.seal(course, files, trainee, sample.ON_TIME)
    return {f"{trainee}/quiz/{k}": v for k, v in files.items()}


@pytest.mark.parametrize(
    "kind, member",
    [
        ("zip-dotdot", "../escaped.txt"),
        ("zip-deep-dotdot", "t01/quiz/../../../escaped.txt"),
        ("zip-absolute", "/tmp/escaped.txt"),
        ("zip-backslash", "..\\escaped.txt"),
        ("zip-symlink", "t01/quiz/link"),
        ("tar-dotdot", "../escaped.txt"),
        ("tar-symlink", "t02/quiz/link"),
        ("tar-hardlink", "t02/quiz/hard"),
    ],
)
def test_bad_archive_is_refused_and_nothing_written(
    course: Path, tmp_path: Path, kind: str, member: str
) -> None:
    good = _good_files(course)
    if kind == "zip-symlink":
        data, name = _zip_with(good, links={member: "/etc/passwd"}), "subs.zip"
    elif kind.startswith("zip"):
        data, name = _zip_with({**good, member: b"evil"}), "subs.zip"
    elif kind == "tar-symlink":
        data, name = _tar_with(good, symlink=member), "subs.tar.gz"
    elif kind == "tar-hardlink":
        data, name = _tar_with(good, hardlink=member), "subs.tar.gz"
    else:
        data, name = _tar_with({**good, member: b"evil"}), "subs.tar.gz"
    drop = tmp_path / "drop"
    drop.mkdir()
    archive = drop / name
    archive.write_bytes(data)
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(CourseError) as e:
        collect(course, "c1", source=archive)
    msg = str(e.value)
    assert "archive refused" in msg and repr(member) in msg
    after = sorted(p for p in tmp_path.rglob("*"))
    new = [p for p in after if p not in before and "gradebook" not in p.name]
    assert new == [], new
    assert not (course / "submissions").exists()
    assert not Path("/tmp/escaped.txt").exists()


def test_collect_archive_duplicates_unknown_and_folder(course: Path, tmp_path: Path) -> None:
    files = {**_good_files(course, "t01"), **_good_files(course, "t02")}
    stranger = sample.submission_files(trainee_nb(course), "x99", sample.S["t01"], sample.ON_TIME)
    files.update({f"x99/quiz/{k}": v for k, v in stranger.items()})
    archive = tmp_path / "subs.zip"
    archive.write_bytes(_zip_with(files))
    res = collect(course, "c1", source=archive)
    assert len(res.written) == 2
    assert len(res.unknown) == 1 and "x99" in res.unknown[0] and "roster" in res.unknown[0]
    for p in res.written:
        assert p.is_relative_to(course / "submissions" / "c1")
        assert json.loads((p / "receipt.json").read_text())["collected_at"]
    # the same content again, now as a tar: duplicates, nothing new, nothing overwritten
    stored = {p: (p / "answers.json").read_bytes() for p in res.written}
    tar = tmp_path / "subs.tar"
    tar.write_bytes(_tar_with(_good_files(course, "t01")))
    again = collect(course, "c1", source=tar)
    assert again.written == [] and len(again.duplicates) == 1
    assert all((p / "answers.json").read_bytes() == b for p, b in stored.items())
    # a plain folder with a symlink in it: the link is skipped and reported, never followed
    folder = tmp_path / "folder" / "t03" / "quiz"
    folder.mkdir(parents=True)
    t03 = sample.submission_files(trainee_nb(course), "t03", sample.S["t01"], sample.ON_TIME)
    for k, v in sample.seal(course, t03, "t03", sample.ON_TIME).items():
        (folder / k).write_bytes(v)
    (folder / "secret").symlink_to("/etc/passwd")
    res3 = collect(course, "c1", source=tmp_path / "folder")
    assert len(res3.written) == 1 and not (res3.written[0] / "secret").exists()
    assert any("secret" in f.item for f in res3.failures)
    with Gradebook.open(course) as gb:
        assert sorted(gb.submissions("c1")["trainee"]) == ["t01", "t02", "t03"]


def test_grading_on_a_dask_cluster_gives_the_same_gradebook(course: Path, tmp_path: Path) -> None:
    import distributed  # a core dependency: no skip

    db = f"sqlite:///{tmp_path / 'local.sqlite'}"
    collected(course, db)
    here = grade(course, "c1", db=db, progress=False)
    with Gradebook.open(course, db) as gb:
        local = gb.snapshot("c1")
    on_cluster = f"sqlite:///{tmp_path / 'cluster.sqlite'}"
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    ) as cluster:
        res = grade(course, "c1", db=on_cluster, progress=False, cluster=cluster.scheduler_address)
    assert res.statuses == here.statuses and len(res.statuses) == len(sample.S)
    with Gradebook.open(course, on_cluster) as gb:
        remote = gb.snapshot("c1")
    for table in local:
        diff = set(map(str, local[table])) ^ set(map(str, remote[table]))
        assert not diff, (table, sorted(diff)[:4])


def test_cohort_report_shows_scores_and_evaluation(course: Path) -> None:
    from kit.programme import report

    db = f"sqlite:///{course / 'gradebook.sqlite'}"
    collected(course, db)
    grade(course, "c1", db=db, progress=False)
    page = report(course, "c1", db=db).read_text(encoding="utf-8")
    assert "各单元得分" in page and 'src="data:image/png;base64,' in page
    assert "按教师" in page and "林晓峰" in page  # ratings attributed to the session's teacher
    assert "待批阅" in page and "<script" not in page
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)


def test_hidden_rubric_texts_reach_markers_not_trainees(tmp_path: Path) -> None:
    from conftest import _code, case_notebook, write_course

    from kit.builder import build
    from kit.course import load_course
    from kit.grading import load_keys

    root = write_course(tmp_path / "course", cohorts={"c1": 0.05})
    nb = case_notebook()
    nb.cells += [
        _code(
            'ask.essay("q-brief", "写一份简报。", rubric=[{"id": "facts", "points": 3}], '
            "show_rubric=False)"
        ),
        _code(
            'key("q-brief", None, rubric=[{"id": "facts", "text": "RUBRIC-TEXT-5c1e 数据准确"}])',
            "key",
        ),
    ]
    nbformat.write(nb, str(root / "cases/coop.ipynb"))
    assert build(root, "c1", progress=False).ok
    trainee = (root / "build/c1/trainee/coop.ipynb").read_text(encoding="utf-8")
    assert "RUBRIC-TEXT-5c1e" not in trainee
    spec = load_keys(load_course(root), "c1", "coop").questions["q-brief"]
    assert spec["rubric"] == [{"id": "facts", "points": 3, "text": "RUBRIC-TEXT-5c1e 数据准确"}]


def test_marking_app_can_give_a_group_one_mark(course: Path) -> None:
    from kit.marking.notebook import MarkingApp

    collected(course, None)
    grade(course, "c1", progress=False)
    app = MarkingApp(course, "c1", "quiz", marker="tester")
    it = app.items.iloc[app.pos]
    assert it["group"], "the fixture's trainees belong to groups"
    roster = app.course.cohort("c1").roster
    members = set(roster.index[roster["group"] == it["group"]])  # all of them, submitted or not
    queued = set(app.items[app.items["group"] == it["group"]]["trainee"])
    before = app.left()
    app.whole_group.value = True
    app._checks["evidence"].value = True
    app.save(advance=False)
    with Gradebook.open(course) as gb:
        m = gb.marks("c1", "quiz")
    got = m[(m["question"] == it["question"]) & (m["criterion"] == "")]
    assert set(got["trainee"]) == members and (got["points"] == 3).all()
    assert app.left() == before - len(queued)


@pytest.mark.browser
def test_feedback_page_in_chromium_shows_prompts_and_runs_no_trainee_script(course: Path) -> None:
    from conftest import launch_chromium
    from playwright.sync_api import sync_playwright

    collected(course, None)
    grade(course, "c1", progress=False)
    assert not feedback(course, "c1").failures
    page_path = course / "build/c1/feedback/t09/quiz.html"
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(page_path.as_uri())
        prompts = page.locator("section.q .prompt")
        assert prompts.count() >= 3 and prompts.first.is_visible()
        assert prompts.first.inner_text().strip()
        assert "第1题" in page.inner_text("body")
        assert '<script>alert("pwned")</script>' in page.inner_text("body")  # shown, not run
        browser.close()
    assert dialogs == []


def _course_with(tmp_path: Path, *cells: str) -> Path:
    """The small spine course with extra question cells, built for cohort c1."""
    from conftest import _code, case_notebook, write_course

    from kit.builder import build

    root = write_course(tmp_path / "course", cohorts={"c1": 0.05})
    nb = case_notebook()
    nb.cells += [_code(src) for src in cells]
    nbformat.write(nb, str(root / "cases/coop.ipynb"))
    assert build(root, "c1", progress=False).ok
    return root


def _hand_in(root: Path, trainee: str, answers: dict, files: dict | None = None) -> None:
    """Release, answer through the workbook runtime, submit, collect and grade."""
    from kit.workbook import AnswerStore, Runtime, release, store_path_for, submit

    assert not release(root, "c1", trainees=[trainee]).failures
    workbook = root / f"exchange/c1/outbox/{trainee}/coop.ipynb"
    header = {"trainee": trainee, "session": "coop", "cohort": "c1"}
    header["exchange"] = str(root / "exchange")
    rt = Runtime(AnswerStore(store_path_for(workbook), header), session="coop", trainee=trainee)
    for qid, (name, content) in (files or {}).items():
        rt.save(qid, rt.save_file(qid, name, content), "upload")
    for qid, (value, kind) in answers.items():
        rt.save(qid, value, kind)
    submit(workbook)
    assert not collect(root, "c1").failures
    grade(root, "c1", progress=False)


def test_marker_reads_an_uploaded_text_report(tmp_path: Path) -> None:
    from kit.marking.notebook import MarkingApp

    root = _course_with(
        tmp_path,
        'ask.upload("q-report", "上传课题报告", rubric=[{"text": "问题真实", "points": 4}])',
    )
    text = "# 东山村积分制调研\n<b>不是标签</b> 第一手数据：32 户。"
    _hand_in(root, "t02", {}, {"q-report": ("报告.md", text.encode())})
    app = MarkingApp(root, "c1", "coop", marker="tester")
    upload = app.items.index[app.items["question"] == "q-report"][0]
    app.pos = int(upload)
    app.show()
    assert "东山村积分制调研" in app.answer.value
    assert "&lt;b&gt;不是标签&lt;/b&gt;" in app.answer.value  # the report is text, not markup


def test_report_pairs_each_rating_with_its_comment(tmp_path: Path) -> None:
    from kit.programme import report

    root = _course_with(
        tmp_path,
        'ask.rating("q-eval", "本课收获如何？")',
        'ask.text("q-eval-comment", "意见和建议", points=0)',
    )
    _hand_in(
        root,
        "t01",
        {"q-eval": (4, "rating"), "q-eval-comment": ("案例贴近工作<script>x()</script>", "text")},
    )
    _hand_in(root, "t03", {"q-eval": (2, "rating")})
    page = report(root, "c1").read_text(encoding="utf-8")
    assert "案例贴近工作" in page and "<script>x()" not in page
    assert "3.00" in page  # the teacher's mean of 4 and 2


SLOW_CODE = "import time\ntime.sleep(0.6)\n" + sample.CORRECT_CODE


def test_a_worker_lost_mid_run_fails_its_submissions_only(course: Path, tmp_path: Path) -> None:
    """Two single-thread workers; one is killed while it grades: the submissions of the batches
    it held are failed with the cause, every other one is graded, and the next run grades the rest."""
    import threading

    import dask
    import distributed  # a core dependency: no skip

    trainees = [f"t{i:02d}" for i in range(1, 25)]
    spec = dict(choice="乙", num=6, code=SLOW_CODE)  # 1 + 2 + 4 = 7
    for i, t in enumerate(trainees):
        when = sample.ON_TIME - timedelta(minutes=i)
        d = course / "exchange/c1/inbox" / t / "quiz" / f"{i:04d}"
        d.mkdir(parents=True)
        files = sample.submission_files(trainee_nb(course), t, spec, when)
        for name, data in sample.seal(course, files, t, when).items():
            (d / name).write_bytes(data)
    db = f"sqlite:///{tmp_path / 'lost.sqlite'}"
    collected_now = collect(course, "c1", db=db)
    assert len(collected_now.written) == len(trainees) and not collected_now.failures
    killed: list[int] = []
    # the scheduler gives up on a task at the first lost worker (its default retries it elsewhere)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as watcher,
    ):

        def kill_a_busy_worker() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                busy = [w for w, keys in watcher.processing().items()
                        if any(str(k).startswith("casekit-grade") for k in keys)]  # fmt: skip
                if busy:
                    time.sleep(0.3)  # inside its batch
                    pid = watcher.run(os.getpid, workers=[busy[0]])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        res = grade(course, "c1", db=db, progress=False, cluster=cluster.scheduler_address)
        killer.join()
    assert killed, ("no worker was seen busy", res.failures[:2], res.statuses)
    labels = {f"{t}/quiz" for t in trainees}
    assert set(res.statuses) == labels
    lost = {f.item for f in res.failures}
    assert lost and lost < labels  # some lost, not all
    assert all("KilledWorker" in f.cause for f in res.failures), res.failures
    assert set(res.graded) == labels - lost
    with Gradebook.open(course, db) as gb:
        scores = gb.submission_scores("c1")
    by = {
        f"{t}/quiz": (st, p)
        for t, st, p in zip(scores["trainee"], scores["status"], scores["raw_points"], strict=True)
    }
    assert all(by[label] == ("graded", 7.0) for label in labels - lost), by
    assert all(by[label][0] == "failed" for label in lost)
    # the next run (here, without the cluster) grades what the lost worker held, and only that
    again = grade(course, "c1", db=db, progress=False)
    assert set(again.graded) == lost and not again.failures
    with Gradebook.open(course, db) as gb:
        scores = gb.submission_scores("c1")
    assert set(zip(scores["status"], scores["raw_points"], strict=True)) == {("graded", 7.0)}
