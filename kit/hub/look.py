"""What a trainee meets on the hub: its pages in the course's language, and nothing that is not theirs.

`dress` is called once at the end of `kit.hub.config.configure`:

* JupyterHub's own pages (sign-in, "your server is starting", errors, the
  token page, home) come from casekit's templates in ``share/hub-templates``,
  which extend JupyterHub's (``templates/<name>.html``) and take every text
  from `kit.messages` (``hubpage.*``, handed over as ``said``); they load
  nothing from a CDN;
* Voilà's list of workbooks is casekit's page in the course's language;
* nbgrader (installed with the test extras) is kept out of what the hub
  serves: its server extensions are switched off for every single-user
  server and its JupyterLab extension disabled (``share/config``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit.messages import section

SHARE = Path(__file__).parent / "share"
#: JupyterHub page templates, one set for every language (the texts come from kit.messages).
HUB_TEMPLATES = SHARE / "hub-templates"
#: A Jupyter config folder for trainees' servers (``labconfig/page_config.json`` disables extensions).
SERVER_CONFIG = SHARE / "config"
#: nbgrader's server extensions: instructors' tools, never served to trainees.
NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)


def hub_texts(language: str) -> dict[str, str]:
    """Every text casekit's hub templates show, in `language` (keys without ``hubpage.``)."""
    return section("hubpage", language)


def server_args(language: str) -> list[str]:
    """Single-user server arguments: nbgrader's server side off; Voilà's workbook list in `language`.

    The list is casekit's Jinja page (``tree.html``; Voilà's default is a
    script-built page in English), its texts handed over as the server's
    ``jinja_template_vars``.
    """
    said = hub_texts(language)
    return [
        *(f"--ServerApp.jpserver_extensions={name}=False" for name in NBGRADER_SERVER_EXTENSIONS),
        "--VoilaConfiguration.classic_tree=True",
        f"--ServerApp.jinja_template_vars=casekit_pick={said['voila_pick']}",
        f"--ServerApp.jinja_template_vars=casekit_title={said['voila_title']}",
        f"--ServerApp.jinja_template_vars=casekit_up={said['voila_up']}",
    ]


def dress(c: Any, language: str) -> None:
    """Set the hub's pages and what trainees' servers serve on JupyterHub's config object `c`."""
    c.JupyterHub.template_paths = [str(HUB_TEMPLATES)]
    c.JupyterHub.template_vars = {"said": hub_texts(language)}
    # added to what configure set (or, were it unset, to traitlets' lazy value: extend/update)
    c.Spawner.args.extend(server_args(language))
    c.Spawner.environment.update({"JUPYTER_CONFIG_PATH": str(SERVER_CONFIG)})
