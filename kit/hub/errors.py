"""The hub's one user error (its own module so that `deploy`, `access` and `warm` share it)."""

from __future__ import annotations

from kit.problems import UserError


class HubError(UserError):
    """The hub cannot be set up or started; the message says what to do."""
