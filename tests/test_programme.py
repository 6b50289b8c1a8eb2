"""Action learning, interactive share, cohort summary, evaluation and the programme guide."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import launch_chromium

from kit import deliberation as dl
from kit import programme as pg
from kit.course import load_course
from kit.problems import CourseError

ROOT = Path(__file__).resolve().parents[1]


def set_methods(root: Path, cohort: str, methods: dict[str, str]) -> None:
    """Change the method of some sessions in a cohort's schedule."""
    path = root / "cohorts" / cohort / "schedule.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for session, method in methods.items():
        df.loc[df["session"] == session, "method"] = method
    df.to_csv(path, index=False)


def add_sessions(root: Path, cohort: str, rows: list[str]) -> None:
    path = root / "cohorts" / cohort / "schedule.csv"
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(r + "\n" for r in rows))


# ---------------------------------------------------------------- site visits


def test_site_card_is_escaped_and_labelled():
    site = {
        "id": "s1",
        "name": "东山村<script>alert(1)</script>",
        "category": "grassroots-governance",
        "address": "东山镇 & 东山村",
        "contact_role": "村党支部书记",
    }
    card = pg.site_card(site, "zh")
    assert "<script>" not in card and "&lt;script&gt;" in card
    assert "基层治理" in card and "东山镇 &amp; 东山村" in card and "村党支部书记" in card
    assert "Grassroots governance" in pg.site_card(site, "en")
    assert pg.site_card(None) == ""


# ---------------------------------------------------------------- drill datasets


def test_drill_dataset_resolves_and_is_validated(course: Path):
    (course / "data").mkdir()
    (course / "data/calls.csv").write_text("工单,类别\n1,供暖\n", encoding="utf-8")
    (course / "cohorts/c2/data").mkdir()
    (course / "cohorts/c2/data/calls.csv").write_text("工单,类别\n9,停水\n", encoding="utf-8")
    for cid in ("c1", "c2"):
        add_sessions(
            course,
            cid,
            [
                'drill,cases/coop.ipynb,2026-03-09,f2,s1,seminar,blue,3,practice,,"{""dataset"": ""data/calls.csv""}"',
                'drill2,cases/coop.ipynb,2026-03-10,f2,s1,seminar,blue,3,practice,,"{""datasets"": {""a"": ""data/none.csv"", ""b"": ""../../../etc/passwd""}}"',
            ],
        )
    c = load_course(course)
    assert pg.session_datasets(c, "c1", "drill") == {
        "dataset": (course / "data/calls.csv").resolve()
    }
    # A cohort's own file wins over the course's.
    assert (
        pg.session_datasets(c, "c2", "drill")["dataset"]
        == (course / "cohorts/c2/data/calls.csv").resolve()
    )
    assert pg.session_datasets(c, "c1", "coop") == {}
    with pytest.raises(CourseError) as e:
        pg.session_datasets(c, "c1", "drill2")
    fields = sorted(p.field for p in e.value.problems)
    assert fields == ["params.a", "params.b"]  # outside the course folder counts as missing
    problems = pg.dataset_problems(c)
    assert len(problems) == 4 and all("schedule.csv" in p.file for p in problems)
    assert {p.where for p in problems} == {"session drill2"}


# ---------------------------------------------------------------- tasks


TASKS = (
    "task,title,session,assignee,due,deliverable\n"
    "k1,冬季供暖投诉溯源,coop,group:A,2026-04-01,调研报告\n"
    "k2,热线工单分类优化,,t03; group:A,2026-04-15T18:00,改进方案\n"
    "k3,幽灵课题,nosuch,group:Z,,报告\n"
    "k4,无名氏,,t99,,报告\n"
)


def test_tasks_expand_groups_and_report_unknowns(course: Path):
    (course / "cohorts/c1/tasks.csv").write_text(TASKS, encoding="utf-8")
    c = load_course(course)
    problems = pg.task_problems(c)
    msgs = {(p.where, p.field): p.message for p in problems}
    assert msgs[("row 4 (task k3)", "session")] == "unknown session 'nosuch'"
    assert msgs[("row 4 (task k3)", "assignee")] == "unknown group 'Z'"
    assert msgs[("row 5 (task k4)", "assignee")] == "unknown trainee 't99'"
    assert all(p.file.endswith("cohorts/c1/tasks.csv") for p in problems)
    with pytest.raises(CourseError):
        pg.tasks(c, "c1")

    (course / "cohorts/c1/tasks.csv").write_text(TASKS.rsplit("k3,", 1)[0], encoding="utf-8")
    df = pg.tasks(course, "c1")
    assert list(df.columns) == pg.TASK_COLUMNS
    k1 = df[df["task"] == "k1"]
    assert sorted(k1["trainee"]) == ["t01", "t02"] and set(k1["group"]) == {"A"}
    assert k1["due"].iloc[0] == pd.Timestamp("2026-04-01T23:59")  # a date means that evening
    assert sorted(df[df["task"] == "k2"]["trainee"]) == ["t01", "t02", "t03"]
    assert pg.tasks(course, "c2").empty  # no tasks.csv: no tasks
    assert pg.group_members(course, "c1", "A") == ["t01", "t02"]


