"""The classroom on JupyterHub: deployment, accounts, the exchange and its service.

Modules:

* `service` — the exchange as a JupyterHub service (runs as the course owner);
* `deploy` — `kit.hub(...)`: accounts, homes, configuration, start and stop;
* `auth` — the one-time-password authenticator.

``kit.hub`` is both this package and the function `deploy.hub` (DESIGN.md: one
function per command, ``kit.<name>``): the module is made callable, because a
submodule import would otherwise replace a function of the same name.
"""

from kit import command_package

command_package(__name__, "kit.hub.deploy:hub")
