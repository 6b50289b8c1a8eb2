"""The ``casekit`` command line: a thin typer layer over the ``kit`` functions.

Each command calls one function and prints its result. User errors (a bad
course file, a missing cohort, a malformed submission) print one line per
problem and exit with status 2; failed items of a batch exit with status 1.
"""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from kit.course import CourseError, UserError, declared_language
from kit.messages import set_language, t

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
SessionOpt = Annotated[str | None, typer.Option("--session", "-s", help="Only this session.")]
# `grade COHORT SESSION` and `mark COHORT SESSION` were the old forms: still read, with a note.
OldSessionArg = Annotated[
    str | None, typer.Argument(hidden=True, show_default=False, metavar="SESSION")
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Gradebook URL, e.g. postgresql+psycopg://user@host/db."),
]

UnsafeOpt = Annotated[
    bool,
    typer.Option(
        "--unsafe-no-sandbox",
        help="Run trainees' code WITHOUT the sandbox, with your own rights: only for "
        "submissions you trust, on a machine without bubblewrap (docs/security.md).",
    ),
]


class Lang(enum.StrEnum):
    zh = "zh"
    en = "en"


PdfOpt = Annotated[
    bool, typer.Option("--pdf", help="Also print each page to a PDF beside it (Chromium).")
]
LangOpt = Annotated[
    Lang | None,
    typer.Option(
        "--lang",
        help="Language of messages (default: CASEKIT_LANG, else the course's, else the locale's).",
    ),
]


def _locale_language() -> str:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def _speak(course: Path | None, lang: Lang | None) -> None:
    """Speak ``--lang``, else ``CASEKIT_LANG``, else the course's language, else the locale's."""
    chosen = (
        (lang.value if lang else None)
        or os.environ.get("CASEKIT_LANG")
        or (declared_language(course) if course is not None else None)
        or _locale_language()
    )
    set_language(chosen)
    # what the build's executor and other children print speaks it too
    os.environ["CASEKIT_LANG"] = chosen


def _session(option: str | None, old: str | None) -> str | None:
    """The session filter: ``--session``, or the old positional form with a deprecation note."""
    if old is None:
        return option
    if option is not None and option != old:
        _fail([t("cli.session_twice", old=old, option=option)])
    err.print(f"[yellow]![/yellow] {t('cli.session_positional', session=old)}", highlight=False)
    return old


def _fail(problems: list[Any], code: int = 2) -> None:
    for p in problems:
        err.print(f"[red]✗[/red] {p}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _summary(line: str, result: Any) -> None:
    """A batch's summary line: ✓ when every item went through, ✗ when some failed."""
    mark = "[red]✗[/red]" if getattr(result, "failures", None) else "[green]✓[/green]"
    out.print(f"{mark} {line}", highlight=False, soft_wrap=True)


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
def check(
    course: Annotated[Path, typer.Argument(help="Course folder.")] = Path("."),
    lang: LangOpt = None,
) -> None:
    """Validate the course: files, references, notebooks, deliberations."""
    from kit.builder import check as run

    _speak(course, lang)
    result = run(course)
    for p in result.warnings:
        err.print(f"[yellow]![/yellow] {p}", highlight=False, soft_wrap=True)
    if result.errors:
        err.print(t("cli.check_problems", n=len(result.errors), course=course), highlight=False)
        _fail(result.errors)
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
    session: SessionsOpt = None,
    workers: Annotated[
        int | None, typer.Option(help="Parallel notebooks (default: cores).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even when nothing changed.")] = False,
    engine: Annotated[str, typer.Option(help="fork (fast, default) or kernel.")] = "fork",
    cluster: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://host:port.")] = None,
    lang: LangOpt = None,
) -> None:
    """Run each session's notebook with its parameters; write both editions."""
    from kit.builder import build as run

    _speak(course, lang)
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
    line = t(
        "cli.build_summary",
        cohort=cohort,
        built=len(built),
        unchanged=len(r.sessions) - len(built),
        failed=len(r.failures),
        out=r.out,
    )
    _summary(line, r)
    _finish(r)


@app.command()
def handouts(
    cohort: str,
    course: CourseOpt = Path("."),
    session: SessionsOpt = None,
    instructor: Annotated[bool, typer.Option(help="Also write instructor handouts.")] = True,
    pdf: PdfOpt = False,
    lang: LangOpt = None,
) -> None:
    """Export a built cohort to HTML handouts; print the index path."""
    from kit.export import handouts as run

    _speak(course, lang)
    r = run(course, cohort, sessions=session, instructor=instructor, pdf=pdf)
    _finish(r, show=[r.index] if r.index else [])


