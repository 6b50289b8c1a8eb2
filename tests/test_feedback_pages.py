"""Feedback pages that teach: right answers only when the author allows, typed failures, hidden tests counted.

A small course is built with three keyed questions that differ only in the
author's reveal setting, a code question with a visible and a hidden test,
an essay with a rubric whose criteria are listed out of alphabetical order,
and a rating. One trainee answers everything wrong (the code with a syntax
error); the pages are written before and after the session's due time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from conftest import _code, case_notebook, write_course

from kit import notebooks as nbs
from kit.builder import build
from kit.grading import collect, feedback, grade
from kit.marking.notebook import record_mark

QUESTIONS = [
    'ask.choice("q-due", "哪一项按期办结？", options=["甲", "乙", "丙"], points=2)',
    'ask.choice("q-never", "哪一项最先受理？", options=["甲", "乙", "丙"])',
    'ask.choice("q-always", "哪一项需要督办？", options=["甲", "乙", "丙"])',
    'ask.essay("q-essay", "写一段汇报。", rubric=['
    '{"id": "zeta", "text": "先讲结论", "points": 2}, '
    '{"id": "alpha", "text": "数据有出处", "points": 3}, '
    '{"id": "mid", "text": "提出三项措施", "points": 1}])',
    'ask.rating("q-rate", "本课收获如何？")',
]
KEYS = (
    'key("q-due", "乙", explain="乙在期限内办结。DUE-EXPLAIN")\n'
    'key("q-never", "甲", reveal="never", explain="NEVER-EXPLAIN")\n'
    'key("q-always", "丙", reveal="always", explain="ALWAYS-EXPLAIN")\n'
)
SYNTAX_ERROR = "# 答题区 answer: q-code\ndef total(d)\n    return d.iloc[:, 1].sum()\n"
BEFORE_DUE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # class day (no due time: due at midnight)
AFTER_DUE = datetime(2026, 3, 4, tzinfo=UTC)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kit.workbook import AnswerStore, Runtime, release, store_path_for, submit

    root = write_course(tmp_path_factory.mktemp("fb") / "course", cohorts={"c1": 0.05})
    nb = case_notebook()
    nb.cells += [_code(src) for src in QUESTIONS] + [_code(KEYS, "key")]
    nbformat.write(nb, str(root / "cases/coop.ipynb"))
    assert build(root, "c1", progress=False).ok
    assert not release(root, "c1", trainees=["t01"]).failures
    workbook = root / "exchange/c1/outbox/t01/coop.ipynb"
    header = {"trainee": "t01", "session": "coop", "cohort": "c1"}
    header["exchange"] = str(root / "exchange")
    rt = Runtime(AnswerStore(store_path_for(workbook), header), session="coop", trainee="t01")
    for qid, value, kind in [
        ("q-due", "甲", "choice"),
        ("q-never", "乙", "choice"),
        ("q-always", "甲", "choice"),
        ("q-essay", "结论：要加强督办。", "essay"),
        ("q-rate", 4, "rating"),
        ("q-code", SYNTAX_ERROR, "code"),
    ]:
        rt.save(qid, value, kind)
    submit(workbook)
    assert not collect(root, "c1").failures
    assert not grade(root, "c1", progress=False).failures
    record_mark(root, "c1", "coop", "q-essay", trainee="t01", criteria={"alpha": 1.5, "zeta": True})
    return root


def _page(root: Path, now: datetime) -> BeautifulSoup:
    res = feedback(root, "c1", now=now)
    assert not res.failures, res.failures
    return BeautifulSoup(
        (root / "build/c1/feedback/t01/coop.html").read_text("utf-8"), "html.parser"
    )


def _section(page: BeautifulSoup, qid: str):
    return page.select_one(f'section[data-qid="{qid}"]')


def test_right_answer_only_when_the_author_allows(graded: Path) -> None:
    before = _page(graded, BEFORE_DUE)
    # default (after the due time): held back, and the page says when it will be shown
    assert _section(before, "q-due").select_one(".reveal") is None
    assert "DUE-EXPLAIN" not in str(before)
    assert "截止时间（2026-03-03 00:00）之后公布" in before.select_one("p.note").get_text()
    # "always": shown as soon as the page is written, beside the wrong answer
    always = _section(before, "q-always")
    assert always.select_one(".key").get_text(strip=True) == "丙"
    assert "ALWAYS-EXPLAIN" in always.select_one(".explain").get_text()
    assert always.select_one(".answer").get_text(strip=True) == "甲"
    # "never": never
    assert _section(before, "q-never").select_one(".reveal") is None

    after = _page(graded, AFTER_DUE)
    due = _section(after, "q-due")
    assert due.select_one(".key").get_text(strip=True) == "乙"
    assert "DUE-EXPLAIN" in due.select_one(".explain").get_text()
    assert after.select_one("p.note") is None
    assert _section(after, "q-never").select_one(".reveal") is None
    assert "NEVER-EXPLAIN" not in str(after)


def test_syntax_error_named_with_its_line_and_hidden_tests_counted(graded: Path) -> None:
    code = _section(_page(graded, AFTER_DUE), "q-code")
    failure = code.select_one(".failure").get_text()
    assert "第 2 行有语法错误" in failure and "SyntaxError" in failure
    assert "NameError" not in code.get_text()  # the consequence is not shown as the cause
    assert code.select_one(".tests-summary").get_text() == "2 项测试通过 0 项；1 项隐藏测试未通过"
    names = [li.get_text() for li in code.select("ul.tests li")]
    assert len(names) == 1 and "returns a number" in names[0]  # only the visible test by name
    assert "HIDDEN-MARKER" not in code.get_text()


def test_rubric_by_text_in_authors_order_and_rating_as_given(graded: Path) -> None:
    page = _page(graded, AFTER_DUE)
    items = [
        li.get_text(" ", strip=True) for li in _section(page, "q-essay").select("ul.rubric li")
    ]
    assert items == ["☑ 先讲结论 2 / 2", "◐ 数据有出处 1.5 / 3", "☐ 提出三项措施 0 / 1"]
    rating = _section(page, "q-rate")
    assert "4 / 5" in rating.select_one(".answer").get_text()
    assert rating.select_one(".pts") is None  # not a "0 / 0" scored item
    assert rating.select_one(".verdict").get_text() == "已评价"
    # the title names the session, not its id
    assert "乡村振兴中的合作社之争" in page.select_one("h1").get_text()
    assert "coop" not in page.select_one("header").get_text()


def test_check_validates_reveal_settings(tmp_path: Path) -> None:
    nb = case_notebook()
    nb.cells += [
        _code('key("q-output", 1, reveal="soon")\nreveal(when)', "key"),
        _code('reveal("always")'),
    ]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, str(path))
    problems = [p for p in nbs.check_notebook(path) if p.field == "reveal"]
    assert len(problems) == 3, problems
    assert {p.where for p in problems} == {
        f"cell {len(nb.cells) - 1}, line 1",
        f"cell {len(nb.cells) - 1}, line 2",
        f"cell {len(nb.cells)}, line 1",
    }