def test_group_task_mark_reaches_every_member_in_the_gradebook(course: Path, tmp_path: Path):
    from kit.gradebook import Gradebook

    (course / "cohorts/c1/tasks.csv").write_text(TASKS.split("k2,")[0], encoding="utf-8")
    row = pg.tasks(course, "c1").iloc[0]
    members = pg.group_members(course, "c1", row["group"])
    with Gradebook(f"sqlite:///{tmp_path / 'gb.sqlite'}") as gb:
        gb.write_marks(
            cohort="c1",
            session=row["session"],
            trainees=members,
            question="report",
            rows=[{"criterion": "", "points": 8.0, "comment": "调研扎实"}],
            group=row["group"],
            marker="f1",
        )
        marks = gb.marks("c1")
    assert sorted(marks["trainee"]) == ["t01", "t02"]
    assert set(marks["points"]) == {8.0} and set(marks["group"]) == {"A"}


def test_group_task_marked_once_gives_every_member_the_mark(course: Path, tmp_path: Path):
    from kit.gradebook import Gradebook
    from kit.marking.notebook import record_mark

    (course / "cohorts/c1/tasks.csv").write_text(TASKS.split("k2,")[0], encoding="utf-8")
    task = pg.tasks(course, "c1")
    row = task.iloc[0]
    db = f"sqlite:///{tmp_path / 'gb.sqlite'}"
    given = record_mark(
        course,
        "c1",
        row["session"],
        "task-k1",
        group=row["group"],
        points=8.0,
        comment="调研扎实",
        marker="f1",
        db=db,
        max_points=10,  # the report is marked outside a built notebook
    )
    assert sorted(given) == sorted(task["trainee"]) == ["t01", "t02"]
    with Gradebook(db) as gb:
        marks = gb.marks("c1")
    totals = marks[marks["criterion"] == ""].set_index("trainee")
    assert sorted(totals.index) == ["t01", "t02"] and "t03" not in totals.index
    assert set(totals["points"]) == {8.0} and set(totals["group"]) == {"A"}
    assert set(totals["comment"]) == {"调研扎实"}


# ---------------------------------------------------------------- interactive share


def test_interactive_share_and_warning(course: Path):
    add_sessions(
        course,
        "c1",
        [
            "talk,cases/coop.ipynb,2026-03-09,f2,,lecture,blue,3,practice,,",
        ],
    )
    c = load_course(course)
    share = pg.interactive_share(c)
    c1 = share[share["cohort"] == "c1"].set_index("unit")
    assert c1.loc["green", "share"] == 1.0 and c1.loc["blue", "share"] == 0.0
    assert c1.loc["all", "hours"] == 6 and c1.loc["all", "share"] == 0.5
    assert share[(share["cohort"] == "c2") & (share["unit"] == "all")]["share"].iloc[0] == 1.0
    problems = pg.share_problems(c)
    assert len(problems) == 1
    p = problems[0]
    assert p.severity == "warning" and "cohort c1" in p.message and "50%" in p.message
    assert p.file.endswith("cohorts/c1/schedule.csv") and "1.5 h" in p.fix
    assert "c1" in {x.where.split()[-1] for x in pg.programme_problems(c)}


def test_sample_cohorts_share_computed(sample_course: Path):
    c = load_course(sample_course)
    share = pg.interactive_share(c)
    totals = share[share["unit"] == "all"].set_index("cohort")
    assert set(totals.index) == set(c.cohorts) and len(totals) >= 2
    for cid, cohort in c.cohorts.items():
        hours = sum(s.hours for s in cohort.sessions)
        inter = sum(s.hours for s in cohort.sessions if c.methods.loc[s.method, "interactive"])
        assert totals.loc[cid, "share"] == pytest.approx(inter / hours)
        # Unit rows add up to the cohort's total.
        rows = share[(share["cohort"] == cid) & (share["unit"] != "all")]
        assert rows["hours"].sum() == pytest.approx(hours)
    # The shipped schedules meet the programme's 75 % target.
    assert pg.share_problems(c) == []