@app.command()
def release(
    cohort: str,
    course: CourseOpt = Path("."),
    session: SessionsOpt = None,
    trainee: Annotated[list[str] | None, typer.Option(help="Only these trainees.")] = None,
    lang: LangOpt = None,
) -> None:
    """One personalised workbook per trainee and session into the exchange outbox."""
    from kit.workbook import release as run

    _speak(course, lang)
    r = run(course, cohort, sessions=session, trainees=trainee)
    _summary(t("cli.release_summary", written=len(r.written), unchanged=len(r.unchanged)), r)
    _finish(r)


@app.command()
def submit(
    workbook: Path,
    exchange: Annotated[
        Path | None, typer.Option(help="Exchange folder (default: the workbook's).")
    ] = None,
    lang: LangOpt = None,
) -> None:
    """Hand a workbook and its answers to the exchange inbox; print the receipt."""
    from kit.workbook import submit as run

    _speak(None, lang)
    r = run(workbook, exchange=exchange)
    for w in r.warnings:
        err.print(f"[yellow]![/yellow] {w}", highlight=False, soft_wrap=True)
    line = t("cli.submit_ok", received_at=r.received_at, sha=r.sha256[:12], folder=r.folder)
    out.print(f"[green]✓[/green] {line}", highlight=False, soft_wrap=True)


@app.command()
def collect(
    cohort: str,
    course: CourseOpt = Path("."),
    source: Annotated[
        str | None,
        typer.Option(
            help="A folder, a .zip/.tar(.gz), or a hub's https://HUB/services/casekit-exchange/ "
            "instead of the inbox."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="An instructor's hub API token for a hub --source (default $CASEKIT_HUB_TOKEN).",
        ),
    ] = None,
    db: DbOpt = None,
    lang: LangOpt = None,
) -> None:
    """Take submissions into the append-only store."""
    from kit.grading import collect as run

    _speak(course, lang)
    r = run(course, cohort, source=source, db=db, token=token)
    _summary(t("cli.collect_summary", new=len(r.written), duplicates=len(r.duplicates)), r)
    for u in r.unknown:
        err.print(f"[yellow]![/yellow] {t('cli.collect_unknown', item=u)}", highlight=False)
    for u in r.refused:  # impersonation or a forged release (kit.hub.trust): never filed
        err.print(f"[red]✗[/red] {t('cli.collect_refused', item=u)}", highlight=False)
    _finish(r)
    if r.refused:
        raise typer.Exit(1)


@app.command()
def grade(
    cohort: str,
    old_session: OldSessionArg = None,
    session: SessionOpt = None,
    course: CourseOpt = Path("."),
    db: DbOpt = None,
    workers: Annotated[int | None, typer.Option(help="Parallel submissions.")] = None,
    force: Annotated[bool, typer.Option(help="Regrade what is already graded.")] = False,
    cluster: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://host:port.")] = None,
    unsafe: UnsafeOpt = False,
    lang: LangOpt = None,
) -> None:
    """Autograde submissions into the gradebook; open items wait for marking.

    Trainees' code runs in a sandbox (bubblewrap); see docs/security.md.
    """
    from kit.grading import grade as run

    _speak(course, lang)
    session = _session(session, old_session)
    r = run(
        course, cohort, session, db=db, workers=workers, force=force, cluster=cluster, unsafe=unsafe
    )
    counts: dict[str, int] = {}
    for status in r.statuses.values():
        counts[status] = counts.get(status, 0) + 1
    summary = ", ".join(
        t("cli.count", n=n, what=t(f"status.{k}")) for k, n in sorted(counts.items())
    ) or t("cli.nothing_to_grade")
    _summary(t("cli.grade_summary", cohort=cohort, summary=summary, unchanged=len(r.skipped)), r)
    _finish(r)


@app.command()
def mark(
    cohort: str,
    old_session: OldSessionArg = None,
    session: SessionOpt = None,
    course: CourseOpt = Path("."),
    anonymous: Annotated[bool, typer.Option(help="Hide trainee names while marking.")] = False,
    db: DbOpt = None,
    lang: LangOpt = None,
) -> None:
    """Write the marking notebook for essays, logs and reports; print its path and what is left."""
    from kit.marking import mark as run

    _speak(course, lang)
    session = _session(session, old_session)
    path = run(course, cohort, session, anonymous=anonymous, db=db)
    out.print(str(path), highlight=False, soft_wrap=True)
    out.print(t("cli.mark_open", path=path), highlight=False, soft_wrap=True)
    # -- live class and marking (#12): what is left, per session and question
    from rich.table import Table

    from kit.markbook import left

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
    to: Annotated[Path, typer.Argument(help="marks.xlsx or marks.csv")],
    course: CourseOpt = Path("."),
    session: SessionOpt = None,
    anonymous: Annotated[bool, typer.Option(help="Pseudonyms instead of names.")] = False,
    db: DbOpt = None,
    lang: LangOpt = None,
) -> None:
    """Write the marking queue and its marks to a spreadsheet for marking offline."""
    from kit.marksheet import export_marks as run

    _speak(course, lang)
    r = run(course, cohort, to, session=session, anonymous=anonymous, db=db)
    _summary(t("cli.marks_exported", n=r.items, to=to), r)


