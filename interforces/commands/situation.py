"""`interforces timeline show --op X --at HH:MM`: the situation of an operation at an
instant, as the crisis cell sees it (journaled, with your motive)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from interforces.commands.operator import (
    ModeOption,
    MotiveOption,
    OperationOption,
    charter_of,
    consulting,
    database_url_or_exit,
    mode_of,
    operator,
)
from interforces.commands.up import DataDir
from services.crisis_api import reads
from services.crisis_api.instants import DEFAULT_TIMEZONE, resolve_instant
from services.crisis_api.situation import Basis, Situation, feature_collection, situation_of


def show(  # noqa: PLR0917 - one argument per option
    operation: OperationOption,
    motive: MotiveOption,
    at: Annotated[
        str | None, typer.Option("--at", help="HH:MM (operation's local time) or ISO 8601.")
    ] = None,
    mode: ModeOption = None,
    basis: Annotated[Basis, typer.Option(help="Clock --at reads.")] = Basis.OCCURRED,
    as_json: Annotated[bool, typer.Option("--json", help="Print the GeoJSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Show the units, open incidents, security perimeters and drone flights at an instant."""
    database_url = database_url_or_exit(data_dir)
    charter = charter_of(data_dir, operation)
    situation = asyncio.run(_situation(database_url, operation, mode, at, basis, motive, data_dir))
    collection = feature_collection(situation, charter.sectors if charter else ())
    if as_json:
        typer.echo(json.dumps(collection, ensure_ascii=False, indent=2))
        return
    timezone = charter.operation.timezone if charter else DEFAULT_TIMEZONE
    _print(Console(highlight=False), situation, collection, ZoneInfo(timezone))


async def _situation(  # noqa: PLR0917
    database_url: str,
    operation: str,
    wanted: Any,
    at: str | None,
    basis: Basis,
    motive: str,
    data_dir: Path | None,
) -> Situation:
    request = {"operation": operation, "at": at, "basis": basis.value}
    async with consulting(
        database_url,
        action="timeline show",
        mode=wanted,
        operation=operation,
        motive=motive,
        request=request,
    ) as conn:
        mode = await mode_of(conn, operation, wanted)
        first = await reads.first_occurred_at(conn, mode, operation)
        charter = charter_of(data_dir, operation)
        timezone = charter.operation.timezone if charter else DEFAULT_TIMEZONE
        instant = resolve_instant(at, first, timezone) if at and first else datetime.now(UTC)
        records = await reads.records_until(
            conn, operator(), mode=mode, operation=operation, at=instant, basis=basis
        )
    return situation_of(records, mode=mode, operation=operation, at=instant, basis=basis)


def _print(
    console: Console, situation: Situation, collection: dict[str, Any], zone: ZoneInfo
) -> None:
    console.rule(
        f"[bold]{situation.operation}[/bold] ({situation.mode.value}) à "
        f"{situation.at.astimezone(zone):%Y-%m-%d %H:%M:%S %Z} — "
        f"{situation.records} enregistrements"
    )
    tables: dict[str, Table] = {}
    columns = {
        "unit": ("unit", "agency", "status", "incident", "position_at"),
        "incident": ("incident", "category", "severity", "status", "assignee", "reported_at"),
        "security_perimeter": ("perimeter", "incident", "reason", "established_at"),
        "drone_flight": ("flight", "agency", "authorisation", "purpose", "started_at"),
    }
    for feature in collection["features"]:
        props = feature["properties"]
        kind = props["kind"]
        if kind not in columns:
            continue
        if kind not in tables:
            tables[kind] = Table(title=kind, title_justify="left")
            for column in columns[kind]:
                tables[kind].add_column(column)
        tables[kind].add_row(*(str(props.get(c) or "—") for c in columns[kind]))
    for table in tables.values():
        console.print(table)
    if not tables:
        console.print("Rien en cours à cet instant.")
