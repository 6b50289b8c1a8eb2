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

from kit.course import CourseError, UserError

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


@app.command()
def release(
    cohort: str,
    course: CourseOpt = Path("."),
    session: SessionsOpt = None,
    trainee: Annotated[list[str] | None, typer.Option(help="Only these trainees.")] = None,
) -> None:
    """One personalised workbook per trainee and session into the exchange outbox."""
    from kit.workbook import release as run

    r = run(course, cohort, sessions=session, trainees=trainee)
    out.print(
        f"[green]✓[/green] {len(r.written)} workbook(s) written, {len(r.unchanged)} unchanged",
        highlight=False,
    )
    _finish(r)


@app.command()
def submit(
    workbook: Path,
    exchange: Annotated[
        Path | None, typer.Option(help="Exchange folder (default: the workbook's).")
    ] = None,
) -> None:
    """Hand a workbook and its answers to the exchange inbox; print the receipt."""
    from kit.workbook import submit as run

    r = run(workbook, exchange=exchange)
    for w in r.warnings:
        err.print(f"[yellow]![/yellow] {w}", highlight=False, soft_wrap=True)
    out.print(
        f"[green]✓[/green] received {r.received_at} sha256 {r.sha256[:12]} → {r.folder}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def collect(
    cohort: str,
    course: CourseOpt = Path("."),
    source: Annotated[
        Path | None, typer.Option(help="A folder or a .zip/.tar(.gz) instead of the inbox.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Take submissions into the append-only store."""
    from kit.grading import collect as run

    r = run(course, cohort, source=source, db=db)
    out.print(
        f"[green]✓[/green] {len(r.written)} new submission(s), {len(r.duplicates)} duplicate(s)",
        highlight=False,
    )
    for u in r.unknown:
        err.print(
            f"[yellow]![/yellow] unknown trainee or session, not collected: {u}", highlight=False
        )
    for u in r.refused:  # casekit hub (#11): impersonation or forged release, never filed
        err.print(f"[red]✗[/red] {u}", highlight=False, soft_wrap=True)
    _finish(r)
    if r.refused:
        raise typer.Exit(1)


@app.command()
def grade(
    cohort: str,
    session: Annotated[str | None, typer.Argument(help="Only this session.")] = None,
    course: CourseOpt = Path("."),
    db: DbOpt = None,
    workers: Annotated[int | None, typer.Option(help="Parallel submissions.")] = None,
    force: Annotated[bool, typer.Option(help="Regrade what is already graded.")] = False,
    cluster: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://host:port.")] = None,
) -> None:
    """Autograde submissions into the gradebook; open items wait for marking."""
    from kit.grading import grade as run

    r = run(course, cohort, session, db=db, workers=workers, force=force, cluster=cluster)
    counts: dict[str, int] = {}
    for status in r.statuses.values():
        counts[status] = counts.get(status, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to grade"
    out.print(f"[green]✓[/green] {cohort}: {summary}; {len(r.skipped)} unchanged", highlight=False)
    _finish(r)


@app.command()
def mark(
    cohort: str,
    session: Annotated[str | None, typer.Argument(help="Only this session.")] = None,
    course: CourseOpt = Path("."),
    anonymous: Annotated[bool, typer.Option(help="Hide trainee names while marking.")] = False,
    db: DbOpt = None,
) -> None:
    """Write the marking notebook for essays, logs and reports; print its path and what is left."""
    from kit.marking import mark as run

    path = run(course, cohort, session, anonymous=anonymous, db=db)
    out.print(str(path), highlight=False, soft_wrap=True)
    out.print(f"open it in JupyterLab: jupyter lab {path}", highlight=False, soft_wrap=True)
    # -- live class and marking (#12): what is left, per session and question
    from rich.table import Table

    from kit.markbook import left

    todo = left(course, cohort, session, db=db)
    if not len(todo):
        out.print("nothing to mark", highlight=False)
        return
    view = Table("session", "question", "kind", "items", "marked", "left", "answer groups left")
    for r in todo.itertuples(index=False):
        view.add_row(r.session, r.question, r.kind, str(r.items), str(r.marked), str(r.left),
                     f"{r.groups_left} / {r.groups}")  # fmt: skip
    out.print(view)
    out.print(
        f"{int(todo['left'].sum())} item(s) left of {int(todo['items'].sum())}", highlight=False
    )


@app.command("export-marks")
def export_marks(
    cohort: str,
    to: Annotated[Path, typer.Argument(help="marks.xlsx or marks.csv")],
    course: CourseOpt = Path("."),
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Only this session.")
    ] = None,
    anonymous: Annotated[bool, typer.Option(help="Pseudonyms instead of names.")] = False,
    db: DbOpt = None,
) -> None:
    """Write the marking queue and its marks to a spreadsheet for marking offline."""
    from kit.marksheet import export_marks as run

    r = run(course, cohort, to, session=session, anonymous=anonymous, db=db)
    out.print(f"[green]✓[/green] {r.items} item(s) → {to}", highlight=False, soft_wrap=True)


@app.command("import-marks")
def import_marks(
    cohort: str,
    sheet: Annotated[Path, typer.Argument(help="A sheet written by export-marks, filled in.")],
    course: CourseOpt = Path("."),
    marker: Annotated[str, typer.Option(help="Who marked (kept with each mark).")] = "",
    db: DbOpt = None,
) -> None:
    """Read marks from a spreadsheet; any bad row and nothing is written."""
    from kit.marksheet import import_marks as run

    r = run(course, cohort, sheet, marker=marker, db=db)
    out.print(
        f"[green]✓[/green] {len(r.applied)} mark(s) written, {r.unchanged} unchanged, "
        f"{r.blank} blank row(s)",
        highlight=False,
    )
    # -- end live class and marking


@app.command()
def feedback(
    cohort: str,
    course: CourseOpt = Path("."),
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Only this session.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """One graded HTML page per trainee and session."""
    from kit.grading import feedback as run

    r = run(course, cohort, db=db, session=session)
    out.print(f"[green]✓[/green] {len(r.written)} feedback page(s)", highlight=False)
    _finish(r)


@app.command()
def grades(
    cohort: str,
    to: Annotated[Path, typer.Option("--to", help="grades.csv or grades.xlsx")],
    course: CourseOpt = Path("."),
    db: DbOpt = None,
) -> None:
    """Export the gradebook with per-unit subtotals."""
    from kit.grading import grades as run

    r = run(course, cohort, to, db=db)
    _finish(r, show=r.written)


@app.command()
def guide(
    course: CourseOpt = Path("."),
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Where to write the guide.")
    ] = None,
) -> None:
    """Write the programme guide as one offline HTML file; print its path."""
    from kit.programme import guide as run

    out.print(str(run(course, out=out_path)), highlight=False, soft_wrap=True)


@app.command()
def report(
    cohort: str,
    course: CourseOpt = Path("."),
    db: DbOpt = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Where to write the report.")
    ] = None,
) -> None:
    """The cohort dashboard: teaching time, scores by unit, submissions, evaluation."""
    from kit.programme import report as run

    out.print(str(run(course, cohort, db=db, out=out_path)), highlight=False, soft_wrap=True)


@app.command()
def summary(cohort: str, course: CourseOpt = Path(".")) -> None:
    """Sessions by unit, hours, interactive share, deliberations and tasks of a cohort."""
    from kit.programme import summary as run

    out.print(run(course, cohort))


@app.command()
def tasks(cohort: str, course: CourseOpt = Path(".")) -> None:
    """Issue-based tasks of a cohort, one row per trainee (groups expanded)."""
    from rich.table import Table

    from kit.programme import tasks as run

    table = run(course, cohort)
    if not len(table):
        out.print("no tasks (cohorts/<cohort>/tasks.csv)", highlight=False)
        return
    view = Table("task", "title", "assignee", "trainee", "name", "due", "deliverable")
    for r in table.itertuples():
        due = "" if r.due is None or str(r.due) in ("NaT", "None") else str(r.due)[:16]
        view.add_row(r.task, r.title, r.assignee, r.trainee, r.trainee_name, due, r.deliverable)
    out.print(view)


@app.command()
def deliberate(
    cohort: str,
    session: str,
    by: Annotated[str, typer.Option(help="Who records this (name).")],
    role: Annotated[str, typer.Option(help="organiser, teacher or trainee-rep.")],
    course: CourseOpt = Path("."),
    direction: Annotated[str | None, typer.Option(help="The teacher's direction.")] = None,
    expectation: Annotated[list[str] | None, typer.Option(help="A trainee expectation.")] = None,
    question: Annotated[list[str] | None, typer.Option(help="A trainee question.")] = None,
    decision: Annotated[list[str] | None, typer.Option(help="An organisers' decision.")] = None,
    emphasis: Annotated[list[str] | None, typer.Option(help="An agreed emphasis topic.")] = None,
    module: Annotated[list[str] | None, typer.Option(help="An optional module to include.")] = None,
) -> None:
    """Record one party's input to a session's pre-class deliberation (history is kept)."""
    from kit.deliberation import record_deliberation

    given = {
        "teacher_direction": direction,
        "trainee_expectations": expectation,
        "trainee_questions": question,
        "organiser_decisions": decision,
        "emphasis": emphasis,
        "modules": module,
    }
    changes = {k: v for k, v in given.items() if v}
    path = record_deliberation(course, cohort, session, by=by, role=role, **changes)
    out.print(str(path), highlight=False, soft_wrap=True)


# -- live class (#12) ---------------------------------------------------------


@app.command()
def live(
    cohort: str,
    session: str,
    course: CourseOpt = Path("."),
    port: Annotated[int, typer.Option(help="Port of the page (0: any free port).")] = 8800,
    ip: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    named: Annotated[bool, typer.Option(help="Show trainees' names (default: anonymous).")] = False,
) -> None:
    """The room's answers on the projector as trainees give them; open, close and reveal each question."""
    from kit.liveview import live as run

    def ready(server) -> None:
        out.print(f"live: {server.url}", highlight=False, soft_wrap=True)
        out.print("open it in a browser on the projector; Ctrl-C ends the class", highlight=False)
        sys.stdout.flush()

    run(course, cohort, session, host=ip, port=port, anonymous=not named, on_ready=ready)


# -- end live class

# -- casekit hub (#11) --------------------------------------------------------


@app.command()
def hub(
    action: Annotated[str, typer.Argument(help="start | stop | status | config | remove-users")],
    cohort: str,
    course: CourseOpt = Path("."),
    ip: Annotated[str, typer.Option(help="Address the hub listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the hub's web address.")] = 8000,
    homes: Annotated[Path, typer.Option(help="Where accounts' home folders are made.")] = Path(
        "/home"
    ),
    owner: Annotated[str, typer.Option(help="System user owning the course.")] = "casekit",
    view: Annotated[str, typer.Option(help="What trainees land on: lab or voila.")] = "lab",
    reissue: Annotated[
        list[str] | None, typer.Option(help="Give this account a new password (repeatable).")
    ] = None,
    k8s: Annotated[
        Path | None, typer.Option(help="Write zero-to-jupyterhub values to this file instead.")
    ] = None,
) -> None:
    """A cohort's JupyterHub on this machine: accounts, homes, exchange service; start and stop."""
    from kit.hub.deploy import hub as run

    if k8s is not None:
        from kit.hub.k8s import write_values

        out.print(str(write_values(course, cohort, k8s)), highlight=False, soft_wrap=True)
        return
    r = run(course, cohort, action, ip=ip, port=port, homes=homes, owner=owner, view=view,
            reissue=reissue)  # fmt: skip
    if r.removed:
        out.print(f"removed {len(r.removed)} account(s): {', '.join(r.removed)}", highlight=False)
    if action in ("start", "config"):
        out.print(f"[green]✓[/green] {cohort}: {r.url}  ({len(r.written)} file(s) written, "
                  f"{len(r.kept)} workbook(s) kept)", highlight=False)  # fmt: skip
    elif action == "status":
        state = f"running (pid {r.pid})" if r.running else "stopped"
        out.print(f"{cohort}: {state} {r.url}", highlight=False)
    elif action == "stop":
        out.print(f"{cohort}: stopped" if r.pid else f"{cohort}: was not running", highlight=False)
    if r.passwords:
        # printed once: the instructor hands each trainee their line
        out.print("account\tpassword\trole\tname", highlight=False)
        roles = {a.username: a for a in r.accounts}
        for name, pw in r.passwords.items():
            out.print(f"{name}\t{pw}\t{roles[name].role}\t{roles[name].name}", highlight=False)


# -- end casekit hub


def main() -> None:
    """Entry point: run the app, turning user errors into located messages."""
    try:
        app()
    except CourseError as e:
        for p in e.problems:
            err.print(f"[red]✗[/red] {p}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (UserError, FileNotFoundError, PermissionError, IsADirectoryError) as e:
        # Files a user named that cannot be read, stores edited into nonsense, ...
        err.print(f"[red]✗[/red] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted; finished items are kept, run the command again to resume")
        sys.exit(130)
