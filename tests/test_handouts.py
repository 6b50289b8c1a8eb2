"""Handouts as their readers get them: two indexes, an empty state, a parameters table, tidy tables.

The trainee index is the page a cohort's organiser shares: it must link
nothing but trainee editions, and nothing it links may hold a key. The
instructor handouts live beside the instructor editions, with their own
index that says they must not be shared.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from conftest import MARKERS

import kit
from kit.pages.present import finish_tables, html_table


@pytest.fixture
def built(course: Path) -> Path:
    assert kit.build(course, "c1", progress=False).ok
    # a handout left by an older casekit beside the trainee handouts
    stale = course / "build/c1/handouts/coop.instructor.html"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text(f"<p>{MARKERS['key']}</p>", encoding="utf-8")
    res = kit.handouts(course, "c1", progress=False)
    assert res.ok, res.failures
    return course


def _links(page: Path) -> list[Path]:
    soup = BeautifulSoup(page.read_text("utf-8"), "html.parser")
    return [(page.parent / a["href"]).resolve() for a in soup.find_all("a", href=True)]


def test_trainee_index_links_no_instructor_edition(built: Path) -> None:
    shared = (built / "build/c1/handouts").resolve()
    index = shared / "index.html"
    links = _links(index)
    assert links == [shared / "coop.html"]
    # nothing in the shared folder, linked or not, holds a key or a teacher's note
    for page in shared.iterdir():
        text = page.read_text("utf-8")
        assert not any(m in text for m in MARKERS.values()), page.name
    assert not (shared / "coop.instructor.html").exists()  # the stale copy is gone


def test_instructor_handouts_have_their_own_index_that_warns(built: Path) -> None:
    folder = built / "build/c1/instructor/handouts"
    soup = BeautifulSoup((folder / "index.html").read_text("utf-8"), "html.parser")
    assert "请勿转发给学员" in soup.select_one(".ck-warning").get_text()
    links = _links(folder / "index.html")
    assert (folder / "coop.html").resolve() in links
    assert MARKERS["key-output"] in (folder / "coop.html").read_text("utf-8")


def test_instructor_handout_shows_parameters_as_one_table(built: Path) -> None:
    page = (built / "build/c1/instructor/handouts/coop.html").read_text("utf-8")
    soup = BeautifulSoup(page, "html.parser")
    text = soup.get_text()
    assert "# Parameters" not in text and "cohort_name =" not in text  # no raw dumps
    table = soup.select_one(".ck-params table")
    rows = {tr.th.get_text(strip=True): tr.td.get_text(strip=True) for tr in table.find_all("tr")}
    assert rows["班次"] == "c1 班" and rows["授课教师"] == "林晓峰"
    assert rows["教学点"] == "东山村党群服务中心" and rows["教学方式"] == "案例式"
    assert rows["growth"] == "0.05"  # the author's own parameter, by its name


def test_handout_numbers_questions_as_the_workbook_does(built: Path) -> None:
    soup = BeautifulSoup((built / "build/c1/handouts/coop.html").read_text("utf-8"), "html.parser")
    heads = [q.div.get_text() for q in soup.select(".casekit-question")]
    assert heads[0].startswith("第1题 · 数值题") and heads[1].startswith("第2题 · 简答题")
    assert not any("q-output" in h for h in heads)  # ids are for files, not for readers


def test_index_of_a_cohort_not_built_says_what_to_run(course: Path) -> None:
    res = kit.handouts(course, "c2", progress=False)
    assert res.failures  # the session is reported, not fatal
    soup = BeautifulSoup(res.index.read_text("utf-8"), "html.parser")
    empty = soup.select_one(".ck-empty").get_text()
    assert "casekit build c2" in empty and "casekit handouts c2" in empty
    assert "尚未生成" in soup.select_one(".ck-index").get_text()  # the session is listed
    assert not soup.select(".ck-index a")


def test_pandas_tables_lose_the_default_index_and_speak_chinese() -> None:
    df = pd.DataFrame({"乡镇": ["东山镇", "西河镇"], "达标": [True, False]})
    html = finish_tables(df.to_html(), "zh")
    soup = BeautifulSoup(html, "html.parser")
    assert [th.get_text() for th in soup.select("thead th")] == ["乡镇", "达标"]
    assert [
        [td.get_text() for td in tr.find_all(["td", "th"])] for tr in soup.select("tbody tr")
    ] == [
        ["东山镇", "是"],
        ["西河镇", "否"],
    ]
    assert soup.div["class"] == ["ck-scroll"]  # scrolls in its own box on a phone
    named = df.set_index("乡镇")  # an index that means something stays
    assert "东山镇" in finish_tables(named.to_html(), "zh")
    kept = BeautifulSoup(finish_tables(named.to_html(), "zh"), "html.parser")
    assert kept.select("tbody th") and re.search("东山镇", kept.select("tbody th")[0].get_text())


def test_a_table_made_finished_reads_on_a_phone_as_one_finish_tables_made() -> None:
    long = "关于乡村振兴示范点建设的调研报告与建议"  # longer than a short cell
    rows = [["东山镇", f"{long}<br><small>附件</small>"], ["西河镇", "&lt;无&gt;"]]
    made = html_table(["乡镇", "意见"], rows)
    raw = made.removeprefix('<div class="ck-scroll">').removesuffix("</div>")
    by_bs4 = BeautifulSoup(finish_tables(re.sub(r' class="[^"]*"', "", raw), "zh"), "html.parser")
    page = f"<p>前言</p>{made}<table><tr><td>{long}</td></tr></table>"
    finished = finish_tables(page, "zh")
    assert made in finished  # a finished table is left as it is
    soup = BeautifulSoup(finished, "html.parser")
    ours, theirs = (
        soup.select("div.ck-scroll > table")[0],
        by_bs4.select("div.ck-scroll > table")[0],
    )
    assert [c.get("class") for c in ours.find_all(["td", "th"])] == [
        c.get("class") for c in theirs.find_all(["td", "th"])
    ]  # the same cells wrap as when finish_tables classes them
    assert [c.get("class") for c in ours.find_all(["td", "th"])][3] == ["ck-long"]
    assert soup.select("div.ck-scroll > table")[1].td["class"] == ["ck-long"]  # the author's table
