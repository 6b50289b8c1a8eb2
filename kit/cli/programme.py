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
    out_path: Annotated[Path | None, typer.Option("--out")] = None,
    lang: LangOpt = None,
) -> None:
    from kit.programme import guide as run

    speak(course, lang)
    out.print(str(run(course, out=out_path)), highlight=False, soft_wrap=True)


@app.command()
def report(
    cohort: Annotated[str | None, typer.Argument()] = None,
    course: CourseOpt = Path("."),
    programme: Annotated[bool, typer.Option("--programme")] = False,
    pdf: PdfOpt = False,
    db: DbOpt = None,
    out_path: Annotated[Path | None, typer.Option("--out")] = None,
    lang: LangOpt = None,
) -> None:
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
    from kit.programme import summary as run

    speak(course, lang)
    out.print(run(course, cohort))


@app.command()
def tasks(cohort: str, course: CourseOpt = Path("."), lang: LangOpt = None) -> None:
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
    by: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option()],
    course: CourseOpt = Path("."),
    direction: Annotated[str | None, typer.Option()] = None,
    expectation: Annotated[list[str] | None, typer.Option()] = None,
    question: Annotated[list[str] | None, typer.Option()] = None,
    decision: Annotated[list[str] | None, typer.Option()] = None,
    emphasis: Annotated[list[str] | None, typer.Option()] = None,
    module: Annotated[list[str] | None, typer.Option()] = None,
    lang: LangOpt = None,
) -> None:
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
