"""Helpers for tests that start real servers (JupyterLab, JupyterHub) and drive them in Chromium."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond: Callable[[], T], timeout: float = 60, what: str = "condition") -> T:
    """Poll `cond` until it returns something true (returned); AssertionError after `timeout` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class LoopbackGuard:
    """A Playwright route handler that aborts every request leaving 127.0.0.1.

    ``context.route("**/*", guard)`` (``await`` it with the async API); a test
    asserts ``guard.blocked == []``: no CDN, nothing phoning home.
    """

    def __init__(self) -> None:
        self.blocked: list[str] = []

    def __call__(self, route: Any) -> Any:
        if urlparse(route.request.url).hostname != "127.0.0.1":
            self.blocked.append(route.request.url)
            return route.abort()  # an awaitable under the async API: Playwright awaits it
        return route.continue_()