def test_sample_cohort_at_half_lecture_warns(sample_course: Path):
    c = load_course(sample_course)
    cid = sorted(c.cohorts)[0]
    sessions = c.cohorts[cid].sessions
    total = sum(s.hours for s in sessions)
    # Turn sessions into lectures until half of the hours are lecture.
    lecture, changed = 0.0, {}
    for s in sessions:
        if lecture >= total / 2:
            break
        changed[s.session] = "lecture"
        lecture += s.hours
    others = {s.session: "seminar" for s in sessions if s.session not in changed}
    set_methods(sample_course, cid, {**changed, **others})
    c = load_course(sample_course)
    share = pg.interactive_share(c, cid)
    assert share[share["unit"] == "all"]["share"].iloc[0] <= 0.5
    problems = pg.share_problems(c)
    assert [p.where for p in problems] == [f"cohort {cid}"]
    assert problems[0].severity == "warning" and cid in problems[0].message


# ---------------------------------------------------------------- summary


def test_cohort_summary(course: Path):
    add_sessions(course, "c1", ["talk,cases/coop.ipynb,2026-03-09,f2,,lecture,blue,3,practice,,"])
    (course / "cohorts/c1/tasks.csv").write_text(TASKS.split("k3,")[0], encoding="utf-8")
    c = load_course(course)
    dl.record_deliberation(c, "c1", "coop", by="王主任", role="organiser", emphasis=["应急"])
    s = pg.summary(c, "c1")
    assert s.share == 0.5 and s.target == 0.75 and s.hours == 6
    assert s.deliberations_present == ["coop"] and s.deliberations_missing == ["talk"]
    assert list(s.units["unit"]) == ["green", "blue"] and list(s.units["unit_name"]) == [
        "经济建设",
        "社会治理",
    ]
    assert s.tasks.set_index("task").loc["k2", "trainees"] == 3
    assert [p.severity for p in s.problems] == ["warning"]
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(s)
    text = console.export_text()
    assert "50%" in text and "热线工单分类优化" in text and "talk" in text


def test_summary_lists_sessions_by_date(course: Path):
    # appended last, held first: the summary reads like a timetable, not like the file
    add_sessions(course, "c1", ["early,cases/coop.ipynb,2026-02-01,f2,,lecture,blue,2,practice,,"])
    s = pg.summary(load_course(course), "c1")
    assert list(s.sessions["session"]) == ["early", "coop"]


# ---------------------------------------------------------------- evaluation


def test_evaluation_summary(course: Path):
    add_sessions(course, "c1", ["talk,cases/coop.ipynb,2026-03-09,f2,,lecture,blue,3,practice,,"])
    c = load_course(course)
    ratings = pd.DataFrame(
        [
            ("t01", "coop", "rate-session", 5, "案例很解渴"),
            ("t02", "coop", "rate-session", 4, '<img src=x onerror="alert(1)">讲得好'),
            ("t01", "coop", "rate-teacher", 3, ""),
            ("t01", "talk", "rate-session", 2, "<script>alert(2)</script>太长"),
            ("t03", "talk", "rate-session", "", "没打分只留言"),
            ("t03", "ghost", "rate-session", 5, ""),
        ],
        columns=["trainee", "session", "question", "value", "comment"],
    )
    ev = pg.evaluation_summary(c, "c1", ratings)
    assert list(ev.columns) == pg.EVAL_COLUMNS
    t = ev[ev["by"] == "teacher"].set_index("key")
    assert t.loc["f1", "label"] == "林晓峰" and t.loc["f1", "mean"] == pytest.approx(4.0)
    assert t.loc["f1", "responses"] == 3 and t.loc["f1", "trainees"] == 2
    assert t.loc["f2", "mean"] == 2.0 and "没打分只留言" in t.loc["f2", "comments"]
    m = ev[ev["by"] == "method"].set_index("key")
    assert m.loc["lecture", "label"] == "讲授式" and m.loc["case", "max"] == 5
    u = ev[ev["by"] == "unit"].set_index("key")
    assert u.loc["green", "label"] == "经济建设"
    assert ev.attrs["ignored"] == 1  # the unknown session
    every = [x for cs in ev["comments"] for x in cs]
    assert not any("<" in x for x in every)
    page = pg.evaluation_html(ev, "zh")
    assert "<script" not in page and "onerror" not in page and "<img" not in page
    assert "讲得好" in page and "林晓峰" in page


