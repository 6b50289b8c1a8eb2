"""The command line and the Python API agree: one kit function per command, one way to name a session."""

from __future__ import annotations

from pathlib import Path

import typer.main
from conftest import run_cli

import kit
from kit.cli import app

# Commands whose function has another name (``try`` is a Python keyword).
FUNCTION = {
    "deliberate": "record_deliberation",
    "import nbgrader": "import_nbgrader",
    "import otter": "import_otter",
    "try": "try_answers",
}


def _commands(group, prefix: str = "") -> list[str]:
    names = []
    for name, cmd in typer.main.get_command(group).commands.items():
        sub = getattr(cmd, "commands", None)
        if sub:
            names += [f"{prefix}{name} {n}" for n in sub]
        else:
            names.append(prefix + name)
    return names


def test_every_command_is_a_kit_function():
    commands = _commands(app)
    assert {"check", "build", "grade", "mark", "tasks", "deliberate", "import otter"} <= set(
        commands
    )
    for command in commands:
        name = FUNCTION.get(command, command)
        func = getattr(kit, name, None)
        assert callable(func), f"casekit {command}: no kit.{name}"
        assert func.__doc__, f"kit.{name} has no docstring"
    assert set(kit.__all__) >= {FUNCTION.get(c, c) for c in commands}


def test_session_is_an_option_everywhere_and_the_old_form_still_works(course: Path):
    new = run_cli("grade", "c1", "-C", str(course), "--session", "coop", "--lang", "en")
    assert new.returncode == 0 and "old form" not in new.stderr, new.stderr
    old = run_cli("mark", "c1", "coop", "-C", str(course), "--lang", "en")
    assert old.returncode == 0, old.stderr
    assert "old form; write --session coop" in old.stderr
    assert (course / "build/c1/marking/coop.ipynb").exists()
    both = run_cli("grade", "c1", "coop", "-s", "other", "-C", str(course), "--lang", "en")
    assert both.returncode == 2 and "two sessions given" in both.stderr
