"""A live class through the hub's exchange service: real JupyterHub, real accounts, real tokens.

`kit.hub` starts the hub for a practice session of three trainees and one
instructor (system users of their own, so this runs beside tests/test_hub.py).
Each account's single-user server is spawned so that its hub API token (the
one its kernels hold) can be read; nothing else of the servers is used. Then:
answers posted with a trainee's token are filed under that account at the
service's time; the instructor's live view (`LiveClass` over `HubExchange`)
publishes open, close and reveal through the service; a workbook runtime on
the hub path (``CASEKIT_EXCHANGE_URL`` and the token in its environment)
posts its answers and shows the state on its question widget; a close counts
what the service had received by then; trainees can neither read the room nor
set the state.

Needs root (it makes and removes system users); `make test` runs as root.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.request import Request, urlopen

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from classroom import runtime_of, spec_of, wait_for  # noqa: E402
from conftest import _code, case_notebook, write_course  # noqa: E402

pytestmark = [
    pytest.mark.hub,
    pytest.mark.xdist_group("live-hub"),
    pytest.mark.skipif(os.geteuid() != 0, reason="makes system users: run as root (make test)"),
]

COHORT = "lvhub"
SESSION = "coop"
OWNER = "cklivehub"
TRAINEES = ("lv01", "lv02", "lv03")
TEACHER = "lvf1"


@dataclass
class HubClass:
    root: Path
    service: str  # the exchange service's address through the hub's proxy
    tokens: dict[str, str]  # account → the hub API token its server (and kernels) hold


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _course(base: Path) -> Path:
    root = write_course(base / "course", cohorts={COHORT: 0.05})
    folder = root / "cohorts" / COHORT
    rows = [f"{t},学员{i + 1},民政局,东山镇,A" for i, t in enumerate(TRAINEES)]
    (folder / "roster.csv").write_text(
        "id,name,department,township,group\n" + "\n".join(rows) + "\n", "utf-8"
    )
    sched = folder / "schedule.csv"
    text = sched.read_text("utf-8").replace(",f1,", f",{TEACHER},")
    sched.write_text(text.replace(",assessed,", ",practice,"), "utf-8")
    faculty = root / "catalog/faculty.csv"
    faculty.write_text(faculty.read_text("utf-8").replace("\nf1,", f"\n{TEACHER},"), "utf-8")
    nb = case_notebook()
    nb.cells += [
        _code('ask.choice("q-kind", "诉求 A 应归入哪一类？", ["咨询", "求助", "投诉"])'),
        _code('key("q-kind", "求助")', "key"),
    ]
    nbformat.write(nb, str(root / "cases/coop.ipynb"))
    return root


def _server_token(url: str, admin: str, user: str) -> str:
    """Spawn `user`'s server through the hub's API; the token its environment holds."""
    auth = {"Authorization": f"token {admin}"}
    urlopen(Request(f"{url}/hub/api/users/{user}/server", method="POST", headers=auth), timeout=60)

    def ready() -> bool:
        with urlopen(Request(f"{url}/hub/api/users/{user}", headers=auth), timeout=30) as r:
            return bool((json.loads(r.read()).get("servers") or {}).get("", {}).get("ready"))

    wait_for(ready, 120, f"{user}'s server")
    out = subprocess.run(["pgrep", "-u", user, "-f", "jupyterhub-singleuser"], capture_output=True)
    for pid in out.stdout.split():
        for item in Path(f"/proc/{int(pid)}/environ").read_bytes().split(b"\0"):
            if item.startswith(b"JUPYTERHUB_API_TOKEN="):
                return item.split(b"=", 1)[1].decode()
    raise AssertionError(f"no token in {user}'s server")


@pytest.fixture(scope="module")
def hub_class():
    import kit
    from kit.builder import build
    from kit.hub.deploy import admin_token

    # /var/tmp, not /tmp: some machines clean /tmp under a long run
    base = Path(tempfile.mkdtemp(prefix="casekit-live-hub-", dir="/var/tmp"))
    base.chmod(0o755)  # the exchange service (the course owner) must reach the course
    root = _course(base)
    assert build(root, COHORT, progress=False).ok
    try:
        started = kit.hub(
            root, COHORT, "start", port=_free_port(), homes=base / "homes", owner=OWNER,
            view="lab",
        )  # fmt: skip
        admin = admin_token(root, COHORT)
        with ThreadPoolExecutor(3) as pool:  # the servers start side by side
            users = ("lv01", "lv02", TEACHER)
            found = pool.map(lambda u: _server_token(started.url, admin, u), users)
            tokens = dict(zip(users, found, strict=True))
        yield HubClass(root, f"{started.url}/services/casekit-exchange/", tokens)
    finally:
        kit.hub(root, COHORT, "stop")
        kit.hub(root, COHORT, "remove-users", homes=base / "homes", owner=OWNER)
        subprocess.run(["userdel", OWNER], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_a_live_class_round_trip_through_the_exchange_service(
    hub_class: HubClass, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kit.course import load_course
    from kit.exchange.clients import ExchangeError, HubExchange
    from kit.live.server import LiveClass
    from kit.workbook.livelink import banner_of
    from kit.workbook.widgets import QuestionView

    room = hub_class
    teacher = HubExchange(room.service, room.tokens[TEACHER])
    lv01 = HubExchange(room.service, room.tokens["lv01"])
    assert lv01.live_state(COHORT, SESSION) == {}  # no class yet

    # a trainee's answer is filed under the account, at the service's time, whatever it claims
    before = datetime.now(UTC)
    lv01.post_live(COHORT, SESSION, "q-kind", "求助", trainee="lv03")
    after = datetime.now(UTC)
    [(who, answer)] = teacher.live(COHORT, SESSION)["q-kind"].items()
    assert who == "lv01" and answer["value"] == "求助"
    at = datetime.fromisoformat(answer["at"])
    assert before - timedelta(seconds=1) <= at <= after + timedelta(seconds=1)

    # a trainee can neither read the room nor run the class
    with pytest.raises(ExchangeError, match="403"):
        lv01.live(COHORT, SESSION)
    with pytest.raises(ExchangeError, match="403"):
        lv01.set_live_state(COHORT, SESSION, {"running": True, "questions": {}})

    # the instructor's live view over the service
    klass = LiveClass.open(load_course(room.root), COHORT, SESSION, teacher)
    klass.start()
    assert lv01.live_state(COHORT, SESSION)["running"] is True

    # a workbook on the hub path: the hub's environment, its own account's token
    monkeypatch.setenv("CASEKIT_EXCHANGE_URL", room.service)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", room.tokens["lv02"])
    rt = runtime_of(room.root, "lv02", cohort=COHORT, mode="practice")
    view = QuestionView(spec_of(room.root, "q-kind", cohort=COHORT), rt)
    link = rt.live_link()
    assert isinstance(link.exchange(), HubExchange)
    try:
        link.poll()
        view.save("投诉")  # the runtime saves, then posts through the service
        wait_for(
            lambda: teacher.live(COHORT, SESSION)["q-kind"].get("lv02", {}).get("value") == "投诉",
            30,
            "lv02's answer in the room",
        )
        klass.refresh()
        bars = {b["label"]: b["count"] for b in klass.snapshot_of("q-kind")["summary"]["bars"]}
        assert (bars["求助"], bars["投诉"], bars["咨询"]) == (1, 1, 0)

        klass.act("q-kind", "open")
        link.poll()
        assert "课堂作答中" in banner_of(view)
        klass.act("q-kind", "close")
        link.poll()
        assert "已截止" in banner_of(view) and view.inputs["radio"].disabled

        # after the close (by the service's clock) a change is kept but does not count
        lv01.post_live(COHORT, SESSION, "q-kind", "咨询")
        assert teacher.live(COHORT, SESSION)["q-kind"]["lv01"]["value"] == "咨询"
        klass.refresh()
        assert klass.frozen["q-kind"] == {"lv01": "求助", "lv02": "投诉"}

        # the reveal of a practice session brings the class result and the key to the workbook
        klass.act("q-kind", "reveal")
        link.poll()
        banner = banner_of(view)
        assert "已揭晓" in banner and "参考答案：求助" in banner and "1 人" in banner
        assert link.failed == 0 and link.sent >= 1
    finally:
        link.stop()
        klass.end()
    assert lv01.live_state(COHORT, SESSION)["running"] is False
