"""`interforces report debrief --op X`: the debrief of an operation as JSON and HTML files
(journaled, with your motive). `interforces report public --op X`: the public activity
report as HTML and CSV, aggregates only, small counts suppressed (journaled too)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from interforces.commands.operator import (
    EXIT_UNKNOWN,
    ModeOption,
    MotiveOption,
    OperationOption,
    charter_of,
    consulting,
    database_url_or_exit,
    mode_of,
)
from interforces.commands.up import DataDir
from services.crisis_api.debrief import Debrief, build_debrief, debrief_html
from services.crisis_api.instants import DEFAULT_TIMEZONE
from services.crisis_api.public_report import (
    CSV_FILE,
    DEFAULT_THRESHOLD,
    HTML_FILE,
    PublicReport,
    build_public_report,
    public_report_csv,
    public_report_html,
)

app = typer.Typer(help="Reports written from the timeline.", no_args_is_help=True)

OutOption = Annotated[Path | None, typer.Option("--out", help="Directory (default: reports/<op>).")]
#: What the journal says of a public report when no motive is given.
PUBLIC_MOTIVE = "rapport public d'activité (agrégats)"


@app.command()
def debrief(
    operation: OperationOption,
    motive: MotiveOption,
    mode: ModeOption = None,
    out: OutOption = None,
    data_dir: DataDir = None,
) -> None:
    """Write debrief.json and debrief.html: incidents and handling delays, the crisis
    cell's decisions, the refusals."""
    database_url = database_url_or_exit(data_dir)
    found = asyncio.run(_debrief(database_url, operation, mode, motive))
    if found.records == 0:
        Console(stderr=True).print(f"[red]No records for {operation}.[/red]")
        raise typer.Exit(EXIT_UNKNOWN)
    directory = out or Path("reports") / operation
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "debrief.json").write_text(found.model_dump_json(indent=2), encoding="utf-8")
    (directory / "debrief.html").write_text(debrief_html(found), encoding="utf-8")
    Console(highlight=False).print(
        f"{len(found.incidents)} incidents, {len(found.decisions)} décisions, "
        f"{len(found.rejections)} refus → {directory / 'debrief.html'}, "
        f"{directory / 'debrief.json'}"
    )


async def _debrief(database_url: str, operation: str, wanted: ModeOption, motive: str) -> Debrief:
    async with consulting(
        database_url,
        action="report debrief",
        mode=wanted,
        operation=operation,
        motive=motive,
        request={"operation": operation},
    ) as conn:
        return await build_debrief(conn, await mode_of(conn, operation, wanted), operation)


@app.command()
def public(  # noqa: PLR0917 - one argument per option
    operation: OperationOption,
    mode: ModeOption = None,
    out: OutOption = None,
    threshold: Annotated[
        int, typer.Option(min=1, help="Counts under it are shown as '< threshold'.")
    ] = DEFAULT_THRESHOLD,
    motive: Annotated[
        str, typer.Option("--motive", help="Why (journaled with your user name).")
    ] = PUBLIC_MOTIVE,
    data_dir: DataDir = None,
) -> None:
    """Write public_report.html and public_report.csv: incidents by category, sector and
    agency; identity checks by legal basis and ground; mediations; refusals by reason.
    Aggregates only, no personal data."""
    database_url = database_url_or_exit(data_dir)
    charter = charter_of(data_dir, operation)
    timezone = charter.operation.timezone if charter is not None else DEFAULT_TIMEZONE
    found = asyncio.run(_public(database_url, operation, mode, motive, threshold, timezone))
    if found is None:
        Console(stderr=True).print(f"[red]No records for {operation}.[/red]")
        raise typer.Exit(EXIT_UNKNOWN)
    directory = out or Path("reports") / operation
    directory.mkdir(parents=True, exist_ok=True)
    (directory / HTML_FILE).write_text(public_report_html(found), encoding="utf-8")
    (directory / CSV_FILE).write_text(public_report_csv(found), encoding="utf-8")
    Console(highlight=False).print(
        f"{len(found.tables)} tableaux, seuil {threshold} → {directory / HTML_FILE}, "
        f"{directory / CSV_FILE}"
    )


async def _public(  # noqa: PLR0917
    database_url: str,
    operation: str,
    wanted: ModeOption,
    motive: str,
    threshold: int,
    timezone: str,
) -> PublicReport | None:
    async with consulting(
        database_url,
        action="report public",
        mode=wanted,
        operation=operation,
        motive=motive,
        request={"operation": operation, "threshold": threshold},
    ) as conn:
        report = await build_public_report(
            conn,
            await mode_of(conn, operation, wanted),
            operation,
            threshold=threshold,
            timezone=timezone,
        )
    return report if report.first_day is not None else None
