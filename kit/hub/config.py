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

    c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
    c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
    c.Spawner.notebook_dir = plan["notebook_dir"]
    c.Spawner.default_url = plan["default_url"]
    c.Spawner.server_token_scopes = SERVER_TOKEN_SCOPES
    # a class signs in at once on a small machine: give servers time to come up
    c.Spawner.start_timeout = 180
    c.Spawner.http_timeout = 180
    c.Spawner.environment = {
        # every time a trainee sees (已保存, the receipt) is in the course's zone
        "TZ": plan["timezone"],
        "CASEKIT_EXCHANGE_URL": plan["exchange_url"],
        "CASEKIT_LANGUAGE": plan["language"],
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        # casekit's Voilà template (no CDN, fits a phone) is found on the Jupyter path
        "JUPYTER_PATH": str(Path(__file__).parent / "share"),
    }
    c.Spawner.args = [
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--VoilaConfiguration.template=casekit",
        # trainees need no language servers; scanning for them costs every server start
        "--ServerApp.jpserver_extensions=jupyter_lsp=False",
        # no MathJax from a CDN: the room may have no internet, and workbooks need no TeX
        '--ServerApp.tornado_settings={"mathjax_url": "null", "mathjax_config": "null"}',
        *plan.get("server_args", []),
    ]
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
