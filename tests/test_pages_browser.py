"""The pages as their readers see them, in Chromium at 1280 px and at 390 px (a phone).

The sample course goes through the golden flow (build, seven trainees hand
in, grade, mark, feedback); then its handouts and its report are written.
For a feedback page, a trainee handout and the report, at both widths: no
English word outside code and data (tests/page_checks.py), no table cell
narrower than two characters, every chart at least 340 px wide, and the page
itself never wider than the screen (tables scroll in their own box). The
report's numbers are checked against what was handed in, and the programme
report and the PDFs are written through the command line and the API.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, run_cli
from page_checks import check, launch
from test_golden import COHORT, SESSIONS, run_sample

import kit
from kit.programme import report

NOW = datetime(2026, 7, 1, tzinfo=UTC)  # after every due date of the spring cohort


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pages") / "sample"
    root.mkdir()
    for name in ("course.toml", "catalog", "cohorts", "cases", "exercises"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    run_sample(root)
    assert kit.handouts(root, COHORT, sessions=SESSIONS, progress=False).ok
    report(root, COHORT, now=NOW)
    return root


def _pages(root: Path) -> dict[str, Path]:
    b = root / "build" / COHORT
    return {
        "feedback (wrong answers, revealed keys)": b / "feedback/sp02/blue-2.html",
        "feedback (rubric, upload, rating)": b / "feedback/sp01/red-2.html",
        "trainee handout (tables, chart)": b / "handouts/blue-2.html",
        "cohort report": b / "report.html",
    }


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_pages_read_well_on_desktop_and_phone(sample: Path, width: int) -> None:
    from playwright.sync_api import sync_playwright

    found = {}
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.set_default_timeout(120_000)
        for name, path in _pages(sample).items():
            page.goto(path.as_uri())
            found[name] = check(page)
        browser.close()
    for name, r in found.items():
        assert r["english"] == [], (name, r["english"][:10])
        assert r["narrow_cells"] == [], (name, r["narrow_cells"][:10])
        assert r["small_charts"] == [], (name, r["small_charts"])
        assert r["page_overflow"] <= 0, (name, r["page_overflow"])
    # the checks looked at something: tables and charts are there to be measured
    assert found["trainee handout (tables, chart)"]["cells"] > 20
    assert found["trainee handout (tables, chart)"]["images"] >= 1
    assert found["cohort report"]["images"] >= 2 and found["cohort report"]["cells"] > 100


def test_report_counts_against_the_roster_and_what_was_due(sample: Path) -> None:
    soup = BeautifulSoup(
        (sample / "build" / COHORT / "report.html").read_text("utf-8"), "html.parser"
    )
    cards = {c.span.get_text(): c.b.get_text() for c in soup.select(".ck-card")}
    assert cards["学员"] == "32"
    assert cards["人一份也没有交"] == "26"  # sp06 and 25 trainees never in the golden flow
    sessions = soup.select("h2")[0].find_next("table")
    rows = [
        [td.get_text(" ", strip=True) for td in tr.find_all("td")]
        for tr in sessions.tbody.find_all("tr")
    ]
    assert [r[0] for r in rows] == [f"第 {n} 讲" for n in range(1, 9)]  # by date
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    blue2 = next(r for r in rows if "12345热线" in r[3])
    assert blue2[4] == "3 / 32"  # hand-ins with their denominator
    missing = soup.select_one("ul.ck-names").get_text()
    assert "任国华" not in missing  # sp02 handed in
    units = [
        tr.td.get_text()
        for tr in soup.find(string="已到期课次").find_parent("table").tbody.find_all("tr")
    ]
    # the programme's order (red, green, blue; gold was not built, so its points are unknown)
    assert units == ["理想信念", "经济建设", "社会治理"]
    heat = soup.select_one("table.ck-heatmap")
    assert len(heat.tbody.find_all("tr")) == 32 and heat.select("td.ck-miss")


def test_programme_report_from_the_command_line(sample: Path) -> None:
    r = run_cli("report", "--programme", "-C", str(sample))
    assert r.returncode == 0, r.stderr
    page = sample / "build/programme/report.html"
    assert r.stdout.strip().endswith("build/programme/report.html")
    soup = BeautifulSoup(page.read_text("utf-8"), "html.parser")
    cards = {c.span.get_text(): c.b.get_text() for c in soup.select(".ck-card")}
    assert cards["班次"] == "2" and cards["学员（人次）"] == "66"
    assert cards["现场教学点"] == "19" and cards["师资库（人）"] == "28"
    assert len(soup.select("img.ck-chart")) >= 4
    table = soup.find(string="开班").find_parent("table")
    assert [tr.td.get_text() for tr in table.tbody.find_all("tr")] == [
        "2026年春季班",
        "2026年秋季班",
    ]


@pytest.mark.browser
def test_pdf_of_report_and_feedback_holds_the_chinese_text(sample: Path) -> None:
    import pypdf

    html = report(sample, COHORT, now=NOW, pdf=True)
    text = pypdf.PdfReader(str(html.with_suffix(".pdf"))).pages[0].extract_text()
    assert "培训情况报告" in text and "2026年春季班" in text
    res = kit.grading.feedback(sample, COHORT, session="blue-2", now=NOW, pdf=True)
    assert not res.failures
    pdfs = [p for p in res.written if p.suffix == ".pdf"]
    assert len(pdfs) == len([p for p in res.written if p.suffix == ".html"])
    assert "成绩反馈" in pypdf.PdfReader(str(pdfs[0])).pages[0].extract_text()