@app.command("import-marks")
def import_marks(
    cohort: str,
    sheet: Annotated[Path, typer.Argument(help="A sheet written by export-marks, filled in.")],
    course: CourseOpt = Path("."),
    marker: Annotated[str, typer.Option(help="Who marked (kept with each mark).")] = "",
    db: DbOpt = None,
    lang: LangOpt = None,
) -> None:
    """Read marks from a spreadsheet; any bad row and nothing is written."""
    from kit.marksheet import import_marks as run

    _speak(course, lang)
    r = run(course, cohort, sheet, marker=marker, db=db)
    line = t("cli.marks_imported", applied=len(r.applied), unchanged=r.unchanged, blank=r.blank)
    _summary(line, r)
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
    """One graded HTML page per trainee and session."""
    from kit.grading import feedback as run

    _speak(course, lang)
    r = run(course, cohort, db=db, session=session, pdf=pdf)
    pages = [p for p in r.written if p.suffix == ".html"]
    _summary(t("cli.feedback_summary", n=len(pages)), r)
    _finish(r)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs = {}
    for v in values or []:
        key, sep, val = v.partition("=")
        if not sep or not key.strip():
            _fail([t("cli.pair_bad", option=option, value=v)])
        pairs[key.strip()] = val.strip()
    return pairs


@app.command()
def grades(
    cohort: str,
    to: Annotated[Path, typer.Option("--to", help="grades.csv or grades.xlsx")],
    course: CourseOpt = Path("."),
    db: DbOpt = None,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="table (casekit's own, default), moodle or canvas (LMS grade import CSV).",
        ),
    ] = "table",
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="LMS column=roster column, e.g. 'Email address=email' or 'SIS Login ID=id' (repeatable).",
        ),
    ] = None,
    assignment: Annotated[
        list[str] | None,
        typer.Option(help="Canvas: SESSION=ASSIGNMENT_ID, to update an existing assignment."),
    ] = None,
    lang: LangOpt = None,
) -> None:
    """Export the gradebook with per-unit subtotals, or as a Moodle/Canvas grade file."""
    from kit.grading import grades as run

    _speak(course, lang)
    r = run(
        course,
        cohort,
        to,
        db=db,
        format=format,
        mapping=_pairs(map_, "--map") or None,
        assignment_ids=_pairs(assignment, "--assignment") or None,
    )
    _finish(r, show=r.written)


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

    _speak(course, lang)
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

    _speak(course, lang)
    if programme:
        path = programme_report(course, db=db, out=out_path, pdf=pdf)
    elif cohort is None:
        _fail([t("cli.report_which")])
        return
    else:
        path = run(course, cohort, db=db, out=out_path, pdf=pdf)
    out.print(str(path), highlight=False, soft_wrap=True)


@app.command()
def summary(cohort: str, course: CourseOpt = Path("."), lang: LangOpt = None) -> None:
    """Sessions by unit, hours, interactive share, deliberations and tasks of a cohort."""
    from kit.programme import summary as run

    _speak(course, lang)
    out.print(run(course, cohort))


@app.command()
def tasks(cohort: str, course: CourseOpt = Path("."), lang: LangOpt = None) -> None:
    """Issue-based tasks of a cohort, one row per trainee (groups expanded)."""
    from rich.table import Table

    from kit.programme import tasks as run

    _speak(course, lang)
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

    _speak(course, lang)
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
    lang: LangOpt = None,
) -> None:
    """The room's answers on the projector as trainees give them; open, close and reveal each question."""
    from kit.liveview import live as run

    _speak(course, lang)

    def ready(server: Any) -> None:
        out.print(t("cli.live_url", url=server.url), highlight=False, soft_wrap=True)
        out.print(t("cli.live_how"), highlight=False)
        if server.live.record_problem:
            err.print(f"[yellow]![/yellow] {server.live.record_problem}", highlight=False)
        sys.stdout.flush()

    run(course, cohort, session, host=ip, port=port, anonymous=not named, on_ready=ready)


# -- end live class


