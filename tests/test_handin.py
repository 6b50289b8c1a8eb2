"""Handing in: a workbook nobody answered is handed in too; the button explains a failure plainly."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from conftest import run_cli

from kit import workbook as W
from kit.builder import build
from kit.gradebook import Gradebook
from kit.grading import collect, grade


@pytest.fixture
def released(course: Path) -> Path:
    assert build(course, "c1", progress=False).ok
    assert not W.release(course, "c1").failures
    return course


def test_a_workbook_with_no_answers_is_handed_in_and_graded_as_unanswered(
    released: Path, monkeypatch
):
    monkeypatch.delenv("CASEKIT_LANG", raising=False)
    wb = released / "exchange/c1/outbox/t01/coop.ipynb"
    assert not W.store_path_for(wb).exists()  # opened, nothing answered
    r = run_cli("submit", str(wb), "--lang", "en")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("✓ received")
    inbox = list((released / "exchange/c1/inbox/t01/coop").iterdir())
    assert len(inbox) == 1
    doc = json.loads((inbox[0] / "answers.json").read_text("utf-8"))
    assert (doc["trainee"], doc["session"], doc["cohort"], doc["answers"]) == (
        "t01",
        "coop",
        "c1",
        {},
    )
    assert collect(released, "c1").written
    assert not grade(released, "c1", progress=False).failures
    with Gradebook.open(released) as gb:
        qs = gb.question_scores("c1")
        scores = gb.submission_scores("c1")
    assert set(qs["status"]) == {"unanswered"} and qs["points"].sum() == 0
    assert list(scores["status"]) == ["graded"]


def test_the_submit_button_hands_in_an_empty_workbook_and_explains_failures(
    released: Path, tmp_path: Path, monkeypatch
):
    monkeypatch.delenv("CASEKIT_EXCHANGE", raising=False)
    wb = released / "exchange/c1/outbox/t02/coop.ipynb"
    exchange = released / "exchange"
    rt = W.open_workbook(
        "coop", trainee="t02", cohort="c1", exchange=exchange, store=W.store_path_for(wb)
    )
    try:
        panel = W.ProgressPanel(rt)
        rt.notebook = wb
        # nothing answered: handed in all the same (the panel's question first is #13's test)
        assert panel.do_submit(confirmed=True) is not None
        assert "已提交" in panel.receipt.value
    finally:
        W.close_workbook()

    # a copy outside any exchange, with no exchange named: the reason, in Chinese, no path
    # (a released workbook names its exchange, and hands in there: tests/test_author_loop.py)
    lost = tmp_path / "elsewhere" / "coop.ipynb"
    lost.parent.mkdir()
    nb = nbformat.read(str(wb), 4)
    nb.metadata["casekit"].pop("exchange")
    nb.cells[0].source = "\n".join(
        line for line in nb.cells[0].source.splitlines() if "exchange=" not in line
    )
    nbformat.write(nb, str(lost))
    rt = W.open_workbook("coop", trainee="t02", cohort="c1", store=W.store_path_for(lost))
    try:
        panel = W.ProgressPanel(rt)
        rt.notebook = lost
        assert panel.do_submit(confirmed=True) is None
        message = panel.receipt.value
    finally:
        W.close_workbook()
    assert "提交失败" in message and "未设置提交目录，请联系培训组织者" in message, message
    assert str(tmp_path) not in message and "exchange" not in message, message
