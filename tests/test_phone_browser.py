"""Every question kind answered on a phone: Voilà as the hub serves it, Chromium at 390 px.

One released workbook holds one question of each kind. One JupyterLab server
(casekit's Voilà template, as on the hub) and one phone-sized page serve the
whole module; each test answers one kind with real taps and typing and finds
the answer in the store, after checking that the question fits the screen.
Then: a photo from the camera is taken where the question accepts images and a
refused file leaves no "(1)" on the button; a code answer's output and test
ticks come back after a reload; values read 是/否 and a Series shows no dtype
line; and with the server gone, an edit no longer claims 已保存 and 提交作业
says the hand-in did not reach the exchange (the last test: it stops the server).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from urllib.request import Request, urlopen

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import _code, _md, launch_chromium, python_notebook, write_course  # noqa: E402
from servers import wait_for  # noqa: E402
from test_workbook_browser import PARAMETERS, _answers, lab_server  # noqa: E402

# one worker, in order: the tests share one page, and the last one stops its server
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("phone")]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
OPTIONS = ["停水停电，影响基本生活", "噪音扰民，夜间反复发生", "供暖中断", "路灯不亮"]


def _notebook() -> nbformat.NotebookNode:
    return python_notebook(
        [
            _md("# 12345 热线：手机上作答"),
            _code(PARAMETERS, "parameters"),
            _code("import pandas as pd\nfrom kit.questions import ask, key, test"),
            _code("pd.Series([12.5, 3.0], index=['超期', '退单'], name='占比')"),
            _code("pd.DataFrame({'已办结': [True, False]}, index=['甲', '乙'])"),
            _code("1 + 1 == 2"),
            _code('ask.choice("q-choice", "诉求 A 应归入哪一类？", ["咨询", "求助", "投诉"])'),
            _code(f'ask.multi("q-multi", "哪些工单需要当天处置？", {OPTIONS!r})'),
            _code('ask.number("q-number", "超期工单占比是多少？", unit="%", tolerance=0.5)'),
            _code('ask.text("q-text", "用两个字概括处置原则。")'),
            _code(
                'ask.essay("q-essay", "你会如何处置积压？", rubric=[{"text": "思路", "points": 2}])'
            ),
            _code('ask.ranking("q-rank", "处置顺序", ["核实诉求", "分级派单", "回访群众"])'),
            _code('ask.code("q-code", "写一个函数 total(xs)，返回列表之和。", points=2)'),
            _code("def total(xs):\n    return sum(xs)", "solution"),
            _code(
                '@test("q-code", points=2, name="求和正确")\ndef _():\n    assert total([1, 2]) == 3',
                "tests",
            ),
            _code('ask.rating("q-rating", "本课收获如何？")'),
            _code('ask.observation("q-obs", "现场观摩记录", fields=["看到了什么", "听到了什么"])'),
            _code('ask.upload("q-photo", "拍一张现场照片", accept="image/*")'),
        ]
    )


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory):
    """(page, store, base, token): the workbook open in Voilà on a 390 px phone."""
    from playwright.sync_api import sync_playwright

    from kit.builder import build
    from kit.workbook import release

    tmp = tmp_path_factory.mktemp("phone")
    root = write_course(tmp / "course", cohorts={"c1": 0.05})
    nbformat.write(_notebook(), root / "cases/coop.ipynb")
    assert not build(root, "c1", progress=False).failures
    assert not release(root, "c1", trainees=["t01"]).failures
    lab = tmp / "lab"
    lab.mkdir()
    shutil.copy(root / "exchange/c1/outbox/t01/coop.ipynb", lab / "coop.ipynb")
    with lab_server(lab, tmp, hub_voila=True) as (base, token), sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(**PHONE).new_page()
        page.set_default_timeout(90_000)
        page.goto(f"{base}/voila/render/coop.ipynb?token={token}")
        page.wait_for_selector(".casekit-q-q-photo", state="attached")
        try:
            yield page, lab / "coop.answers.json", base, token
        except Exception:
            page.screenshot(path=str(tmp / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _fits(page, qid: str) -> None:
    """The question is laid out within the phone's width, and its inputs are not squeezed to nothing."""
    box = page.evaluate(
        """(qid) => {
          const q = document.querySelector('.casekit-q-' + qid);
          q.scrollIntoView();
          const r = q.getBoundingClientRect();
          const inputs = [...q.querySelectorAll('input, textarea, button, label')]
            .filter(e => getComputedStyle(e).display !== 'none' && e.type !== 'file');
          const thin = inputs.filter(e => e.getBoundingClientRect().width < 16)
            .map(e => e.tagName + ':' + (e.textContent || e.value || '').slice(0, 12));
          return {left: r.left, right: r.right, width: r.width, thin, n: inputs.length};
        }""",
        qid,
    )
    assert box["n"] > 0, box
    assert box["left"] >= -1 and box["right"] <= 391, box
    assert box["thin"] == [], box


def _stored(store: Path, qid: str, want, what: str) -> None:
    wait_for(lambda: _answers(store).get(qid) == want, 30, f"{what} to be stored: {want!r}")


def test_choice(phone) -> None:
    page, store, *_ = phone
    _fits(page, "q-choice")
    page.locator(".casekit-q-q-choice label", has_text="求助").tap()
    _stored(store, "q-choice", "求助", "the choice")


def test_multi_options_show_and_take_taps(phone) -> None:
    page, store, *_ = phone
    _fits(page, "q-multi")
    widths = page.eval_on_selector_all(
        ".casekit-q-q-multi .widget-checkbox",
        "els => els.map(e => e.getBoundingClientRect().width)",
    )
    assert len(widths) == 4 and min(widths) > 200, widths  # every option readable on the phone
    page.locator(".casekit-q-q-multi label", has_text=OPTIONS[0]).tap()
    page.locator(".casekit-q-q-multi label", has_text=OPTIONS[2]).tap()
    _stored(store, "q-multi", [OPTIONS[0], OPTIONS[2]], "both options")


