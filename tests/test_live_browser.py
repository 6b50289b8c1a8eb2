"""The live class in Chromium: a sample-course session, 34 trainees answer, the projector draws it.

The sample course's hotline drill (2026-autumn, session blue-2: choice,
multiple choice, number, short text, ranking, essay, rating) is built and
released. `casekit live` runs as the instructor runs it (its command line, a
real server); the page is driven in headless Chromium with every request
recorded (all must go to 127.0.0.1). 33 trainees answer through their
workbook runtime and its widgets (the path a workbook takes: the answer
store, then the exchange); the 34th works in a real JupyterLab in a second
tab. The test opens, closes and reveals with the page's buttons and checks
what the page draws and what each workbook shows.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from classroom import (  # noqa: E402
    CALLBACK,
    STAFF,
    TRIAGE,
    JupyterLab,
    live_url,
    runtime_of,
    spec_of,
    wait_for,
)
from conftest import CASEKIT, launch_chromium  # noqa: E402

from kit.workbook.livelink import banner_of  # noqa: E402

pytestmark = pytest.mark.browser

COHORT, SESSION = "2026-autumn", "blue-2"
N = 34
# 33 trainees in their runtimes; the 34th (in JupyterLab) clicks 供水 (the key)
CATEGORY = ["供水"] * 15 + ["供暖"] * 10 + ["燃气"] * 5 + ["物业"] * 3
DEPT = ["县热力公司"] * 14 + ["热力公司"] * 6 + ["县交通运输局"] * 8 + ["县生态环境局"] * 5
ORDERS = [["县热力公司", "县生态环境局", "县交通运输局"], ["县热力公司", "县交通运输局", "县生态环境局"],
          ["县交通运输局", "县热力公司", "县生态环境局"]]  # fmt: skip
REPORTS = (TRIAGE * 3)[:14] + (STAFF * 2)[:10] + (CALLBACK * 2)[:9]  # known groups of 14, 10, 9


def _start_live(root: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [*CASEKIT, "live", COHORT, SESSION, "-C", str(root), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if k != "CASEKIT_MODE"},
    )  # fmt: skip
    line = proc.stdout.readline()
    # the command speaks the course's language (Chinese): "课堂实时页面：http://…"
    assert line.startswith("课堂实时页面："), (line, proc.stderr.read())
    return proc, live_url(line)


def test_live_view_of_a_sample_session_in_chromium(sample_course: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from kit.builder import build
    from kit.course import load_course
    from kit.questions import QuestionView
    from kit.workbook import release

    root = sample_course
    assert not build(root, COHORT, sessions=[SESSION], progress=False).failures
    assert not release(root, COHORT, sessions=[SESSION]).failures
    trainees = list(load_course(root).cohort(COHORT).roster.index)
    assert len(trainees) == N
    lab = tmp_path / "lab"
    lab.mkdir()
    shutil.copy(root / f"exchange/{COHORT}/outbox/{trainees[-1]}/{SESSION}.ipynb", lab)
    proc, url = _start_live(root)
    requests: list[str] = []
    try:
        with JupyterLab(lab, tmp_path) as jl, sync_playwright() as p:
            browser = launch_chromium(p)
            ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
            ctx.on("request", lambda r: requests.append(r.url))
            ctx.route("**/*", lambda route: route.continue_()
                      if urlparse(route.request.url).hostname == "127.0.0.1" else route.abort())  # fmt: skip
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            page.goto(url)
            page.wait_for_selector("#stage[data-qid]")
            rts = [runtime_of(root, t, SESSION, cohort=COHORT) for t in trainees[:-1]]
            spec = spec_of(root, "b2-category", SESSION, COHORT)
            views = [QuestionView(spec, rt) for rt in rts]
            lab_page = ctx.new_page()
            lab_page.set_default_timeout(120_000)
            _open_workbook(lab_page, jl)
            try:
                _class(page, lab_page, root, rts, views)
            except Exception:
                page.screenshot(path=str(tmp_path / "live-failure.png"))
                lab_page.screenshot(path=str(tmp_path / "lab-failure.png"))
                raise
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the class ends
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    state = root / f"exchange/{COHORT}/live/{SESSION}.state.json"
    assert json.loads(state.read_text("utf-8"))["running"] is False
    assert requests and all(urlparse(u).hostname == "127.0.0.1" for u in requests), [
        u for u in requests if urlparse(u).hostname != "127.0.0.1"
    ]


def _open_workbook(lab_page, jl) -> None:
    lab_page.goto(f"{jl.base}/lab/tree/{SESSION}.ipynb?token={jl.token}&reset")
    lab_page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
    lab_page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session"
        " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }"
    )
    lab_page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    lab_page.wait_for_selector(".casekit-q-b2-category", state="attached")


def _bars(page) -> dict[str, int]:
    return page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#chart .bar')]"
        ".map(b => [b.dataset.label, +b.dataset.count]).filter(([l, n]) => n > 0))"
    )


def _show(page, qid: str, n: int | None = None) -> None:
    page.locator(f"nav button[data-qid='{qid}']").click()
    page.wait_for_selector(f"#stage[data-qid='{qid}']")
    if n is not None:
        page.wait_for_function(f"() => document.querySelector('#count').dataset.n === '{n}'")


def _class(page, lab_page, root: Path, rts, views) -> None:
    radio = lambda v: v.inputs["radio"]  # noqa: E731
    urgent = spec_of(root, "b2-urgent", SESSION, COHORT)["options"]
    wait_for(lambda: all(rt.live_link().running for rt in rts), 30, "workbooks to see the class")

    # -- open the first question with the page's button; every workbook shows it
    _show(page, "b2-category")
    page.locator("#b-open").click()
    page.wait_for_selector("#stage[data-status='open']")
    wait_for(lambda: all("课堂作答中" in banner_of(v) for v in views), 30, "open banners")
    lab_q = lab_page.locator(".casekit-q-b2-category")
    lab_q.locator(".casekit-live-open").wait_for(state="attached")

    # -- the room answers: widgets as a click sets them, the rest through the runtime
    for i, (rt, v) in enumerate(zip(rts, views, strict=True)):
        radio(v).value = CATEGORY[i]
        rt.save("b2-urgent", [urgent[1 + i % 2], urgent[4]], "multi")
        rt.save("b2-overdue-share", 15.0 + i % 9, "number")
        rt.save("b2-dept", DEPT[i], "text")
        rt.save("b2-dept-order", ORDERS[i % 3], "ranking")
        rt.save("b2-eval", 1 + i % 5, "rating")
        rt.save("b2-report", REPORTS[i], "essay")
    lab_q.locator("label", has_text="供水").click()  # the 34th trainee, a real click in JupyterLab
    page.wait_for_selector(f"#answered[data-n='{N}']")
    page.wait_for_function(f"() => document.querySelector('#count').dataset.n === '{N}'")
    assert _bars(page) == {"供水": 16, "供暖": 10, "燃气": 5, "物业": 3}
    assert page.locator("#answered").inner_text() == f"已作答 {N} / {N} 人"

    # -- before the reveal the key is nowhere: not drawn, not in the page's data, not published
    assert (
        page.locator("#chart .bar.key").count() == 0 and page.locator("#keyline").inner_text() == ""
    )
    snap = page.evaluate("() => fetch('api/snapshot?token=' + new URLSearchParams(location.search)"
                         ".get('token')).then(r => r.text())")  # fmt: skip
    assert '"key"' not in snap
    published = (root / f"exchange/{COHORT}/live/{SESSION}.state.json").read_text("utf-8")
    assert '"key"' not in published

    # -- close: no more answers count, the widgets disable (JupyterLab too)
    page.locator("#b-close").click()
    page.wait_for_selector("#stage[data-status='closed']")
    wait_for(lambda: all(radio(v).disabled for v in views), 30, "closed widgets")
    assert "已截止" in banner_of(views[0])
    lab_q.locator(".casekit-live-closed").wait_for(state="attached")
    wait_for(lambda: lab_q.locator("input[type=radio]").first.is_disabled(), 30, "lab radio off")
    rts[0].save("b2-category", "物业", "choice")  # a late change stays in the workbook only
    time.sleep(1.5)
    assert _bars(page) == {"供水": 16, "供暖": 10, "燃气": 5, "物业": 3}

    # -- reveal: the key and how many got it right; the workbooks say 已揭晓
    page.locator("#b-reveal").click()
    page.wait_for_selector("#chart .bar.key[data-label='供水']")
    assert page.locator("#chart .bar.key").count() == 1
    keyline = page.locator("#keyline").inner_text()
    assert "正确答案：供水" in keyline and "答对 16 人" in keyline
    wait_for(lambda: all("已揭晓" in banner_of(v) for v in views), 30, "revealed")
    lab_q.locator(".casekit-live-revealed").wait_for(state="attached")
    # assessed: the room sees the key, the workbooks do not get it
    assert "参考答案" not in banner_of(views[0])

    # -- the other charts match the answers given
    n = N - 1
    _show(page, "b2-urgent", n)
    want = {urgent[1]: 17, urgent[2]: 16, urgent[4]: n}
    assert _bars(page) == want
    _show(page, "b2-eval", n)
    labels = spec_of(root, "b2-eval", SESSION, COHORT)["labels"]  # 收获很小 … 收获很大
    assert _bars(page) == {
        labels[k - 1]: sum(1 + i % 5 == k for i in range(n)) for k in range(1, 6)
    }
    _show(page, "b2-overdue-share", n)
    cols = page.evaluate(
        "() => [...document.querySelectorAll('.hist .col')].map(c => +c.dataset.count)"
    )
    assert sum(cols) == n and len(cols) >= 4
    _show(page, "b2-dept-order", n)
    means = page.evaluate("() => Object.fromEntries([...document.querySelectorAll('.rank')]"
                          ".map(r => [r.dataset.label, +r.dataset.mean]))")  # fmt: skip
    for item in ORDERS[0]:
        assert means[item] == pytest.approx(
            sum(ORDERS[i % 3].index(item) + 1 for i in range(n)) / n
        )
    _show(page, "b2-report", n)
    sizes = page.evaluate(
        "() => [...document.querySelectorAll('.group')].map(g => +g.dataset.count)"
    )
    assert sizes == [14, 10, 9]
    examples = page.locator(".group .example").all_inner_texts()
    assert examples[0] in TRIAGE and examples[1] in STAFF and examples[2] in CALLBACK
    # a short text with a key: the groups, and after the reveal the right one marked
    _show(page, "b2-dept", n)
    page.locator("#b-reveal").click()
    page.wait_for_selector(".group.key")
    cards = page.evaluate("() => [...document.querySelectorAll('.group')]"
                          ".map(g => [+g.dataset.count, g.classList.contains('key')])")  # fmt: skip
    assert [c for c, _ in cards] == [20, 8, 5] and [k for _, k in cards] == [True, False, False]
