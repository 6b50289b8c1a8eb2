"""Commands for the class: release, submit, collect, live, hub."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kit.cli.base import (
    CourseOpt,
    DbOpt,
    LangOpt,
    SessionsOpt,
    app,
    err,
    out,
    print_result,
    print_summary,
    shown,
    speak,
)
from kit.messages import t


@app.command()
def release(
    cohort: str,
    course: CourseOpt = Path("."),
    sessions: SessionsOpt = None,
    trainee: Annotated[list[str] | None, typer.Option()] = None,
    lang: LangOpt = None,
) -> None:
    from kit.workbook import release as run

    speak(course, lang)
    r = run(course, cohort, sessions=sessions, trainees=trainee)
    print_summary(t("cli.release_summary", written=len(r.written), unchanged=len(r.unchanged)), r)
    print_result(r)


@app.command()
def submit(
    workbook: Path,
    exchange: Annotated[Path | None, typer.Option()] = None,
    lang: LangOpt = None,
) -> None:
    from kit.workbook import submit as run

    speak(None, lang)
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
        typer.Option(),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(),
    ] = None,
    times: Annotated[str, typer.Option()] = "arrival",
    identity: Annotated[
        str | None,
        typer.Option(),
    ] = None,
    db: DbOpt = None,
    lang: LangOpt = None,
) -> None:
    from kit.grading import collect as run

    speak(course, lang)
    r = run(course, cohort, source=source, db=db, token=token, times=times, identity=identity)
    print_summary(t("cli.collect_summary", new=len(r.written), duplicates=len(r.duplicates)), r)
    for u in r.times:  # the instructor chose another tool's times: every such row says so
        out.print(f"· {t('cli.collect_time', item=u)}", highlight=False, soft_wrap=True)
    for u in r.flagged:
        line = t("cli.collect_flagged", item=u)
        err.print(f"[yellow]![/yellow] {line}", highlight=False, soft_wrap=True)
    for u in r.unknown:
        err.print(f"[yellow]![/yellow] {t('cli.collect_unknown', item=shown(u))}", highlight=False)
    for u in r.refused:  # impersonation or a forged release (kit.exchange.trust): never filed
        err.print(f"[red]✗[/red] {t('cli.collect_refused', item=shown(u))}", highlight=False)
    print_result(r)
    if r.refused:
        raise typer.Exit(1)


@app.command()
def live(
    cohort: str,
    session: str,
    course: CourseOpt = Path("."),
    port: Annotated[int, typer.Option()] = 8800,
    ip: Annotated[str, typer.Option()] = "127.0.0.1",
    named: Annotated[bool, typer.Option()] = False,
    lang: LangOpt = None,
) -> None:
    from kit.live.server import live as run

    speak(course, lang)

    def ready(server: Any) -> None:
        out.print(t("cli.live_url", url=server.url), highlight=False, soft_wrap=True)
        out.print(t("cli.live_how"), highlight=False)
        if server.live.record_problem:
            err.print(f"[yellow]![/yellow] {server.live.record_problem}", highlight=False)
        sys.stdout.flush()

    run(course, cohort, session, host=ip, port=port, anonymous=not named, on_ready=ready)


@app.command()
def hub(
    action: Annotated[str, typer.Argument()],
    cohort: str,
    session: Annotated[str | None, typer.Argument()] = None,
    course: CourseOpt = Path("."),
    ip: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    homes: Annotated[Path, typer.Option()] = Path("/home"),
    owner: Annotated[str, typer.Option()] = "casekit",
    view: Annotated[str, typer.Option()] = "voila",
    reissue: Annotated[list[str] | None, typer.Option()] = None,
    k8s: Annotated[Path | None, typer.Option()] = None,
    lang: LangOpt = None,
) -> None:
    from kit.hub.deploy import hub as run

    speak(course, lang)
    if k8s is not None:
        from kit.hub.k8s import write_values

        out.print(str(write_values(course, cohort, k8s)), highlight=False, soft_wrap=True)
        return
    if action == "warm":
        _warm(course, cohort, session or "")
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
    if r.slips:
        # every password not yet handed out; the instructor hands each trainee their line
        out.print(t("cli.hub_passwords"), highlight=False)
        who = {a.username: a for a in r.accounts}
        for name, pw in r.slips.items():
            role = t("hub.role." + who[name].role)
            out.print(f"{name}\t{pw}\t{role}\t{who[name].name}", highlight=False)
        err.print(t("cli.hub_slips", file=str(r.slips_file)), highlight=False, soft_wrap=True)


def _warm(course: Path, cohort: str, session: str) -> None:
    """`casekit hub warm COHORT SESSION`: every trainee's server up before the class."""
    from kit.hub.warm import warm

    r = warm(course, cohort, session)
    line = t("cli.hub_warm", cohort=cohort, n=len(r.ready), session=session, seconds=r.seconds)
    out.print(f"[green]✓[/green] {line}", highlight=False)
    for user, message in r.failed.items():
        err.print(t("cli.hub_warm_failed", user=user, message=message), highlight=False)
    if r.failed:
        raise typer.Exit(1)
