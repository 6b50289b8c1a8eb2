"""The workbook as a trainee sees it, in real JupyterLab and in Voilà (headless Chromium).

One released workbook with a single choice, an observation log, an upload,
a rating and an optional comment, due on the class day. In both views: every
question shows its number as the progress panel names it, the due time is
shown in the course's zone, the radio circles sit on their labels' line,
observation labels are whole, and the upload button names the file types.
Handing in with open items asks first; the optional comment never blocks
全部完成, and once every required item is answered the hand-in goes straight
through.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import _code, _md, launch_chromium, python_notebook, write_course  # noqa: E402
from servers import wait_for  # noqa: E402
from test_workbook_browser import PARAMETERS, _answers, lab_server  # noqa: E402

pytestmark = pytest.mark.browser

OBS_FIELDS = ["看到了什么（一件展品或一个场景的细节）", "听到了什么（一个人物、一句原话）"]


def _notebook() -> nbformat.NotebookNode:
    return python_notebook(
        [
            _md("# 现场教学：观摩记录"),
            _code(PARAMETERS, "parameters"),
            _code("from kit.questions import ask, key"),
            _code('ask.choice("qc", "诉求 A 应归入哪一类？", ["咨询", "求助", "投诉"])'),
            _code('key("qc", "求助")', "key"),
            _code(f'ask.observation("qo", "观摩记录", fields={OBS_FIELDS!r})'),
            _code('ask.upload("qu", "上传课题报告", accept=".pdf,.docx", points=5)'),
            _code('ask.rating("qr", "本课收获如何？")'),
            _code('ask.text("qr-comment", "意见和建议（选填）", points=0)'),
        ]
    )


@pytest.fixture
def released(tmp_path: Path):
    """The course built and released with a due time; the trainee's copy in lab/."""
    from kit.builder import build
    from kit.workbook import release

    root = write_course(tmp_path / "course", cohorts={"c1": 0.05})
    nbformat.write(_notebook(), root / "cases/coop.ipynb")
    sched = root / "cohorts/c1/schedule.csv"
    sched.write_text(
        sched.read_text("utf-8").replace(",assessed,,", ",assessed,2026-03-02T22:00,"), "utf-8"
    )
    assert not build(root, "c1").failures
    assert not release(root, "c1", trainees=["t01"]).failures
    lab = tmp_path / "lab"
    lab.mkdir()
    shutil.copy(root / "exchange/c1/outbox/t01/coop.ipynb", lab / "coop.ipynb")
    return root, lab


@pytest.fixture
def jupyterlab(released, tmp_path: Path):
    root, lab = released
    with lab_server(lab, tmp_path) as (base, token):
        yield root, lab, base, token


LAYOUT_JS = """() => {
  const out = {numbers: {}, misaligned: [], cut: [], upload: '', due: ''};
  for (const q of document.querySelectorAll('.casekit-q')) {
    const id = [...q.classList].find(c => c.startsWith('casekit-q-') && c !== 'casekit-q');
    const n = q.querySelector('.casekit-number');
    if (id && n) out.numbers[id.slice(10)] = n.textContent.trim();
  }
  for (const label of document.querySelectorAll('.casekit-q .widget-radio-box label')) {
    const input = label.querySelector('input');
    const text = [...label.childNodes].find(c => c.nodeType === 3 && c.textContent.trim());
    if (!input || !text) continue;
    const r = document.createRange(); r.selectNodeContents(text);
    const t = r.getBoundingClientRect(), i = input.getBoundingClientRect();
    const off = Math.abs((t.top + t.bottom) / 2 - (i.top + i.bottom) / 2);
    if (off > 3) out.misaligned.push(text.textContent.trim() + ' ' + off.toFixed(1) + 'px');
  }
  for (const f of document.querySelectorAll('.casekit-q .casekit-field')) {
    if (f.scrollWidth > f.clientWidth + 1 || f.getClientRects().length === 0) out.cut.push(f.textContent);
  }
  const up = document.querySelector('.casekit-q-qu button');
  out.upload = up ? up.textContent : '';
  const due = document.querySelector('.casekit-due');
  out.due = due ? due.textContent : '';
  out.fields = [...document.querySelectorAll('.casekit-q .casekit-field')].map(f => f.textContent);
  return out;
}"""


