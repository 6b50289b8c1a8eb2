"""Commands for authors: check, build, handouts, try, import."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kit.cli.base import (
    CourseOpt,
    Lang,
    LangOpt,
    PdfOpt,
    SessionsOpt,
    UnsafeOpt,
    app,
    err,
    fail,
    out,
    print_result,
    print_summary,
    speak,
)
from kit.messages import t
from kit.ownership import give_back


@app.command()
def check(
    course: Annotated[Path, typer.Argument()] = Path("."),
    lang: LangOpt = None,
) -> None:
    from kit.builder import check as run

    speak(course, lang)
    result = run(course)
    for p in result.warnings:
        err.print(f"[yellow]![/yellow] {p}", highlight=False, soft_wrap=True)
    if result.errors:
        err.print(t("cli.check_problems", n=len(result.errors), course=course), highlight=False)
        fail(result.errors)
    ok = t(
        "cli.check_ok",
        course=course,
        cohorts=result.cohorts,
        notebooks=result.notebooks,
        warnings=len(result.warnings),
    )
    out.print(f"[green]✓[/green] {ok}", highlight=False)


@app.command()
def build(
    cohort: str,
    course: CourseOpt = Path("."),
    sessions: SessionsOpt = None,
    workers: Annotated[int | None, typer.Option()] = None,
    force: Annotated[bool, typer.Option()] = False,
    engine: Annotated[str, typer.Option()] = "fork",
    cluster: Annotated[str | None, typer.Option()] = None,
    handouts: Annotated[bool, typer.Option("--handouts")] = False,
    lang: LangOpt = None,
) -> None:
    from kit.builder import build as run

    speak(course, lang)
    r = run(course, cohort, sessions=sessions, workers=workers, force=force, engine=engine,
            cluster=cluster, handouts=handouts)  # fmt: skip
    give_back(course, course / "build")  # `sudo casekit build`: build/ stays the instructor's
    built = sum(1 for s in r.sessions if not s.cached)
    unchanged, failed = len(r.sessions) - built, len(r.failed_sessions)
    line = t("cli.build_summary", cohort=cohort, built=built, unchanged=unchanged, failed=failed,
             out=r.out)  # fmt: skip
    if r.variants:
        fresh = sum(1 for v in r.variants if not v.cached)
        line += t("cli.build_variants", built=fresh, unchanged=len(r.variants) - fresh)
    print_summary(line, r)
    print_result(r, show=[r.handouts.index] if r.handouts and r.handouts.index else [])


@app.command()
def handouts(
    cohort: str,
    course: CourseOpt = Path("."),
    sessions: SessionsOpt = None,
    instructor: Annotated[bool, typer.Option()] = True,
    pdf: PdfOpt = False,
    lang: LangOpt = None,
) -> None:
    from kit.pages.handouts import handouts as run

    speak(course, lang)
    r = run(course, cohort, sessions=sessions, instructor=instructor, pdf=pdf)
    print_result(r, show=[r.index] if r.index else [])


@app.command("try")
def try_(
    cohort: str,
    session: str,
    answers: Annotated[Path, typer.Option()],
    course: CourseOpt = Path("."),
    trainee: Annotated[str | None, typer.Option()] = None,
    out_path: Annotated[Path | None, typer.Option("--out")] = None,
    unsafe: UnsafeOpt = False,
    lang: LangOpt = None,
) -> None:
    from rich.table import Table

    from kit.trial import try_answers

    speak(course, lang)
    r = try_answers(course, cohort, session, answers, trainee=trainee, out=out_path, unsafe=unsafe)
    view = Table(*(t(f"try.col.{c}") for c in ("question", "kind", "points", "status", "detail")))
    for q in r.questions:
        points = f"{q['points']:g} / {q['max_points']:g}"
        status = t(f"score_status.{q['status']}")
        view.add_row(q["question"], t(f"kind_{q['kind']}"), points, status, q["detail"])
    out.print(view)
    for test in r.tests:
        mark = "✓" if test["passed"] else "✗"
        hidden = t("try.hidden") if test["hidden"] else ""
        line = f"{mark} {test['question']} · {test['name']}{hidden}"
        why = t("feedback.not_answered") if test["message"] == "unanswered" else test["message"]
        out.print(line + ("" if test["passed"] else f": {why}"), highlight=False)
    total = t("try.total", points=r.points, max_points=r.max_points)
    print_summary(total, r)
    print_result(r, show=[r.page] if r.page else [])


# ---- reach (#14): `casekit import nbgrader|otter` ---------------------------------------
import_app = typer.Typer(no_args_is_help=True)
app.add_typer(import_app, name="import")

OutOpt = Annotated[Path | None, typer.Option("--out")]
ForceOpt = Annotated[bool, typer.Option()]


def _imported(
    kind: str, source: Path, course: Path, out_dir: Path | None, force: bool, lang: Lang | None
) -> None:
    from kit.importers import import_

    speak(course, lang)
    r = import_(kind, source, course=course, out=out_dir, force=force)
    out.print(r.report(), highlight=False, soft_wrap=True)
    lost = sum(1 for ns in r.notes.values() for n in ns if n.lost)
    print_summary(t("cli.import_summary", n=len(r.notebooks), lost=lost), r)
    print_result(r)


@import_app.command("nbgrader")
def import_nbgrader(
    source: Annotated[Path, typer.Argument()],
    course: CourseOpt = Path("."),
    out_dir: OutOpt = None,
    force: ForceOpt = False,
    lang: LangOpt = None,
) -> None:
    _imported("nbgrader", source, course, out_dir, force, lang)


@import_app.command("otter")
def import_otter(
    source: Annotated[Path, typer.Argument()],
    course: CourseOpt = Path("."),
    out_dir: OutOpt = None,
    force: ForceOpt = False,
    lang: LangOpt = None,
) -> None:
    _imported("otter", source, course, out_dir, force, lang)
