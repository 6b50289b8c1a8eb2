"""Refused on purpose in trainees' servers: see `kit.hub.lean`."""

raise ImportError("rfc3987_syntax is left out of trainees' servers (kit.hub.lean)")
