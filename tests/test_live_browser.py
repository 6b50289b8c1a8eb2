"""The live class in Chromium: 24 trainees answer, the projector page draws it, the workbooks follow.

`casekit live` runs as the instructor runs it (the command line, a real
server); the page is driven in headless Chromium with every request recorded
(all must go to 127.0.0.1). 23 trainees answer through their workbook runtime
and its widgets (the path a workbook takes: answer store, then the exchange);
one more works in a real JupyterLab in a second tab. The test opens, closes
and reveals questions with the page's buttons and checks what the page draws
and what each workbook shows.
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
    LIVE_CELLS,
    STAFF,
    TRIAGE,
    JupyterLab,
    class_course,
    runtime_of,
    spec_of,
    trainee_ids,
    wait_for,
)
from conftest import CASEKIT, MARKERS, launch_chromium  # noqa: E402

pytestmark = pytest.mark.browser

N = 24
KINDS = ["咨询"] * 5 + ["求助"] * 12 + ["投诉"] * 6  # the 24th (求助) comes from JupyterLab
URGENT = [["停水", "供暖中断"], ["停水"], ["噪音", "路灯不亮"], ["供暖中断"]]
ORDERS = [["核实诉求", "分级派单", "回访群众"], ["分级派单", "核实诉求", "回访群众"],
          ["核实诉求", "回访群众", "分级派单"]]  # fmt: skip
ESSAYS = (
    (TRIAGE * 2)[:10] + (STAFF * 2)[:8] + CALLBACK[:5]
)  # groups of 10, 8 and 6 (with JupyterLab's)


def _start_live(root: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [*CASEKIT, "live", "c1", "coop", "-C", str(root), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if k != "CASEKIT_MODE"},
    )  # fmt: skip
    line = proc.stdout.readline()
    assert line.startswith("live: http://127.0.0.1:"), (line, proc.stderr.read())
    return proc, line.split(" ", 1)[1].strip()


def test_live_view_in_chromium_with_24_trainees(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from kit.questions import QuestionView
    from kit.workbook import release

    root = class_course(tmp_path / "course", *LIVE_CELLS, trainees=N)
    assert not release(root, "c1").failures
    lab = tmp_path / "lab"
    lab.mkdir()
    shutil.copy(root / f"exchange/c1/outbox/t{N}/coop.ipynb", lab / "coop.ipynb")
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
            trainees = trainee_ids(N)[:-1]
            rts = [runtime_of(root, t) for t in trainees]
            views = [QuestionView(spec_of(root, "q-kind"), rt) for rt in rts]
            lab_page = ctx.new_page()
            lab_page.set_default_timeout(90_000)
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
    state = json.loads((root / "exchange/c1/live/coop.state.json").read_text("utf-8"))
    assert state["running"] is False
    assert requests and all(urlparse(u).hostname == "127.0.0.1" for u in requests), [
        u for u in requests if urlparse(u).hostname != "127.0.0.1"
    ]


def _open_workbook(lab_page, jl) -> None:
    lab_page.goto(f"{jl.base}/lab/tree/coop.ipynb?token={jl.token}&reset")
    lab_page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
    lab_page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session"
        " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }"
    )
    lab_page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    lab_page.wait_for_selector(".casekit-q-q-kind", state="attached")


def _bars(page) -> dict[str, int]:
    return page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#chart .bar')]"
        ".map(b => [b.dataset.label, +b.dataset.count]))"
    )


def _show(page, qid: str) -> None:
    page.locator(f"nav button[data-qid='{qid}']").click()
    page.wait_for_selector(f"#stage[data-qid='{qid}']")


def _class(page, lab_page, root: Path, rts, views) -> None:
    radio = lambda v: v.inputs["radio"]  # noqa: E731
    wait_for(lambda: all(rt.live_link().running for rt in rts), 20, "workbooks to see the class")

    # -- open the first question with the page's button; every workbook shows it
    _show(page, "q-kind")
    page.locator("#b-open").click()
    page.wait_for_selector("#stage[data-status='open']")
    wait_for(lambda: all("课堂作答中" in v._live_banner.value for v in views), 20, "open banners")
    lab_q = lab_page.locator(".casekit-q-q-kind")
    lab_q.locator(".casekit-live-open").wait_for(state="attached")

    # -- the room answers: widgets as a click sets them, other questions through the runtime
    for i, (rt, v) in enumerate(zip(rts, views, strict=True)):
        radio(v).value = KINDS[i]
        rt.save("q-urgent", URGENT[i % 4], "multi")
        rt.save("q-output", 100.0 + i, "number")
        rt.save("q-order", ORDERS[i % 3], "ranking")
        rt.save("q-eval", 1 + i % 5, "rating")
        rt.save("q-plan", ESSAYS[i], "essay")
    lab_q.locator("label", has_text="求助").click()  # the JupyterLab trainee, by a real click
    page.wait_for_selector(f"#answered[data-n='{N}']")
    page.wait_for_function("() => document.querySelector('#count').dataset.n === '24'")
    assert _bars(page) == {"咨询": 5, "求助": 13, "投诉": 6}

    # -- before the reveal the key is nowhere: not drawn, not in the page's data
    assert page.locator("#chart .bar.key").count() == 0
    assert page.locator("#keyline").inner_text() == ""
    snap = page.evaluate("() => fetch('api/snapshot?token=' + new URLSearchParams(location.search)"
                         ".get('token')).then(r => r.text())")  # fmt: skip
    assert MARKERS["key"] not in snap and '"key"' not in snap
    assert MARKERS["key"] not in page.content()

    # -- close: no more answers count, the widgets disable (JupyterLab too)
    page.locator("#b-close").click()
    page.wait_for_selector("#stage[data-status='closed']")
    wait_for(lambda: all(radio(v).disabled for v in views), 20, "closed widgets")
    assert "已截止" in views[0]._live_banner.value
    lab_q.locator(".casekit-live-closed").wait_for(state="attached")
    wait_for(lambda: lab_q.locator("input[type=radio]").first.is_disabled(), 20, "lab radio off")
    rts[0].save("q-kind", "投诉", "choice")  # a late change stays in the workbook only
    time.sleep(1.5)
    assert _bars(page) == {"咨询": 5, "求助": 13, "投诉": 6}

    # -- reveal: the key and how many got it right; the workbooks say 已揭晓
    page.locator("#b-reveal").click()
    page.wait_for_selector("#chart .bar.key[data-label='求助']")
    assert page.locator("#chart .bar.key").count() == 1
    keyline = page.locator("#keyline").inner_text()
    assert "正确答案：求助" in keyline and "答对 13 人" in keyline
    wait_for(lambda: all("已揭晓" in v._live_banner.value for v in views), 20, "revealed")
    lab_q.locator(".casekit-live-revealed").wait_for(state="attached")
    assert (
        "参考答案" not in views[0]._live_banner.value
    )  # assessed: the room sees it, not the workbook

    # -- the other charts match the answers given
    _show(page, "q-urgent")
    counts = {
        o: sum(o in URGENT[i % 4] for i in range(N - 1))
        for o in ["停水", "噪音", "供暖中断", "路灯不亮"]
    }
    page.wait_for_function("() => document.querySelector('#count').dataset.n === '23'")
    assert _bars(page) == counts
    _show(page, "q-eval")
    assert _bars(page) == {str(k): sum(1 + i % 5 == k for i in range(N - 1)) for k in range(1, 6)}
    _show(page, "q-output")
    cols = page.evaluate(
        "() => [...document.querySelectorAll('.hist .col')].map(c => +c.dataset.count)"
    )
    assert sum(cols) == N - 1 and len(cols) >= 4
    _show(page, "q-order")
    means = page.evaluate("() => Object.fromEntries([...document.querySelectorAll('.rank')]"
                          ".map(r => [r.dataset.label, +r.dataset.mean]))")  # fmt: skip
    for item in ["核实诉求", "分级派单", "回访群众"]:
        want = sum(ORDERS[i % 3].index(item) + 1 for i in range(N - 1)) / (N - 1)
        assert means[item] == pytest.approx(want)
    _show(page, "q-plan")
    sizes = page.evaluate(
        "() => [...document.querySelectorAll('.group')].map(g => +g.dataset.count)"
    )
    assert sizes == [10, 8, 5]
    examples = page.locator(".group .example").all_inner_texts()
    assert examples[0] in TRIAGE and examples[1] in STAFF and examples[2] in CALLBACK
    page.screenshot(path=str(root.parent / "live.png"))