def _check_layout(page) -> None:
    got = page.evaluate(LAYOUT_JS)
    assert got["numbers"] == {
        "qc": "第1题",
        "qo": "第2题",
        "qu": "第3题",
        "qr": "第4题",
        "qr-comment": "第5题",
    }, got["numbers"]
    assert got["misaligned"] == [], got["misaligned"]
    assert got["fields"] == OBS_FIELDS and got["cut"] == [], got
    assert ".pdf" in got["upload"] and ".docx" in got["upload"], got["upload"]
    assert "2026-03-02 22:00（北京时间）" in got["due"], got["due"]


def test_workbook_in_voila_and_jupyterlab(jupyterlab) -> None:
    from playwright.sync_api import sync_playwright

    root, lab, base, token = jupyterlab
    store = lab / "coop.answers.json"
    inbox = root / "exchange/c1/inbox/t01/coop"
    with sync_playwright() as p:
        browser = launch_chromium(p)
        # tall, so that JupyterLab (which renders only the cells in view) shows every question
        page = browser.new_context(viewport={"width": 1200, "height": 3200}).new_page()
        page.set_default_timeout(90_000)
        try:
            # ---- Voilà: the workbook is ready on open, no code shown
            page.goto(f"{base}/voila/render/coop.ipynb?token={token}")
            page.wait_for_selector(".casekit-q-qr-comment", state="attached")
            page.wait_for_selector(".casekit-progress", state="attached")
            _check_layout(page)
            page.locator(".casekit-q-qc label", has_text="求助").click()
            wait_for(lambda: _answers(store).get("qc") == "求助", 30, "the choice to be stored")
            # handing in with open items asks first, naming them as the panel does
            page.locator(".casekit-progress button", has_text="提交作业").click()
            warning = page.wait_for_selector(".casekit-confirm :text('还有')")
            assert "第2题" in warning.inner_text() and "第5题" not in warning.inner_text()
            page.locator(".casekit-confirm button", has_text="继续作答").click()
            page.wait_for_selector(".casekit-confirm", state="hidden")
            assert not inbox.exists() or not any(inbox.iterdir())

            # ---- JupyterLab: the same workbook, the same rules
            page.goto(f"{base}/lab/tree/coop.ipynb?token={token}&reset")
            page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
            page.wait_for_function(
                "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " const k = w && w.sessionContext && w.sessionContext.session"
                " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }"
            )
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            page.wait_for_selector(".casekit-q-qr-comment", state="attached")
            page.wait_for_selector(".casekit-progress", state="attached")
            _check_layout(page)
            area = page.locator(".casekit-q-qo textarea").first
            area.click()
            page.keyboard.type("讲解员用一张老照片讲清了纪律")
            with page.expect_file_chooser() as chooser:
                page.locator(".casekit-q-qu button").click()
            chooser.value.set_files(
                files=[{"name": "报告.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4"}]
            )
            page.locator(".casekit-q-qr .widget-toggle-button", has_text="4").click()
            wait_for(lambda: len(_answers(store)) == 4, 30, "four answers to be stored")
            # the optional comment is left empty: everything required is done
            page.wait_for_selector(".casekit-all-done", state="attached")
            page.locator(".casekit-progress button", has_text="提交作业").click()
            receipt = page.wait_for_selector(".casekit-receipt", state="attached")
            assert "已提交" in receipt.inner_text()
            assert page.locator(".casekit-confirm").is_hidden()
        except Exception:
            page.screenshot(path=str(lab.parent / "failure.png"), full_page=True)
            raise
        browser.close()
    assert len([d for d in inbox.iterdir() if not d.name.startswith(".")]) == 1
