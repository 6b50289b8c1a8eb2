"""The classroom hub under a class: open-to-ready in Chromium, and N trainees answering at once.

    sudo .venv/bin/python bench/bench_hub.py [--trainees 60] [--updates 5] [--opens 0]

0. **Class start.** All N trainees sign in at the same moment: N-1 light
   clients (HTTP as a browser: the sign-in form, every redirect, a reload when
   a page asks for one, then the workbook rendered by Voilà in a new kernel)
   and one real Chromium (sign-in page to every question live). Sign-in to
   ready per trainee, stuck trainees, memory per trainee (PSS of servers and
   kernels). Once with nothing started (cold), once after `casekit hub warm`.
1. **Open to ready** (``--opens``). A trainee signs in through Chromium; the workbook is
   opened in Voilà (what trainees get) until every question and 提交作业 are
   live; and in JupyterLab until, after Run All, the same widgets exist (what
   trainees had). Where the time goes comes from a kernel run of the same
   workbook (kernel start, each cell).
2. **Load.** N trainees, each with their own real server and kernel, answer
   at once through the server's own APIs: the contents API reads the
   workbook, a kernel is started through the sessions API, every code cell is
   executed over the kernel websocket (as Voilà does), and the text answer is
   changed by widget comm messages (as a browser does), `--updates` times.
   Save latency is from sending a change to the kernel reporting idle for it.
   Then every answer store must hold each trainee's last value: 0 lost.
   The hub's, proxy's and exchange service's CPU over the load phase is read
   from /proc.

Writes ``bench/results/hub.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

COHORT = "benchc1"
#: This run's accounts (system users are machine-wide: no other run or test has these names).
PREFIX = f"b{uuid.uuid4().hex[:6]}-"
OWNER = f"{PREFIX}owner"


def _course(base: Path, n: int) -> Path:
    import nbformat
    from conftest import write_course
    from test_hub import _course_venv, _notebook

    from kit.builder import build

    root = write_course(base / "course", cohorts={COHORT: 0.05}, prefix=PREFIX)
    _course_venv(root)  # the README's layout: `.venv` inside the course, as `make setup` leaves it
    nbformat.write(_notebook(), root / "cases/coop.ipynb")
    rows = "".join(f"{PREFIX}{i:03d},学员{i:03d},办公室,东山镇,A\n" for i in range(1, n + 1))
    (root / "cohorts" / COHORT / "roster.csv").write_text(
        "id,name,department,township,group\n" + rows, encoding="utf-8"
    )
    assert build(root, COHORT, progress=False).ok
    return root


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pids(state: Path) -> dict[str, int]:
    out = {
        "hub": int((state / "jupyterhub.pid").read_text()),
        "proxy": int((state / "proxy.pid").read_text()),
    }
    svc = subprocess.run(
        ["pgrep", "-u", OWNER, "-f", "kit.hub.service"], capture_output=True, text=True
    )
    if svc.stdout.split():
        out["exchange"] = int(svc.stdout.split()[0])
    return out


# ------------------------------------------------------------ open to ready


def open_to_ready(url: str, user: str, password: str, opens: int) -> dict:
    from conftest import launch_chromium
    from playwright.sync_api import sync_playwright

    qids = ("q-kind", "q-share", "q-word", "q-code", "q-visit", "q-photo")
    voila, lab = [], []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(180_000)
        page.goto(f"{url}/hub/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password)
        page.click("#login_submit")
        page.wait_for_url(f"**/user/{user}/**")
        for _ in range(opens):
            t0 = time.monotonic()
            page.goto(f"{url}/user/{user}/voila/render/coop.ipynb")
            for q in qids:
                page.wait_for_selector(f".casekit-q-{q}", state="visible")
            page.wait_for_selector(".casekit-progress button:has-text('提交作业')", state="visible")
            voila.append(time.monotonic() - t0)
        for _ in range(max(1, opens - 1)):
            t0 = time.monotonic()
            page.goto(f"{url}/user/{user}/lab/tree/coop.ipynb?reset")
            page.wait_for_function(
                "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " const k = w && w.sessionContext && w.sessionContext.session"
                " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }"
            )
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            for q in qids:
                page.wait_for_selector(f".casekit-q-{q}", state="attached")
            page.wait_for_selector(".casekit-progress", state="attached")
            lab.append(time.monotonic() - t0)
        browser.close()
    return {"voila_s": voila, "lab_run_all_s": lab}


def where_time_goes(workbook: Path) -> dict:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(workbook, as_version=4)
    t0 = time.monotonic()
    client = NotebookClient(
        nb, kernel_name="python3", resources={"metadata": {"path": str(workbook.parent)}}
    )
    out: dict = {}
    with client.setup_kernel():
        out["kernel_start_s"] = time.monotonic() - t0
        cells = []
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                s = time.monotonic()
                client.execute_cell(cell, i)
                cells.append(time.monotonic() - s)
        out["setup_cell_s"] = cells[0]
        out["other_cells_s"] = sum(cells[1:])
    return out


# --------------------------------------------------------------------- load


async def _trainee(
    url: str,
    admin: str,
    user: str,
    updates: int,
    lat: list,
    errors: list,
    opening: asyncio.Semaphore,
    ready: list,
    go: asyncio.Event,
) -> str | None:
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    from tornado.websocket import websocket_connect

    http = AsyncHTTPClient()
    auth = {"Authorization": f"token {admin}"}
    base = f"{url}/user/{user}"
    released = False
    try:
        await opening.acquire()  # kernels start a few at a time; the answering is all at once
        r = await http.fetch(
            f"{base}/api/contents/coop.ipynb",
            headers=auth,
            request_timeout=300,
            connect_timeout=300,
        )
        nb = json.loads(r.body)["content"]
        r = await http.fetch(
            f"{base}/api/sessions",
            method="POST",
            headers=auth,
            request_timeout=300,
            connect_timeout=300,
            body=json.dumps(
                {"path": "coop.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
            ),
        )
        kid = json.loads(r.body)["kernel"]["id"]
        ws = await websocket_connect(
            HTTPRequest(
                f"{base.replace('http', 'ws', 1)}/api/kernels/{kid}/channels",
                headers=auth,
                connect_timeout=300,
                request_timeout=300,
            ),
            max_message_size=50 * 2**20,
        )
        session = uuid.uuid4().hex
        models: dict[str, dict] = {}

        def message(channel: str, msg_type: str, content: dict) -> tuple[str, str]:
            mid = uuid.uuid4().hex
            doc = {
                "header": {"msg_id": mid, "msg_type": msg_type, "session": session, "username": user, "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": [],
            }  # fmt: skip
            return mid, json.dumps(doc)

        async def until_idle(mid: str) -> None:
            while True:
                raw = await asyncio.wait_for(ws.read_message(), 600)
                if raw is None:
                    raise RuntimeError("websocket closed")
                if isinstance(raw, bytes):
                    continue
                m = json.loads(raw)
                if m.get("msg_type") == "comm_open":
                    c = m["content"]
                    models[c["comm_id"]] = dict(c.get("data", {}).get("state", {}))
                elif m.get("msg_type") == "comm_msg":  # e.g. add_class after creation
                    c = m["content"]
                    if (c.get("data") or {}).get("method") == "update":
                        models.setdefault(c["comm_id"], {}).update(c["data"].get("state") or {})
                if (
                    m["parent_header"].get("msg_id") == mid
                    and m.get("msg_type") == "status"
                    and m["content"]["execution_state"] == "idle"
                ):
                    return

        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                mid, doc = message("shell", "execute_request", {"code": cell["source"], "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False})  # fmt: skip
                await ws.write_message(doc)
                await until_idle(mid)
        box = next(
            k for k, s in models.items() if "casekit-q-q-word" in (s.get("_dom_classes") or [])
        )

        def find_text(model_id: str) -> str | None:
            state = models.get(model_id, {})
            if state.get("_model_name") == "TextModel":
                return model_id
            for child in state.get("children") or []:
                hit = find_text(child.replace("IPY_MODEL_", ""))
                if hit:
                    return hit
            return None

        text = find_text(box)
        opening.release()
        released = True
        ready.append(user)
        await go.wait()
        last = None
        for k in range(updates):
            last = f"{user}-答案-{k}"
            mid, doc = message("shell", "comm_msg", {"comm_id": text, "data": {"method": "update", "state": {"value": last}, "buffer_paths": []}})  # fmt: skip
            t0 = time.monotonic()
            await ws.write_message(doc)
            await until_idle(mid)
            lat.append(time.monotonic() - t0)
        ws.close()
        return last
    except Exception as exc:  # one trainee's failure is counted, never sinks the run
        errors.append(f"{user}: {type(exc).__name__}: {exc}")
        if not released:
            opening.release()
            ready.append(user)
        return None


async def _load(url: str, admin: str, users: list[str], updates: int) -> tuple[dict, list, list]:
    from tornado.httpclient import AsyncHTTPClient

    AsyncHTTPClient.configure(None, max_clients=len(users) + 10)
    lat: list[float] = []
    errors: list[str] = []
    opening, ready, go = asyncio.Semaphore(6), [], asyncio.Event()

    async def start_together() -> float:
        while len(ready) < len(users):
            await asyncio.sleep(0.2)
        go.set()  # every workbook is open: now all answer at once
        return time.monotonic()

    starter = asyncio.ensure_future(start_together())
    finals = await asyncio.gather(
        *(_trainee(url, admin, u, updates, lat, errors, opening, ready, go) for u in users)
    )
    answering_from = await starter
    return dict(zip(users, finals, strict=True)), lat, errors, answering_from


# -------------------------------------------------------------- class start


def _sign_in_to_ready(url: str, user: str, password: str, deadline: float) -> float | None:
    """One trainee's browser, lightly: sign in, follow the hub to the server, open the workbook.

    What a browser does: the sign-in form (with its _xsrf), every redirect, a
    reload whenever a page asks for one (the spawn-pending page's Refresh
    header), then the workbook in Voilà, which runs it in a new kernel before
    answering. Seconds from the sign-in page to the rendered workbook; None
    if the trainee is still waiting at `deadline` (stuck).
    """
    import re

    import requests

    s = requests.Session()
    t0 = time.monotonic()
    try:
        r = s.get(f"{url}/hub/login", timeout=300)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text)
        form = {"username": user, "password": password, **({"_xsrf": xsrf[1]} if xsrf else {})}
        r = s.post(f"{url}/hub/login", data=form, timeout=300)
        while f"/user/{user}/" not in r.url and time.monotonic() < deadline:
            wait = r.headers.get("Refresh", "").split(";")[0].strip()
            time.sleep(float(wait) if wait else 2.0)  # no Refresh: a browser would sit and wait
            r = s.get(r.url, timeout=300)
        if f"/user/{user}/" not in r.url:
            return None
        left = max(1.0, deadline - time.monotonic())
        r = s.get(f"{url}/user/{user}/voila/render/coop.ipynb", timeout=(30, left))
        if r.status_code != 200 or "widget-view" not in r.text:
            return None
        return time.monotonic() - t0
    except requests.RequestException:
        return None


def _chromium_open_to_ready(url: str, user: str, password: str, limit: float) -> float | None:
    """A real Chromium in the same class start: sign-in page to every question live in Voilà."""
    from conftest import launch_chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(limit * 1000)
        t0 = time.monotonic()
        try:
            page.goto(f"{url}/hub/login")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", password)
            page.click("#login_submit")
            page.wait_for_url(f"**/user/{user}/**")
            page.goto(f"{url}/user/{user}/voila/render/coop.ipynb")
            for q in ("q-kind", "q-share", "q-word", "q-code", "q-visit", "q-photo"):
                page.wait_for_selector(f".casekit-q-{q}", state="visible")
            page.wait_for_selector(".casekit-progress button:has-text('提交作业')", state="visible")
            return time.monotonic() - t0
        except Exception:  # counted as stuck, never sinks the run
            return None
        finally:
            browser.close()


def class_start(url: str, users: list[str], passwords: dict[str, str], limit: float = 600) -> dict:
    """Every trainee signs in at the same moment (one in Chromium); sign-in-to-ready figures.

    A trainee not ready after `limit` seconds is stuck (and the run goes on).
    """
    from concurrent.futures import ThreadPoolExecutor, wait

    deadline = time.monotonic() + limit
    pool = ThreadPoolExecutor(max_workers=len(users))
    futures = {
        users[0]: pool.submit(_chromium_open_to_ready, url, users[0], passwords[users[0]], limit)
    }
    for u in users[1:]:
        futures[u] = pool.submit(_sign_in_to_ready, url, u, passwords[u], deadline)
    wait(list(futures.values()), timeout=limit + 30)
    pool.shutdown(wait=False, cancel_futures=True)
    times = {u: f.result() if f.done() and not f.exception() else None for u, f in futures.items()}
    done = sorted(v for v in times.values() if v is not None)
    return {
        "trainees": len(users),
        "ready": len(done),
        "stuck": sorted(u for u, v in times.items() if v is None),
        "median_s": statistics.median(done) if done else None,
        "p95_s": statistics.quantiles(done, n=20)[18] if len(done) >= 20 else max(done or [0]),
        "max_s": max(done) if done else None,
        "chromium_s": times[users[0]],
    }


def memory_per_trainee(users: list[str]) -> dict:
    """Proportional memory (PSS) of the trainees' processes: servers and kernels, per trainee."""
    import pwd

    uids = {pwd.getpwnam(u).pw_uid for u in users}
    servers = kernels = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if proc.stat().st_uid not in uids:
                continue
            pss = next(
                int(line.split()[1])
                for line in (proc / "smaps_rollup").read_text().splitlines()
                if line.startswith("Pss:")
            )
            if b"ipykernel" in (proc / "cmdline").read_bytes():
                kernels += pss
            else:
                servers += pss
        except (OSError, StopIteration, ValueError):
            continue
    n = len(users)
    return {
        "server_mb": servers / n / 1024,
        "kernels_mb": kernels / n / 1024,
        "total_mb": (servers + kernels) / n / 1024,
    }


