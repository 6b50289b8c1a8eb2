"""Live class: how long from a trainee's answer to the projector page showing it, 60 trainees.

A course with a choice question is built and released to 60 trainees;
`casekit live` runs as the instructor runs it (its command line, a real
server); the page is open in headless Chromium. 60 trainees answer through
their workbook runtime (the answer store, then the exchange: the path a
workbook in JupyterLab takes), all in this process, once spread over 15
seconds and once all within one second (the teacher says "now"). For the
k-th answer the latency is the time from its save to the first time the page
drew at least k answers (both clocks are this machine's). There is no tool
to compare with (nbgrader, otter-grader and jupyterquiz have no live view);
the target is the issue's: within 2 s.

    python bench/bench_live.py [-n 60] [--spread 15]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from classroom import (  # noqa: E402
    LIVE_CELLS,
    class_course,
    live_url,
    runtime_of,
    trainee_ids,
    wait_for,
)
from conftest import CASEKIT, launch_chromium  # noqa: E402


def answer(rts: list, qid: str, options: list, spread: float, seed: int) -> list[float]:
    """Every trainee answers once at a random moment within `spread` seconds; their save times."""
    rng = random.Random(seed)
    at = sorted(rng.uniform(0, spread) for _ in rts)
    saved: list[float] = []
    lock = threading.Lock()

    def one(rt, delay: float) -> None:
        time.sleep(delay)
        t = time.time()
        rt.save(qid, rng.choice(options), "choice")
        with lock:
            saved.append(t)

    threads = [threading.Thread(target=one, args=(rt, d)) for rt, d in zip(rts, at, strict=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sorted(saved)


def latencies(page, qid: str, saved: list[float], base: int) -> list[float]:
    wait_for(
        lambda: page.evaluate(
            f"() => window.__casekit.updates.some(u => u.qid === '{qid}' && u.n >= {base + len(saved)})"
        ),
        30,
        "the page to show every answer",
    )
    ups = page.evaluate(f"() => window.__casekit.updates.filter(u => u.qid === '{qid}')")
    out = []
    for k, t in enumerate(saved, base + 1):
        shown = min(u["at"] for u in ups if u["n"] >= k) / 1000
        out.append(shown - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=60, help="trainees (default 60)")
    ap.add_argument("--spread", type=float, default=15.0, help="seconds the paced answers take")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from kit.workbook import release

    work = Path(tempfile.mkdtemp(prefix="casekit-bench-live-"))
    root = class_course(work / "course", *LIVE_CELLS, trainees=args.n)
    assert not release(root, "c1").failures
    env = {k: v for k, v in os.environ.items() if k != "CASEKIT_MODE"}
    proc = subprocess.Popen(
        [*CASEKIT, "live", "c1", "coop", "-C", str(root), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    url = live_url(proc.stdout.readline())
    results = {}
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            rts = [runtime_of(root, t) for t in trainee_ids(args.n)]
            for rt in rts:
                rt.live_link()
            wait_for(lambda: all(rt.live_link().running for rt in rts), 30, "the class")
            for label, qid, options, spread in (
                (f"paced ({args.spread:g} s)", "q-kind", ["咨询", "求助", "投诉"], args.spread),
                ("burst (1 s)", "q-eval", [1, 2, 3, 4, 5], 1.0),
            ):
                page.locator(f"nav button[data-qid='{qid}']").click()
                page.locator("#b-open").click()
                page.wait_for_selector(f"#stage[data-qid='{qid}'][data-status='open']")
                saved = answer(rts, qid, options, spread, seed=len(results))
                results[label] = latencies(page, qid, saved, 0)
            sent = sum(rt.live_link().sent for rt in rts)
            failed = sum(rt.live_link().failed for rt in rts)
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nlive view, {args.n} trainees answering; from a trainee's save to the page drawing it")
    print(
        f"{'scenario':<16} {'answers':>8} {'median s':>9} {'p95 s':>7} {'max s':>7} {'p95 / 2 s':>10}"
    )
    for label, lat in results.items():
        lat = sorted(lat)
        p95 = lat[int(0.95 * (len(lat) - 1))]
        print(f"{label:<16} {len(lat):>8} {statistics.median(lat):>9.2f} {p95:>7.2f} "
              f"{lat[-1]:>7.2f} {p95 / 2:>10.2f}")  # fmt: skip
    print(f"posts sent {sent}, failed {failed}")


if __name__ == "__main__":
    main()