def test_number(phone) -> None:
    page, store, *_ = phone
    _fits(page, "q-number")
    page.locator(".casekit-q-q-number input[type=text]").tap()
    page.keyboard.type("12.5")
    _stored(store, "q-number", 12.5, "the number")


def test_text(phone) -> None:
    page, store, *_ = phone
    _fits(page, "q-text")
    page.locator(".casekit-q-q-text input[type=text]").tap()
    page.keyboard.type("分级")
    _stored(store, "q-text", "分级", "the text")


def test_essay(phone) -> None:
    page, store, *_ = phone
    _fits(page, "q-essay")
    page.locator(".casekit-q-q-essay textarea").tap()
    page.keyboard.type("先分级，再派单。")
    _stored(store, "q-essay", "先分级，再派单。", "the essay")


def test_ranking(phone) -> None:
    page, store, *_ = phone
    _fits(page, "q-rank")
    page.locator(".casekit-q-q-rank button", has_text="↓").first.tap()
    _stored(store, "q-rank", ["分级派单", "核实诉求", "回访群众"], "the new order")


def test_code_output_and_ticks_come_back_after_reload(phone) -> None:
    page, store, base, token = phone
    _fits(page, "q-code")
    page.locator(".casekit-q-q-code textarea").tap()
    page.keyboard.type(
        "def total(xs):\n    print('共', len(xs), '项')\n    return sum(xs)\ntotal([4, 5])"
    )
    page.locator(".casekit-q-q-code button", has_text="运行并保存").tap()
    page.wait_for_selector(".casekit-q-q-code .casekit-tick:text('✓ 求和正确')")
    wait_for(lambda: "return sum(xs)" in (_answers(store).get("q-code") or ""), 30, "the code")
    page.reload()
    page.wait_for_selector(".casekit-q-q-photo", state="attached")
    page.wait_for_selector(".casekit-q-q-code .casekit-tick:text('✓ 求和正确')")
    assert "共 2 项" in page.locator(".casekit-q-q-code .casekit-run-out").inner_text()
    assert "return sum(xs)" in page.locator(".casekit-q-q-code textarea").input_value()


def test_rating(phone) -> None:
    page, store, *_ = phone
    _fits(page, "q-rating")
    page.locator(".casekit-q-q-rating .widget-toggle-button", has_text="4").tap()
    _stored(store, "q-rating", 4, "the rating")


def test_observation(phone) -> None:
    page, store, *_ = phone
    _fits(page, "q-obs")
    page.locator(".casekit-q-q-obs textarea").first.tap()
    page.keyboard.type("便民窗口六个")
    wait_for(
        lambda: "便民窗口六个" in json.dumps(_answers(store).get("q-obs"), ensure_ascii=False),
        30,
        "the observation",
    )


def test_photo_from_the_camera_and_a_refused_file(phone) -> None:
    page, store, *_ = phone
    _fits(page, "q-photo")
    button = page.locator(".casekit-q-q-photo button")
    assert "照片" in button.inner_text()

    def pick(name: str, mime: str, data: bytes):
        with page.expect_file_chooser() as chooser:
            button.tap()
        chooser.value.set_files(files=[{"name": name, "mimeType": mime, "buffer": data}])
        return chooser.value.element

    # the phone offers its camera for image/* (the browser decides; the page must ask for it)
    picker = pick("笔记.pdf", "application/pdf", b"%PDF")
    assert "image/*" in (picker.get_attribute("accept") or "")
    page.wait_for_selector(".casekit-q-q-photo .casekit-error:text('笔记.pdf')")
    wait_for(lambda: "(1)" not in button.inner_text(), 15, "the button to forget the refused file")
    assert "q-photo" not in _answers(store)
    pick("IMG_0001.JPG", "image/jpeg", b"\xff\xd8\xff\xe0" + b"0" * 64)
    wait_for(
        lambda: (_answers(store).get("q-photo") or {}).get("name") == "IMG_0001.JPG",
        30,
        "the photo",
    )
    assert page.locator(".casekit-q-q-photo .casekit-error").count() == 0


def test_values_read_as_words(phone) -> None:
    page, *_ = phone
    text = page.locator("#rendered_cells").inner_text()
    assert "dtype" not in text and "Name:" not in text
    assert "True" not in text and "False" not in text
    cells = page.eval_on_selector_all("table.dataframe td", "els => els.map(e => e.textContent)")
    assert "12.5" in cells and "是" in cells and "否" in cells, cells


def test_server_gone_an_edit_and_a_handin_say_so(phone) -> None:
    """Last: it stops the server, as when the hub is stopped under a trainee."""
    page, store, base, token = phone
    status = page.locator(".casekit-q-q-text span.casekit-status")
    assert "已保存" in status.inner_text()
    req = Request(
        f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
    )
    urlopen(req, timeout=10).close()
    page.wait_for_timeout(1000)
    page.locator(".casekit-q-q-text input[type=text]").tap()
    page.keyboard.type("派单")
    page.wait_for_selector(".casekit-q-q-text .casekit-unsaved", timeout=30_000)
    assert "未保存" in status.inner_text() and "已保存" not in status.inner_text()
    assert _answers(store)["q-text"] == "分级"
    submit = page.locator(".casekit-progress button", has_text="提交作业")
    submit.scroll_into_view_if_needed()
    submit.tap()
    alert = page.wait_for_selector(".casekit-page-alert:text('没有送达')", timeout=30_000)
    assert "收件处" in alert.inner_text()
    assert submit.is_enabled()