def _stop_all(url: str, admin: str, users: list[str]) -> None:
    """Every trainee's server stopped through the hub (as after a class)."""
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    auth = {"Authorization": f"token {admin}"}
    for u in users:
        try:
            urlopen(Request(f"{url}/hub/api/users/{u}/server", method="DELETE", headers=auth), timeout=120)  # fmt: skip
        except HTTPError:
            pass
    end = time.monotonic() + 600
    while time.monotonic() < end:
        with urlopen(Request(f"{url}/hub/api/users", headers=auth), timeout=60) as r:
            if not any(d.get("servers") for d in json.loads(r.read()) if d["name"] in users):
                return
        time.sleep(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trainees", type=int, default=60)
    ap.add_argument("--updates", type=int, default=5)
    ap.add_argument("--opens", type=int, default=0, help="Voilà and JupyterLab opens, one trainee")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_hub makes system users: run it as root")
    from test_hub import Classroom, _slips

    import kit
    from kit.course import load_course
    from kit.hub.deploy import admin_token, state_dir

    base = Path(tempfile.mkdtemp(prefix="casekit-bench-hub-", dir="/var/tmp"))
    base.chmod(0o755)
    root = _course(base, args.trainees)
    port = int(os.environ.get("CASEKIT_BENCH_PORT", "18765"))
    users = [f"{PREFIX}{i:03d}" for i in range(1, args.trainees + 1)]
    result: dict = {
        "trainees": args.trainees,
        "updates_each": args.updates,
        "cores": os.cpu_count(),
    }
    try:
        # as the README: `sudo casekit hub ...` typed in the course folder, its own .venv
        room = Classroom(root, base, PREFIX, owner=OWNER)
        passwords = _slips(_hub(room, "config", "--port", str(port)).stdout)
        # JupyterLab needs its app exposed for the Run All baseline (plan.json keeps extra args)
        state = state_dir(load_course(root), COHORT)
        plan = json.loads((state / "plan.json").read_text())
        plan["server_args"] = ["--LabApp.expose_app_in_browser=True"]
        (state / "plan.json").write_text(json.dumps(plan))
        _hub(room, "start", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        admin = admin_token(root, COHORT)
        # 1. the class signs in at the bell, nothing started before
        result["cold"] = class_start(url, users, passwords)
        result["memory_workbook_open"] = memory_per_trainee(users)
        _write(result)
        print(json.dumps(result, ensure_ascii=False), flush=True)
        # 2. everybody answers at once through their kernels: nothing lost
        pids = _pids(state)
        cpu0, t0 = {k: _cpu(p) for k, p in pids.items()}, time.monotonic()
        finals, lat, errors, answering_from = asyncio.run(_load(url, admin, users, args.updates))
        wall = time.monotonic() - t0
        result["answering_s"] = time.monotonic() - answering_from
        cpu = {k: (_cpu(p) - cpu0[k]) / wall * 100 for k, p in pids.items()}
        lost = []
        for u, want in finals.items():
            store = base / "homes" / u / COHORT / "coop.answers.json"
            got = (
                json.loads(store.read_text())["answers"].get("q-word", {}).get("value")
                if store.exists()
                else None
            )
            if want is None or got != want:
                lost.append(u)
        result["load"] = {
            "wall_s": wall,
            "saves": len(lat),
            "save_latency_median_s": statistics.median(lat) if lat else None,
            "save_latency_p95_s": statistics.quantiles(lat, n=20)[18] if len(lat) >= 20 else None,
            "cpu_percent_of_one_core": cpu,
            "answers_lost": len(lost),
            "lost": lost[:10],
            "errors": errors[:10],
        }
        _write(result)
        # 3. the next class: servers warmed before the bell, then the class signs in
        _stop_all(url, admin, users)
        t0 = time.monotonic()
        warmed = _hub(room, "warm", "coop", check=False)
        result["warm"] = {"seconds": time.monotonic() - t0, "exit": warmed.returncode,
                          "said": (warmed.stdout + warmed.stderr)[-500:]}  # fmt: skip
        result["memory_warmed_idle"] = memory_per_trainee(users)
        result["warmed"] = class_start(url, users, passwords)
        _write(result)
        if args.opens:
            result["open"] = open_to_ready(url, users[0], passwords[users[0]], args.opens)
            result["where_time_goes"] = where_time_goes(
                base / "homes" / users[0] / COHORT / "coop.ipynb"
            )
            _write(result)
    finally:
        kit.hub(root, COHORT, "stop")
        kit.hub(root, COHORT, "remove-users", homes=base / "homes", owner=OWNER)
        subprocess.run(["userdel", OWNER], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False, indent=1))


def _hub(room: Any, action: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``sudo casekit hub ACTION benchc1 ARGS`` typed in the course folder (its own .venv)."""
    return room.casekit(
        "hub", action, COHORT, *args, "--homes", str(room.homes), "--owner", OWNER, check=check
    )


def _write(result: dict) -> None:
    """Keep what was measured before the (slow) clean-up of N servers."""
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "hub.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
