"""JupyterHub configuration for one cohort, read from the plan `kit.hub.deploy` writes.

The generated ``jupyterhub_config.py`` is two lines that call `configure`, so
everything a deployment decides lives in ``plan.json`` (plain data, diffable)
and in this function (reviewed code), never in generated Python.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kit.hub import look

SERVICE = "casekit-exchange"
#: Server extensions a trainee never uses: each costs memory and start-up time in every
#: server (nbgrader's alone takes 1.6 s to import); the hub serves workbooks, not grading.
TRAINEE_OFF_EXTENSIONS = ("jupyter_lsp", "notebook", *look.NBGRADER_SERVER_EXTENSIONS)
#: Minutes before an idle kernel with no browser attached, and then its idle server, end.
IDLE_KERNEL_MINUTES = 30
IDLE_SERVER_MINUTES = 120
#: What a trainee's server token may do: report activity, reach its own server, hand in.
SERVER_TOKEN_SCOPES = [
    "users:activity!user",
    "access:servers!server",
    f"access:services!service={SERVICE}",
]


def configure(c: Any, plan_file: str | Path) -> None:
    """Fill JupyterHub's config object `c` from ``plan.json``."""
    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    state = Path(plan["state"])
    bin_dir = Path(sys.executable).parent

    c.JupyterHub.bind_url = plan["url"]
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{plan['ports']['hub_api']}"
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    c.JupyterHub.cleanup_servers = True  # `casekit hub stop` stops every trainee's server
    c.ConfigurableHTTPProxy.command = [plan["proxy"]]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{plan['ports']['proxy_api']}"
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
    c.ConfigurableHTTPProxy.auth_token = (state / "proxy_token").read_text().strip()

    c.JupyterHub.authenticator_class = plan["authenticator"]
    c.CohortAuthenticator.passwords_file = str(state / "passwords.json")
    accounts = json.loads(Path(plan["accounts_file"]).read_text(encoding="utf-8"))["accounts"]
    c.Authenticator.allowed_users = set(accounts)
    c.Authenticator.admin_users = {n for n, a in accounts.items() if a["role"] == "instructor"}

    c.JupyterHub.spawner_class = "kit.hub.spawner.CasekitSpawner"  # no port races at class start
    c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
    c.Spawner.notebook_dir = plan["notebook_dir"]
    c.Spawner.default_url = plan["default_url"]
    c.Spawner.server_token_scopes = SERVER_TOKEN_SCOPES
    c.Spawner.environment = {
        # every time a trainee sees (已保存, the receipt) is in the course's zone
        "TZ": plan["timezone"],
        "CASEKIT_EXCHANGE_URL": plan["exchange_url"],
        "CASEKIT_LANGUAGE": plan["language"],
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        # casekit's Voilà template (no CDN, fits a phone) is found on the Jupyter path
        "JUPYTER_PATH": str(Path(__file__).parent / "share"),
        # seconds of start-up CPU per server a trainee's server never needs (kit.hub.lean)
        "PYTHONPATH": str(Path(__file__).parent / "lean"),
        # two malloc arenas, not one per thread: tens of MB less per idle server and kernel
        "MALLOC_ARENA_MAX": "2",
    }
    c.Spawner.args = [
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--VoilaConfiguration.template=casekit",
        # no language servers, no nbgrader, no second notebook app: memory and start-up
        *off_extension_args(),
        # no MathJax from a CDN: the room may have no internet, and workbooks need no TeX
        '--ServerApp.tornado_settings={"mathjax_url": "null", "mathjax_config": "null"}',
        *idle_args(plan),
        *plan.get("server_args", []),
    ]
    _class_start(c)
    # the default `user` role plus handing in through the exchange service; `casekit-admin`
    # is the instructor side's own handle on the hub (servers, tokens), its token root-only
    c.JupyterHub.load_roles = [
        {"name": "user", "scopes": ["self", f"access:services!service={SERVICE}"]},
        {
            "name": "casekit-admin",
            "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"],
            "services": ["casekit-admin"],
        },
    ]
    c.JupyterHub.services = [
        {
            "name": SERVICE,
            "url": f"http://127.0.0.1:{plan['ports']['exchange']}",
            "command": [sys.executable, "-m", "kit.hub.service", str(plan_file)],
            "user": plan["owner"],
            "cwd": plan["exchange"],
            "environment": {"TZ": plan["timezone"], "PATH": f"{bin_dir}:/usr/bin:/bin"},
            "oauth_no_confirm": True,
        },
        {"name": "casekit-admin", "api_token": (state / "admin_token").read_text().strip()},
    ]
    look.dress(c, plan["language"])  # pages in the course language, no nbgrader (kit.hub.look)


def off_extension_args() -> list[str]:
    """``--ServerApp.jpserver_extensions=NAME=False`` each: the key=value form merges with
    `kit.hub.look`'s own (a whole dict literal beside them is refused by traitlets)."""
    return [f"--ServerApp.jpserver_extensions={name}=False" for name in TRAINEE_OFF_EXTENSIONS]


def idle_args(plan: dict) -> list[str]:
    """Memory returns after class: idle kernels end, then the idle server itself.

    Only kernels no browser is attached to are culled: a trainee who keeps a
    workbook open through a long discussion keeps a live page. A server with
    no kernel and no activity for ``idle_server_minutes`` (plan.json) exits,
    and the hub notices; warmed servers nobody used go the same way.
    """
    kernel = int(plan.get("idle_kernel_minutes", IDLE_KERNEL_MINUTES)) * 60
    server = int(plan.get("idle_server_minutes", IDLE_SERVER_MINUTES)) * 60
    return [
        f"--MappingKernelManager.cull_idle_timeout={kernel}",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
        f"--ServerApp.shutdown_no_activity_timeout={server}",
    ]


def _class_start(c: Any) -> None:
    """A class signs in at once on a small machine: every server may start, none is dropped.

    The hub allows more concurrent spawns than a class (the default 100 would
    turn trainee 101 away with a 429), and gives servers time to come up.
    The spawn-pending page never strands a trainee (`kit.hub.waiting`).
    """
    c.JupyterHub.concurrent_spawn_limit = 0
    c.Spawner.start_timeout = 300
    c.Spawner.http_timeout = 300
