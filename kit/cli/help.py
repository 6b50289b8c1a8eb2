"""``casekit --help`` in the course's language: every help text comes from the catalogue.

The commands in ``kit/cli/*.py`` carry no help of their own. Before the
command line runs, :func:`localise` walks the click tree typer builds and sets
each command's and parameter's help from the catalogue (``kit/messages/cli_*.py``):

- a command: ``help.<command>`` (``help.casekit`` for the program,
  ``help.import.nbgrader`` under a group);
- a parameter: ``help.<command>.<name>``, else what several commands share:
  ``help.option.<name>`` (``--course``, ``--lang``, ``--db``...) or
  ``help.arg.<name>`` (``COHORT``, ``SESSION``).

The language is chosen as for every other message (:func:`kit.language.choose`),
from what the command line says before typer parses it (:func:`argv_language`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import typer
from typer import rich_utils
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from kit.language import choose
from kit.messages import MESSAGES, lang_of, t

#: typer's own words around the help texts (its module constants are its only hook).
_PANELS = {
    "ARGUMENTS_PANEL_TITLE": "help.panel.arguments",
    "OPTIONS_PANEL_TITLE": "help.panel.options",
    "COMMANDS_PANEL_TITLE": "help.panel.commands",
    "DEFAULT_STRING": "help.panel.default",
    "REQUIRED_LONG_STRING": "help.panel.required",
}


def _option_value(argv: Sequence[str], names: tuple[str, ...]) -> str | None:
    """The value of the last of `names` in `argv` (``--lang zh``, ``--lang=zh``, ``-Czh``)."""
    value = None
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                value = argv[i + 1]
            elif arg.startswith(name + "=") and name.startswith("--"):
                value = arg[len(name) + 1 :]
            elif len(name) == 2 and arg.startswith(name) and len(arg) > 2 and arg[2] != "-":
                value = arg[2:]
    return value


def argv_language(argv: Sequence[str]) -> str:
    """The language a command line asks for: ``--lang``, else the one :func:`speak` would choose.

    Its course is ``-C/--course`` or the current folder; read before typer
    parses, so that ``casekit build --help`` already speaks it.
    """
    lang = _option_value(argv, ("--lang",))
    course = _option_value(argv, ("--course", "-C")) or "."
    return lang_of(choose(lang if lang in MESSAGES else None, course))


# typer brings its own copy of click: its classes are the ones to test against
Command = TyperCommand | TyperGroup


def walk(command: object, path: str = "") -> Iterator[tuple[str, Command]]:
    """Every command under `command` with its key path (``""`` for the program, ``import.otter``)."""
    if isinstance(command, TyperCommand | TyperGroup):
        yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from walk(sub, f"{path}.{name}" if path else name)


def param_key(path: str, param: TyperArgument | TyperOption) -> str:
    """The catalogue key of a parameter's help: its command's own, its group's, else the shared one."""
    parts = path.split(".") if path else []
    for depth in range(len(parts), 0, -1):
        own = f"help.{'.'.join(parts[:depth])}.{param.name}"
        if own in MESSAGES["en"]:
            return own
    return f"help.{'arg' if isinstance(param, TyperArgument) else 'option'}.{param.name}"


def localise(command: object, language: str) -> None:
    """Set every help text of `command` and its subcommands from the catalogue, in `language`."""
    for constant, key in _PANELS.items():
        # typer fills "[default: {}]" itself: the catalogue's {value} becomes its {}
        setattr(rich_utils, constant, t(key, language, value="{}"))
    for path, cmd in walk(command):
        cmd.help = t(f"help.{path or 'casekit'}", language)
        help_option = cmd.get_help_option(typer.Context(cmd))
        if help_option is not None:
            help_option.help = t("help.option.help", language)
        for param in cmd.params:
            if isinstance(param, TyperArgument | TyperOption) and not param.hidden:
                param.help = t(param_key(path, param), language)
            if isinstance(param, TyperArgument) and param.metavar is None and param.name:
                # typer 0.29 would print "{cohort}"; the README and the messages say COHORT
                param.metavar = param.name.upper()
