"""The ``casekit`` command line: a thin typer layer over the ``kit`` functions.

Each command calls one function and prints its result. User errors (a bad
course file, a missing cohort, a malformed submission) print one line per
problem and exit with status 2; failed items of a batch exit with status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from kit.course import CourseError

app = typer.Typer(
    help="casekit: parameterised case teaching with Jupyter.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

CourseOpt = Annotated[
    Path, typer.Option("--course", "-C", help="The course folder (holds course.toml).")
]
SessionsOpt = Annotated[
    list[str] | None, typer.Option("--session", "-s", help="Only these sessions (repeatable).")
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Gradebook URL, e.g. postgresql+psycopg://user@host/db."),
]


def _fail(problems: list[Any], code: int = 2) -> None:
    for p in problems:
        err.print(f"[red]✗[/red] {p}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _finish(result: Any, *, show: list[Path] | None = None) -> None:
    """Print a batch result's written paths and failures; exit 1 on any failure."""
    for p in show or []:
        out.print(str(p), highlight=False, soft_wrap=True)
    failures = getattr(result, "failures", [])
    for f in failures:
        err.print(f"[red]✗[/red] {f}", highlight=False, soft_wrap=True)
    if failures:
        raise typer.Exit(1)


@app.command()
def check(course: Annotated[Path, typer.Argument(help="Course folder.")] = Path(".")) -> None:
    """Validate the course: files, references, notebooks, deliberations."""
    from kit.builder import check as run

    result = run(course)
    for p in result.warnings:
        err.print(f"[yellow]![/yellow] {p}", highlight=False, soft_wrap=True)
    if result.errors:
        err.print(f"{len(result.errors)} problem(s) in {course}", highlight=False)
        _fail(result.errors)
    out.print(
        f"[green]✓[/green] {course}: {result.cohorts} cohort(s), {result.notebooks} notebook(s), "
        f"{len(result.warnings)} warning(s)",
        highlight=False,
    )


@app.command()
def build(
    cohort: str,
    course: CourseOpt = Path("."),
    session: SessionsOpt = None,
    workers: Annotated[
        int | None, typer.Option(help="Parallel notebooks (default: cores).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even when nothing changed.")] = False,
    engine: Annotated[str, typer.Option(help="fork (fast, default) or kernel.")] = "fork",
    cluster: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://host:port.")] = None,
) -> None:
    """Run each session's notebook with its parameters; write both editions."""
    from kit.builder import build as run

    r = run(
        course,
        cohort,
        sessions=session,
        workers=workers,
        force=force,
        engine=engine,
        cluster=cluster,
    )
    built = [s for s in r.sessions if not s.cached]
    out.print(
        f"[green]✓[/green] {cohort}: {len(built)} built, {len(r.sessions) - len(built)} unchanged, "
        f"{len(r.failures)} failed → {r.out}",
        highlight=False,
    )
    _finish(r)


@app.command()
def handouts(
    cohort: str,
    course: CourseOpt = Path("."),
    session: SessionsOpt = None,
    instructor: Annotated[bool, typer.Option(help="Also write instructor handouts.")] = True,
) -> None:
    """Export a built cohort to HTML handouts; print the index path."""
    from kit.export import handouts as run

    r = run(course, cohort, sessions=session, instructor=instructor)
    _finish(r, show=[r.index] if r.index else [])


def main() -> None:
    """Entry point: run the app, turning user errors into located messages."""
    try:
        app()
    except CourseError as e:
        for p in e.problems:
            err.print(f"[red]✗[/red] {p}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted; finished items are kept, run the command again to resume")
        sys.exit(130)