@app.command("try")
def try_(
    cohort: str,
    session: str,
    answers: Annotated[
        Path, typer.Option(help="Answers by question id: a .json, .yaml or .toml file.")
    ],
    course: CourseOpt = Path("."),
    trainee: Annotated[
        str | None, typer.Option(help="Whose workbook (default: the roster's first).")
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Where to write the feedback page.")
    ] = None,
    unsafe: UnsafeOpt = False,
    lang: LangOpt = None,
) -> None:
    """Grade a set of answers as a submission would be; print the scores, write the feedback page."""
    from rich.table import Table

    from kit.trial import try_answers

    _speak(course, lang)
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
    _summary(total, r)
    _finish(r, show=[r.page] if r.page else [])


# ---- reach (#14): `casekit import nbgrader|otter` ---------------------------------------
import_app = typer.Typer(
    help="Bring assignments over from nbgrader or otter-grader.", no_args_is_help=True
)
app.add_typer(import_app, name="import")

OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Where to write (default: the course's exercises/).")
]
ForceOpt = Annotated[bool, typer.Option(help="Overwrite notebooks an earlier import wrote.")]


def _imported(
    kind: str, source: Path, course: Path, out_dir: Path | None, force: bool, lang: Lang | None
) -> None:
    from kit.importers import import_

    _speak(course, lang)
    r = import_(kind, source, course=course, out=out_dir, force=force)
    out.print(r.report(), highlight=False, soft_wrap=True)
    lost = sum(1 for ns in r.notes.values() for n in ns if n.lost)
    _summary(t("cli.import_summary", n=len(r.notebooks), lost=lost), r)
    _finish(r)


@import_app.command("nbgrader")
def import_nbgrader(
    source: Annotated[
        Path, typer.Argument(help="A source notebook or source/<assignment>/ folder.")
    ],
    course: CourseOpt = Path("."),
    out_dir: OutOpt = None,
    force: ForceOpt = False,
    lang: LangOpt = None,
) -> None:
    """Turn an nbgrader source assignment into casekit session notebooks."""
    _imported("nbgrader", source, course, out_dir, force, lang)


@import_app.command("otter")
def import_otter(
    source: Annotated[Path, typer.Argument(help="An otter-grader master notebook.")],
    course: CourseOpt = Path("."),
    out_dir: OutOpt = None,
    force: ForceOpt = False,
    lang: LangOpt = None,
) -> None:
    """Turn an otter-grader master notebook into a casekit session notebook."""
    _imported("otter", source, course, out_dir, force, lang)


# ---- end reach ---------------------------------------------------------------------------


# ---- the classroom hub (#11) -------------------------------------------------------------


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
    view: Annotated[str, typer.Option(help="What trainees land on: voila or lab.")] = "voila",
    reissue: Annotated[
        list[str] | None, typer.Option(help="Give this account a new password (repeatable).")
    ] = None,
    k8s: Annotated[
        Path | None, typer.Option(help="Write zero-to-jupyterhub values to this file instead.")
    ] = None,
    lang: LangOpt = None,
) -> None:
    """A cohort's JupyterHub on this machine: accounts, homes, exchange service; start and stop."""
    from kit.hub.deploy import hub as run

    _speak(course, lang)
    if k8s is not None:
        from kit.hub.k8s import write_values

        out.print(str(write_values(course, cohort, k8s)), highlight=False, soft_wrap=True)
        return
    r = run(course, cohort, action, ip=ip, port=port, homes=homes, owner=owner, view=view,
            reissue=reissue)  # fmt: skip
    if r.removed:
        out.print(t("cli.hub_removed", n=len(r.removed), names=", ".join(r.removed)))
    if r.left:
        err.print(t("cli.hub_left", homes=str(homes), names=", ".join(r.left)), highlight=False)
    if action in ("start", "config"):
        line = t(
            "cli.hub_ready", cohort=cohort, url=r.url, written=len(r.written), kept=len(r.kept)
        )
        out.print(f"[green]✓[/green] {line}", highlight=False)
    elif action == "status":
        key = "cli.hub_running" if r.running else "cli.hub_stopped"
        out.print(t(key, cohort=cohort, pid=r.pid, url=r.url), highlight=False)
    elif action == "stop":
        out.print(t("cli.hub_stopped" if r.pid else "cli.hub_not_running", cohort=cohort))
    if r.passwords:
        # printed once: the instructor hands each trainee their line
        out.print(t("cli.hub_passwords"), highlight=False)
        who = {a.username: a for a in r.accounts}
        for name, pw in r.passwords.items():
            role = t("hub.role." + who[name].role)
            out.print(f"{name}\t{pw}\t{role}\t{who[name].name}", highlight=False)


# ---- end the classroom hub ------------------------------------------------------------------


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
        err.print(t("cli.interrupted"))
        sys.exit(130)
