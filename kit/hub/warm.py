"""``casekit hub warm COHORT SESSION``: the room's servers up before the class, not at its first click.

A server takes seconds of CPU to start; sixty of them at the bell are
minutes on a small machine. Run before class, `warm` starts every trainee's
server through the hub's own API (as the hub would at sign-in), a few at a
time so that each comes up in seconds rather than all together in minutes,
and waits until each is ready. Signing in then finds the server up and goes
straight to the workbook. Servers left unused return their memory by
themselves (`kit.hub.config`: idle servers end after ``idle_minutes``).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from kit.course import Course, load_course
from kit.hub.errors import HubError
from kit.messages import t

#: Servers starting at once: enough to keep 2 cores busy, few enough that each starts quickly.
PARALLEL = 6


@dataclass
class WarmResult:
    """Which trainees' servers are up (and how long it took), and which could not start."""

    session: str
    ready: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _api(url: str, token: str, method: str = "GET") -> tuple[int, dict]:
    req = Request(url, method=method, headers={"Authorization": f"token {token}"})
    try:
        with urlopen(req, timeout=60) as resp:
            body = resp.read()
            return resp.status, json.loads(body) if body.strip() else {}
    except HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}


def _state(url: str, token: str, user: str) -> str:
    """``ready``, ``pending``, ``stopped`` or ``failed`` for a user's default server."""
    status, doc = _api(f"{url}/hub/api/users/{user}", token)
    if status != 200:
        return "failed"
    server = (doc.get("servers") or {}).get("")
    if not server:
        return "stopped"
    return "ready" if server.get("ready") else "pending"


def _warm_one(url: str, token: str, user: str, timeout: float, plan: dict) -> str | None:
    """Start one trainee's server and wait until it is ready; None, or why it is not."""
    deadline = time.monotonic() + timeout
    state = _state(url, token, user)
    if state == "stopped":
        status, doc = _api(f"{url}/hub/api/users/{user}/server", token, "POST")
        if status not in (201, 202, 400):  # 400: already starting
            return str(doc.get("message") or status)
    while time.monotonic() < deadline:
        state = _state(url, token, user)
        if state == "ready":
            return None
        if state in ("stopped", "failed"):  # the spawn ended without a server
            return t("hub.warm_failed", log=plan["state"] + "/jupyterhub.log")
        time.sleep(0.5)
    return t("hub.warm_timeout", seconds=int(timeout))


def warm(
    course: Course | Path | str,
    cohort: str,
    session: str,
    *,
    parallel: int = PARALLEL,
    timeout: float = 600,
) -> WarmResult:
    """Start every trainee's server of `cohort` on its running hub; return when all are ready."""
    from kit.hub.deploy import admin_token, state_dir

    c = course if isinstance(course, Course) else load_course(Path(course).resolve())
    plan_file = state_dir(c, cohort) / "plan.json"
    if not plan_file.exists():
        raise HubError(t("hub.warm_not_running", cohort=cohort))
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    if session not in plan["sessions"]:
        raise HubError(
            t(
                "hub.warm_no_session",
                session=session,
                cohort=cohort,
                sessions=", ".join(plan["sessions"]),
            )
        )
    accounts = json.loads(Path(plan["accounts_file"]).read_text(encoding="utf-8"))["accounts"]
    trainees = [name for name, a in accounts.items() if a["role"] == "trainee"]
    url, token = plan["url"], admin_token(c, cohort)
    try:
        urlopen(f"{url}/hub/api/", timeout=10).close()
    except (URLError, OSError) as exc:
        raise HubError(t("hub.warm_not_running", cohort=cohort)) from exc
    result = WarmResult(session)
    t0 = time.monotonic()
    # JupyterHub's POST returns only once a quick spawn is done (up to 10 s): one thread per
    # server starting, `parallel` at a time, or the servers would come up one by one
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        outcomes = list(pool.map(lambda u: _warm_one(url, token, u, timeout, plan), trainees))
    for user, failure in zip(trainees, outcomes, strict=True):
        if failure is None:
            result.ready.append(user)
        else:
            result.failed[user] = failure
    result.seconds = time.monotonic() - t0
    return result
