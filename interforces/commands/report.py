"""`interforces report debrief --op X`: the debrief of an operation as JSON and HTML files
(journaled, with your motive)."""

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
    consulting,
    database_url_or_exit,
    mode_of,
)
from interforces.commands.up import DataDir
from services.crisis_api.debrief import Debrief, build_debrief, debrief_html

app = typer.Typer(help="Reports written from the timeline.", no_args_is_help=True)


@app.command()
def debrief(
    operation: OperationOption,
    motive: MotiveOption,
    mode: ModeOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Directory (default: reports/<op>).")
    ] = None,
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