def test_evaluation_judges_teachers_by_teacher_ratings_and_counts_raters(course: Path):
    add_sessions(course, "c1", ["talk,cases/coop.ipynb,2026-03-09,f1,,lecture,blue,3,practice,,"])
    c = load_course(course)
    rows = [
        ("t01", "coop", "rate-session", 5, "session"),
        ("t01", "coop", "rate-pace", 5, "session"),  # two session ratings by one trainee
        ("t02", "coop", "rate-session", 4, "session"),
        ("t01", "coop", "rate-teacher", 2, "teacher"),
        ("t02", "coop", "rate-teacher", 3, "teacher"),
        ("t03", "talk", "rate-session", 1, "session"),
    ]
    ratings = pd.DataFrame(rows, columns=["trainee", "session", "question", "value", "about"])
    ev = pg.evaluation_summary(c, "c1", ratings)
    t = ev[ev["by"] == "teacher"].set_index("key")
    # the teacher's own ratings only, not averaged with the sessions'
    assert t.loc["f1", "mean"] == pytest.approx(2.5) and t.loc["f1", "trainees"] == 2
    m = ev[ev["by"] == "method"].set_index("key")
    assert m.loc["case", "mean"] == pytest.approx(14 / 3)  # session ratings only
    assert m.loc["case", "responses"] == 3 and m.loc["case", "trainees"] == 2
    page = pg.evaluation_html(ev, "en")
    assert "<th>raters</th>" in page
    case_row = next(r for r in page.split("<tr>") if r.startswith("<td>案例式"))
    assert case_row.startswith("<td>案例式</td><td>2</td>"), case_row  # raters, not ratings


# ---------------------------------------------------------------- the guide


def test_guide_escapes_and_places_notebooks(course: Path):
    fac = course / "catalog/faculty.csv"
    fac.write_text(
        fac.read_text(encoding="utf-8") + 'f3,"<b>周</b> & 吴",model-worker,劳模,,\n',
        encoding="utf-8",
    )
    c = load_course(course)
    out = pg.guide(c, out=course / "g.html")
    page = out.read_text(encoding="utf-8")
    assert "<b>周</b>" not in page and "&lt;b&gt;周&lt;/b&gt; &amp; 吴" in page
    assert "乡村振兴中的合作社之争" in page  # the case's first heading is its title
    section = re.search(r'<section class="unit" id="unit-green".*?</section>', page, re.S).group(0)
    assert "乡村振兴中的合作社之争" in section and "案例式" in section and "c1 班" in section
    assert pg.guide(course) == course / "build/guide/index.html"


def test_guide_has_every_catalog_entry(sample_course: Path):
    c = load_course(sample_course)
    page = pg.guide(sample_course).read_text(encoding="utf-8")
    for table, col in (
        (c.faculty, "name"),
        (c.sites, "name"),
        (c.readings, "title"),
        (c.methods, "name"),
    ):
        missing = [v for v in table[col] if html.escape(v) not in page]
        assert not missing, f"{col} missing from the guide: {missing}"
    for u in c.config.units:
        assert u.colour in page and html.escape(u.name) in page
    for cohort in c.cohorts.values():
        assert html.escape(cohort.name) in page
    # Offline: nothing is loaded from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "<script" not in page
    assert "Noto Sans CJK SC" in page and "@media print" in page


def _rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i : i + 2], 16) for i in (0, 2, 4)))


@pytest.mark.browser
def test_guide_in_headless_chromium(sample_course: Path):
    from playwright.sync_api import sync_playwright  # a test dependency: no skip

    c = load_course(sample_course)
    path = pg.guide(sample_course)
    requests: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()

            def route(r):
                requests.append(r.request.url)
                url = r.request.url
                if url.startswith("file:") or url.startswith(("http://127.0.0.1", "data:")):
                    r.continue_()
                else:
                    r.abort()

            page.route("**/*", route)
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            for u in c.config.units:
                colour = page.eval_on_selector(
                    f'section.unit[data-unit="{u.id}"]', "e => getComputedStyle(e).borderLeftColor"
                )
                assert colour == _rgb(u.colour), u.id
                badge = page.eval_on_selector(
                    f'section.unit[data-unit="{u.id}"] .unit-badge',
                    "e => getComputedStyle(e).backgroundColor",
                )
                assert badge == _rgb(u.colour)
            text = page.inner_text("body")
            assert c.config.programme.name in text and "师资库" in text
            assert c.faculty["name"].iloc[0] in text and c.sites["name"].iloc[-1] in text
            # CJK glyphs are drawn from a real CJK font: each ideograph is about one em wide,
            # where a missing font leaves notdef boxes of another width.
            width = page.evaluate(
                """() => { const s = document.createElement('span');
                       s.style.fontSize = '20px'; s.textContent = '理想信念经济建设';
                       document.body.appendChild(s); const w = s.getBoundingClientRect().width;
                       s.remove(); return w; }"""
            )
            assert 150 <= width <= 170, width
            pdf = page.pdf()  # print CSS must not break printing
            assert pdf[:4] == b"%PDF"
        finally:
            browser.close()
    outside = [u for u in requests if not u.startswith(("file:", "http://127.0.0.1", "data:"))]
    assert outside == []
