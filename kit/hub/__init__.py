"""The classroom on JupyterHub: deployment, accounts, the exchange and its service.

Modules:

* `trust` — the course secret, release tokens, signed receipts, `verify` for collect;
* `exchange` — the `Exchange` interface, `FolderExchange`, `HubExchange`;
* `service` — the exchange as a JupyterHub service (runs as the course owner);
* `deploy` — `kit.hub(...)`: accounts, homes, configuration, start and stop;
* `auth` — the one-time-password authenticator.

``kit.hub`` is both this package and the function `deploy.hub` (DESIGN.md: one
function per command, ``kit.<name>``): the module is made callable, because a
submodule import would otherwise replace a function of the same name.
"""

from __future__ import annotations

import sys
import types
from typing import Any


def hub(*args: Any, **kwargs: Any) -> Any:
    """Start, stop or describe a cohort's JupyterHub; see `kit.hub.deploy.hub`."""
    from kit.hub.deploy import hub as run

    return run(*args, **kwargs)


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return hub(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
