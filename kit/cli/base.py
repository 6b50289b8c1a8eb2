"""What every ``casekit`` command shares: the app, its options, the language, how results print."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from kit.language import choose
from kit.messages import set_language, t
from kit.problems import CourseError, UserError, os_reason
from kit.untrusted import printable

# help texts: kit.cli.help sets them from the catalogue (kit/messages/cli_*.py)
app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)

CourseOpt = Annotated[Path, typer.Option("--course", "-C")]
SessionsOpt = Annotated[list[str] | None, typer.Option("--session", "-s")]
SessionOpt = Annotated[str | None, typer.Option("--session", "-s")]
# `grade COHORT SESSION` and `mark COHORT SESSION` were the old forms: still read, with a note.
OldSessionArg = Annotated[
    str | None, typer.Argument(hidden=True, show_default=False, metavar="SESSION")
]
DbOpt = Annotated[str | None, typer.Option("--db")]

UnsafeOpt = Annotated[bool, typer.Option("--unsafe-no-sandbox")]


class Lang(enum.StrEnum):
    zh = "zh"
    en = "en"


PdfOpt = Annotated[bool, typer.Option("--pdf")]
LangOpt = Annotated[Lang | None, typer.Option("--lang")]


def speak(course: Path | None, lang: Lang | None) -> None:
    """Speak ``--lang``, else ``CASEKIT_LANG``, else the course's language, else the locale's."""
    chosen = choose(lang.value if lang else None, course)
    set_language(chosen)
    # what the build's executor and other children print speaks it too
    os.environ["CASEKIT_LANG"] = chosen


def session_option(option: str | None, old: str | None) -> str | None:
    """The session filter: ``--session``, or the old positional form with a deprecation note."""
    if old is None:
        return option
    if option is not None and option != old:
        fail([t("cli.session_twice", old=old, option=option)])
    err.print(f"[yellow]![/yellow] {t('cli.session_positional', session=old)}", highlight=False)
    return old


def fail(problems: list[Any], code: int = 2) -> None:
    for p in problems:
        err.print(f"[red]✗[/red] {p}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def shown(item: Any) -> str:
    """An item that may hold a trainee's text (a file name, a cause), safe for the terminal and rich's markup."""
    from rich.markup import escape

    return escape(printable(item))


def print_summary(line: str, result: Any) -> None:
    """A batch's summary line: ✓ when every item went through, ✗ when some failed."""
    mark = "[red]✗[/red]" if getattr(result, "failures", None) else "[green]✓[/green]"
    out.print(f"{mark} {line}", highlight=False, soft_wrap=True)


def print_result(result: Any, *, show: list[Path] | None = None) -> None:
    """Print a batch result's written paths and failures; exit 1 on any failure."""
    for p in show or []:
        out.print(shown(p), highlight=False, soft_wrap=True)
    failures = getattr(result, "failures", [])
    for f in failures:
        err.print(f"[red]✗[/red] {shown(f)}", highlight=False, soft_wrap=True)
    if failures:
        raise typer.Exit(1)


def main() -> None:
    """Entry point: run the app, turning user errors into located messages."""
    from kit.cli.help import argv_language, localise

    command = typer.main.get_command(app)
    localise(command, argv_language(sys.argv[1:]))
    try:
        command()
    except KeyboardInterrupt:
        err.print(t("cli.interrupted"))
        sys.exit(130)
    except Exception as e:
        # a broken course; files a user named that cannot be read; stores edited into nonsense
        named = FileNotFoundError | PermissionError | IsADirectoryError
        if not isinstance(e, CourseError | UserError | named):
            raise
        # a file the system refused is a sentence in the course's language, never "[Errno 13]"
        said: list[object] = [os_reason(e)] if isinstance(e, OSError) else []
        for p in said or (e.problems if isinstance(e, CourseError) else [e]):
            err.print(f"[red]✗[/red] {p}", highlight=False, soft_wrap=True)
        sys.exit(2)
