"""The "server starting" page that always lets its trainee in once the server is up.

JupyterHub's spawn-pending page redirects only when its progress
EventStream delivers the ``ready`` event. Under a class's load that stream
can end without it: when the page is rendered while the hub is checking a
server (pending ``check``, not ``spawn``), the progress API answers 400 and
the browser's EventSource gives up for good; the trainee stays on "Your
server is starting up" with the server long up (seen with 20 Chromiums on 2
cores: 4–5 minutes until they reloaded by hand).

So the trainee's redirect does not depend on that stream:

* the pending page first waits (on the hub) for a spawn in progress, up to
  `WAIT` seconds: a warmed server, or one that comes up quickly, is a
  direct redirect, no progress page at all;
* a page still rendered carries an HTTP ``Refresh`` header: the browser
  reloads it every `REFRESH` seconds whatever the EventStream does, and a
  reload of a server that is up is a redirect to it.

Registered ahead of JupyterHub's own handler through the authenticator
(`kit.hub.auth.CohortAuthenticator.get_handlers`), whose handlers come first.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jupyterhub.handlers.pages import SpawnPendingHandler

#: Seconds the hub holds a request for a server that is starting before showing the page
#: (``CASEKIT_PENDING_WAIT`` in the environment of ``casekit hub start``; 0 always shows it).
WAIT = float(os.environ.get("CASEKIT_PENDING_WAIT", "15"))
#: Seconds between reloads of a page still shown (the browser's own timer, not JavaScript).
REFRESH = 8


class PendingHandler(SpawnPendingHandler):
    """`SpawnPendingHandler` that waits a little first and always reloads."""

    async def get(self, user_name: str, server_name: str = "") -> Any:
        spawner = self._own_spawner(user_name, server_name or "")
        if spawner is not None and spawner.pending == "spawn" and WAIT > 0:
            future = spawner._spawn_future
            if future is not None and not future.done():
                # shielded: a closed browser must not cancel the spawn
                await asyncio.wait([asyncio.shield(future)], timeout=WAIT)
        if spawner is not None and spawner.pending:
            self.set_header("Refresh", str(REFRESH))
        return await super().get(user_name, server_name)

    def _own_spawner(self, user_name: str, server_name: str) -> Any:
        """The signed-in user's own spawner (others are left to JupyterHub's checks)."""
        current = self.current_user
        if current is None or current.name != user_name:
            return None
        return current.spawners.get(server_name)
