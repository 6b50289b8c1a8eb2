"""Commands for grading: grade, mark, marks in a spreadsheet, feedback, grades."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kit.cli.base import (
    CourseOpt,
    DbOpt,
    LangOpt,
    OldSessionArg,
    PdfOpt,
    SessionOpt,
    UnsafeOpt,
    app,
    err,
    fail,
    out,
    print_result,
    print_summary,
    session_option,
    speak,
)
from kit.messages import t


@app.command()
def grade(
    cohort: str,
    old_session: OldSessionArg = None,
    session: SessionOpt = None,
    course: CourseOpt = Path("."),
    db: DbOpt = None,
    workers: Annotated[int | None, typer.Option()] = None,
    force: Annotated[bool, typer.Option()] = False,
    cluster: Annotated[str | None, typer.Option()] = None,
    unsafe: UnsafeOpt = False,
    lang: LangOpt = None,
) -> None:
    from kit.grading import grade as run

    speak(course, lang)
    session = session_option(session, old_session)
    r = run(
        course, cohort, session, db=db, workers=workers, force=force, cluster=cluster, unsafe=unsafe
    )
    counts: dict[str, int] = {}
    for status in r.statuses.values():
        counts[status] = counts.get(status, 0) + 1
    summary = ", ".join(
        t("cli.count", n=n, what=t(f"status.{k}")) for k, n in sorted(counts.items())
    ) or t("cli.nothing_to_grade")
    print_summary(
        t("cli.grade_summary", cohort=cohort, summary=summary, unchanged=len(r.skipped)), r
    )
    print_result(r)


@app.command()
def mark(
    cohort: str,
    old_session: OldSessionArg = None,
    session: SessionOpt = None,
    course: CourseOpt = Path("."),
    anonymous: Annotated[bool, typer.Option()] = False,
    db: DbOpt = None,
    lang: LangOpt = None,
) -> None:
    from kit.marking.notebook import mark as run

    speak(course, lang)
    session = session_option(session, old_session)
    path = run(course, cohort, session, anonymous=anonymous, db=db)
    out.print(str(path), highlight=False, soft_wrap=True)
    out.print(t("cli.mark_open", path=path), highlight=False, soft_wrap=True)
    # -- live class and marking (#12): what is left, per session and question
    from rich.table import Table

    from kit.marking.book import left

    todo = left(course, cohort, session, db=db)
    if not len(todo):
        out.print(t("cli.mark_nothing"), highlight=False)
        return
    cols = ("session", "question", "kind", "items", "marked", "left", "groups_left")
    view = Table(*(t(f"cli.mark_col.{c}") for c in cols))
    for r in todo.itertuples(index=False):
        view.add_row(r.session, r.question, t(f"kind_{r.kind}"), str(r.items), str(r.marked),
                     str(r.left), f"{r.groups_left} / {r.groups}")  # fmt: skip
    out.print(view)
    left_n, items = int(todo["left"].sum()), int(todo["items"].sum())
    out.print(t("cli.mark_left", left=left_n, items=items), highlight=False)


@app.command("export-marks")
def export_marks(
    cohort: str,
    to: Annotated[Path, typer.Argument()],
    course: CourseOpt = Path("."),
    session: SessionOpt = None,
    anonymous: Annotated[bool, typer.Option()] = False,
    db: DbOpt = None,
    lang: LangOpt = None,
) -> None:
    from kit.marking.sheets import export_marks as run

    speak(course, lang)
    r = run(course, cohort, to, session=session, anonymous=anonymous, db=db)
    print_summary(t("cli.marks_exported", n=r.items, to=to), r)


@app.command("import-marks")
def import_marks(
    cohort: str,
    sheet: Annotated[Path, typer.Argument()],
    course: CourseOpt = Path("."),
    marker: Annotated[str, typer.Option()] = "",
    db: DbOpt = None,
    lang: LangOpt = None,
) -> None:
    from kit.marking.sheets import import_marks as run

    speak(course, lang)
    r = run(course, cohort, sheet, marker=marker, db=db)
    line = t("cli.marks_imported", applied=len(r.applied), unchanged=r.unchanged, blank=r.blank)
    print_summary(line, r)
    # -- end live class and marking


@app.command()
def feedback(
    cohort: str,
    course: CourseOpt = Path("."),
    session: SessionOpt = None,
    db: DbOpt = None,
    pdf: PdfOpt = False,
    lang: LangOpt = None,
) -> None:
    from kit.grading import feedback as run

    speak(course, lang)
    r = run(course, cohort, db=db, session=session, pdf=pdf)
    pages = [p for p in r.written if p.suffix == ".html"]
    print_summary(t("cli.feedback_summary", n=len(pages)), r)
    print_result(r)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs = {}
    for v in values or []:
        key, sep, val = v.partition("=")
        if not sep or not key.strip():
            fail([t("cli.pair_bad", option=option, value=v)])
        pairs[key.strip()] = val.strip()
    return pairs


@app.command()
def grades(
    cohort: str,
    to: Annotated[Path, typer.Option("--to")],
    course: CourseOpt = Path("."),
    db: DbOpt = None,
    format: Annotated[
        str,
        typer.Option(
            "--format",
        ),
    ] = "table",
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
        ),
    ] = None,
    assignment: Annotated[
        list[str] | None,
        typer.Option(),
    ] = None,
    provisional: Annotated[bool, typer.Option("--provisional")] = False,
    lang: LangOpt = None,
) -> None:
    from kit.grading import grades as run

    speak(course, lang)
    r = run(
        course,
        cohort,
        to,
        db=db,
        format=format,
        mapping=_pairs(map_, "--map") or None,
        assignment_ids=_pairs(assignment, "--assignment") or None,
        provisional=provisional,
    )
    for line in r.left_out:  # an LMS file holds final grades only: say what waits for marking
        err.print(f"[yellow]![/yellow] {line}", highlight=False, soft_wrap=True)
    if r.left_out:
        err.print(t("lms.left_out_fix"), highlight=False, soft_wrap=True)
    print_result(r, show=r.written)
