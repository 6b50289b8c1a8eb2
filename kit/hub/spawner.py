"""Trainees' servers as local processes, without the port races of a class starting at once.

Seen with 60 trainees signing in together on one machine
(``bench/bench_hub.py``): JupyterHub's `LocalProcessSpawner` picks each
server's port by binding port 0 and letting it go; two servers starting
together got the same port, one died ("port … is not available"), and the hub
took the other's 404 for its answer: a trainee with a dead server. Kernels
pick their five TCP ports the same way, from the range the machine also uses
for outgoing connections (dozens a second at class start), and some died
with "Address already in use".

So here:

* each server's port comes from below the ephemeral range (20000–32767:
  outgoing connections never take it), not held by another server of this
  hub, and free when chosen;
* kernels talk to their server over Unix sockets (``ipc``) in a private
  runtime folder ``/run/casekit/<user>`` (``0700``, the user's; made by
  root, so nobody can plant it): no ports at all, and nothing another
  account on the machine could even try to connect to.
"""

from __future__ import annotations

import os
import pwd
import random
import socket
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner

#: Server ports come from here: below the kernel's ephemeral range (32768–60999 by default).
PORTS = range(20000, 32768)
#: Parent of each user's runtime folder; short, so that socket paths stay under 107 bytes.
RUNTIME = Path("/run/casekit")
#: Ports handed to this hub's servers (one hub process: no lock needed beyond the event loop).
_TAKEN: dict[str, int] = {}


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(key: str) -> int:
    """A port below the ephemeral range that no other server of this hub holds and is free now."""
    others = {p for k, p in _TAKEN.items() if k != key}
    for _ in range(200):
        port = random.choice(PORTS)
        if port not in others and _free(port):
            _TAKEN[key] = port
            return port
    raise RuntimeError("no free port for a trainee's server in 20000-32767")


def runtime_dir(username: str) -> Path:
    """``/run/casekit/<user>``: the user's own, private; made afresh if anything else is there."""
    RUNTIME.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chown(RUNTIME, 0, 0)
    os.chmod(RUNTIME, 0o755)
    u = pwd.getpwnam(username)
    path = RUNTIME / username
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    path.mkdir(mode=0o700, exist_ok=True)
    os.chown(path, u.pw_uid, u.pw_gid)
    os.chmod(path, 0o700)
    return path


class CasekitSpawner(LocalProcessSpawner):
    """`LocalProcessSpawner` with a port of its own and kernels over Unix sockets."""

    _runtime: Path | None = None

    async def start(self) -> Any:
        self.port = pick_port(f"{self.user.name}/{self.name}")
        try:
            self._runtime = runtime_dir(self.user.name)
        except OSError:  # no /run to write: kernels keep TCP (the race above stays possible)
            self._runtime = None
        return await super().start()

    def get_env(self) -> dict:
        env = super().get_env()
        if self._runtime is not None:
            env["JUPYTER_RUNTIME_DIR"] = str(self._runtime)
        return env

    def get_args(self) -> list[str]:
        args = super().get_args()
        return [*args, "--KernelManager.transport=ipc"] if self._runtime is not None else args
