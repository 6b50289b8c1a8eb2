"""The author's loop: a changed due time rebuilds, blank copies hand in, one bad row is one message."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import pytest
from conftest import copy_sample, run_cli

from kit import workbook as W
from kit.builder import build
from kit.grading import grades
from kit.live.stats import summarise
from kit.numbers import parse_number
from kit.workbook.store import StoreError
from kit.workbook.widgets import build_view


def test_a_change_of_due_rebuilds_the_keys(course: Path):
    assert build(course, "c1", progress=False).ok
    keys = course / "build/c1/instructor/coop.keys.json"
    assert json.loads(keys.read_text("utf-8"))["due"] is None
    schedule = course / "cohorts/c1/schedule.csv"
    schedule.write_text(
        schedule.read_text("utf-8").replace("assessed,,", "assessed,2026-03-09T22:00,"), "utf-8"
    )
    again = build(course, "c1", progress=False)
    assert again.ok and not again.sessions[0].cached  # not "unchanged"
    assert json.loads(keys.read_text("utf-8"))["due"] == "2026-03-09T22:00:00"
    assert build(course, "c1", progress=False).sessions[0].cached  # and then it is


@pytest.fixture
def released(course: Path) -> Path:
    assert build(course, "c1", sessions=["coop"], progress=False).ok
    assert not W.release(course, "c1").failures
    return course


def _strip(workbook: Path, *, setup: bool) -> None:
    """Make `workbook` look released before release recorded its exchange (``setup``: nowhere)."""
    nb = nbformat.read(str(workbook), 4)
    for k in ("exchange", "language"):
        nb.metadata["casekit"].pop(k, None)
    if setup:
        cell = nb.cells[0]
        cell.source = "\n".join(
            line for line in cell.source.splitlines() if "exchange=" not in line
        )
    nbformat.write(nb, str(workbook))


def test_a_blank_workbook_copied_out_of_the_exchange_is_handed_in(
    released: Path, tmp_path: Path, monkeypatch
):
    monkeypatch.delenv("CASEKIT_EXCHANGE", raising=False)
    monkeypatch.delenv("CASEKIT_LANG", raising=False)
    outbox = released / "exchange/c1/outbox"
    copy = tmp_path / "desktop" / "coop.ipynb"
    copy.parent.mkdir()
    shutil.copy(outbox / "t01/coop.ipynb", copy)
    assert not W.store_path_for(copy).exists()  # nobody answered
    r = run_cli("submit", str(copy))
    assert r.returncode == 0, r.stderr
    assert len(list((released / "exchange/c1/inbox/t01/coop").iterdir())) == 1

    # one released before the exchange was in its metadata: its setup cell names it
    older = tmp_path / "older" / "coop.ipynb"
    older.parent.mkdir()
    shutil.copy(outbox / "t02/coop.ipynb", older)
    _strip(older, setup=False)
    assert W.submit(older).folder is not None
    assert len(list((released / "exchange/c1/inbox/t02/coop").iterdir())) == 1

    # and one naming no exchange at all: the reason in the workbook's language (Chinese)
    _strip(older, setup=True)
    with pytest.raises(StoreError) as caught:
        W.submit(older)
    assert caught.value.why.startswith("不知道提交目录"), caught.value.why


def test_one_bad_schedule_row_is_one_message_in_one_language(tmp_path: Path):
    course = copy_sample(tmp_path / "sample")
    schedule = course / "cohorts/2026-spring/schedule.csv"
    text = schedule.read_text("utf-8")
    # red-2 has tasks, gold-1 a deliberation: neither may add a second message
    text = text.replace(
        "red-2,exercises/red-visit.ipynb,2026-03-27", "red-2,exercises/red-visit.ipynb,2026-03-32"
    )
    text = text.replace(
        "gold-1,cases/gold-conference.ipynb,2026-06-05,f05,,case,gold,3",
        "gold-1,cases/gold-conference.ipynb,2026-06-05,f05,,case,gold,三",
    )
    schedule.write_text(text, "utf-8")
    r = run_cli("check", str(course))
    lines = [x for x in (r.stdout + r.stderr).splitlines() if x.startswith("✗")]
    assert r.returncode != 0
    assert len(lines) == 2, lines  # no unknown session in tasks.csv, no lost deliberation
    assert not any("Input should" in x for x in lines), lines  # no English from pydantic
    assert (
        "schedule.csv:第 3 行: date: 不是有效日期，请写成 2026-03-02（填的是 '2026-03-32'）"
        in lines[0]
    )
    assert "schedule.csv:第 8 行: hours: 不是数字（填的是 '三'）" in lines[1]


@pytest.mark.parametrize(
    ("typed", "unit", "value"),
    [
        ("８１.０", None, 81.0),
        ("８１．０％", "%", 81.0),
        ("81.0%", "%", 81.0),
        ("81.0%", None, 0.81),
        ("1,200", None, 1200.0),
        ("1，200.5", None, 1200.5),
        ("－3", None, -3.0),
        ("12 万元", "万元", 12.0),
    ],
)
def test_numbers_are_read_as_people_type_them(typed: str, unit: str | None, value: float):
    assert parse_number(typed, unit) == pytest.approx(value)


@pytest.mark.parametrize("typed", ["1,20", "八十一", "81..0", "nan", ""])
def test_what_is_not_a_number_is_refused(typed: str):
    with pytest.raises(ValueError):
        parse_number(typed)


def test_the_grades_sheet_follows_the_lecture_numbers(course: Path, tmp_path: Path):
    # a session added at the end of the schedule but taught first is 第 1 讲, and comes first
    schedule = course / "cohorts/c1/schedule.csv"
    row = schedule.read_text("utf-8").splitlines()[1]
    early = row.replace("coop,", "intro,", 1).replace("2026-03-02", "2026-02-20")
    schedule.write_text(schedule.read_text("utf-8") + early + "\n", "utf-8")
    out = tmp_path / "grades.csv"
    grades(course, "c1", out)
    header = out.read_text("utf-8-sig").splitlines()[0].split(",")
    numbered = [h for h in header if h.startswith("第") and "讲" in h]
    assert numbered and numbered == sorted(numbered, key=lambda h: int(h[1:].split("讲")[0])), (
        header
    )


def test_save_and_hand_in_times_are_shown_in_the_courses_zone(released: Path, monkeypatch):
    # the machine keeps UTC (a hub), the course is in Beijing: a trainee reads Beijing time
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.delenv("CASEKIT_EXCHANGE", raising=False)
    wb = released / "exchange/c1/outbox/t03/coop.ipynb"
    rt = W.open_workbook(
        "coop",
        trainee="t03",
        cohort="c1",
        exchange=released / "exchange",
        store=W.store_path_for(wb),
        zone="Asia/Shanghai",
    )
    try:
        rt.notebook = wb
        spec = {"id": "q-word", "kind": "text", "prompt": "一个词", "points": 1}
        rt.register(spec)
        view = build_view(spec, rt)
        view.save("合作")
        beijing, utc = datetime.now(ZoneInfo("Asia/Shanghai")), datetime.now(UTC)
        status = view.status.value
        panel = W.ProgressPanel(rt)
        assert panel.do_submit(confirmed=True) is not None
        receipt = panel.receipt.value
    finally:
        W.close_workbook()
        monkeypatch.delenv("TZ")
        time.tzset()
    shown = re.sub(r"<[^>]*>", "", status)  # what the trainee reads, not the tag's ISO stamp
    assert beijing.strftime("%H:") in shown and utc.strftime("%H:") not in shown, status
    assert beijing.strftime("%Y-%m-%d %H:") in receipt, receipt
    assert utc.strftime("%Y-%m-%d %H:") not in receipt, receipt


def test_the_live_reveal_shows_a_key_every_variant_shares(course: Path):
    # a variant per trainee; the key is the same for all, its explanation names each one's data
    nb = nbformat.read(str(course / "cases/coop.ipynb"), 4)
    cell = next(c for c in nb.cells if c.source.startswith('key("q-word"'))
    cell.source = 'key("q-word", "合作", explain=f"{trainee} 的数据中，合作社……")'
    # and one whose reference variant (the cohort's seed, no trainee) differs from all of theirs
    cell = next(c for c in nb.cells if c.source.startswith('key("q-output"'))
    cell.source = 'key("q-output", 110.25 if trainee else 1.0)'
    nbformat.write(nb, str(course / "cases/coop.ipynb"))
    schedule = course / "cohorts/c1/schedule.csv"
    lines = schedule.read_text("utf-8").splitlines()
    schedule.write_text(f"variants,{lines[0]}\ntrainee,{lines[1]}\n", "utf-8")
    assert build(course, "c1", progress=False).ok
    from kit.course import load_course
    from kit.exchange.clients import FolderExchange
    from kit.live.server import LiveClass

    c = load_course(course)
    live = LiveClass.open(c, "c1", "coop", FolderExchange(course / "exchange"))
    spec = live.specs["q-word"]
    answers = {"t01": "合作", "t02": " 合作 ", "t03": "竞争"}
    shown = summarise(
        spec, answers, live.keys.get("q-word"), revealed=True, own=live.own_keys.get("q-word")
    )
    assert shown["key"] == "合作", shown  # not "各人数据不同"
    assert shown["correct"] == 2
    spec = live.specs["q-output"]
    numbers = {"t01": 110.25, "t02": 110.2, "t03": 1.0}
    shown = summarise(
        spec, numbers, live.keys.get("q-output"), revealed=True, own=live.own_keys.get("q-output")
    )
    assert shown["key"].startswith("110.2") and shown["correct"] == 2, shown  # tolerance 0.5
