"""Commands for the programme: guide, report, summary, tasks, deliberate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kit.cli.base import (
    CourseOpt,
    DbOpt,
    LangOpt,
    PdfOpt,
    app,
    fail,
    out,
    speak,
)
from kit.messages import t


@app.command()
def guide(
    course: CourseOpt = Path("."),
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Where to write the guide.")
    ] = None,
    lang: LangOpt = None,
) -> None:
    """Write the programme guide as one offline HTML file; print its path."""
    from kit.programme import guide as run

    speak(course, lang)
    out.print(str(run(course, out=out_path)), highlight=False, soft_wrap=True)


@app.command()
def report(
    cohort: Annotated[
        str | None, typer.Argument(help="The cohort (omit with --programme).")
    ] = None,
    course: CourseOpt = Path("."),
    programme: Annotated[
        bool, typer.Option("--programme", help="One page across all cohorts instead.")
    ] = False,
    pdf: PdfOpt = False,
    db: DbOpt = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Where to write the report.")
    ] = None,
    lang: LangOpt = None,
) -> None:
    """The cohort dashboard (hand-ins, scores, heat map, evaluation), or --programme across cohorts."""
    from kit.programme import programme_report
    from kit.programme import report as run

    speak(course, lang)
    if programme:
        path = programme_report(course, db=db, out=out_path, pdf=pdf)
    elif cohort is None:
        fail([t("cli.report_which")])
        return
    else:
        path = run(course, cohort, db=db, out=out_path, pdf=pdf)
    out.print(str(path), highlight=False, soft_wrap=True)


@app.command()
def summary(cohort: str, course: CourseOpt = Path("."), lang: LangOpt = None) -> None:
    """Sessions by unit, hours, interactive share, deliberations and tasks of a cohort."""
    from kit.programme import summary as run

    speak(course, lang)
    out.print(run(course, cohort))


@app.command()
def tasks(cohort: str, course: CourseOpt = Path("."), lang: LangOpt = None) -> None:
    """Issue-based tasks of a cohort, one row per trainee (groups expanded)."""
    from rich.table import Table

    from kit.programme import tasks as run

    speak(course, lang)
    table = run(course, cohort)
    if not len(table):
        out.print(t("cli.no_tasks"), highlight=False)
        return
    cols = ("task", "title", "assignee", "trainee", "name", "due", "deliverable")
    view = Table(*(t(f"col.{c}") for c in cols))
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
    lang: LangOpt = None,
) -> None:
    """Record one party's input to a session's pre-class deliberation (history is kept)."""
    from kit.deliberation import record_deliberation

    speak(course, lang)
    given = {
        "teacher_direction": direction,
        "trainee_expectations": expectation,
        "trainee_questions": question,
        "organiser_decisions": decision,
        "emphasis": emphasis,
        "modules": module,
    }
    changes: dict[str, Any] = {k: v for k, v in given.items() if v}
    path = record_deliberation(course, cohort, session, by=by, role=role, **changes)
    out.print(str(path), highlight=False, soft_wrap=True)
