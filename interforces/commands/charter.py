"""`interforces charter` commands.

`check FILE` loads an operation charter and tells the city security deputy what it says and
where it leaves gaps. Exit codes: 0 the charter holds, 1 it does not load (each fault with
its file, line and path), 2 it loads but a gap goes against the doctrine.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from contracts.charter import Charter, TimeWindow, load_charter
from contracts.charter.gaps import (
    ActorSummary,
    Gap,
    SectorSummary,
    find_gaps,
    has_errors,
    sector_rows,
    summary_rows,
)
from contracts.errors import CharterError
from contracts.vocabulary import Agency

app = typer.Typer(no_args_is_help=True)

#: Column headers of the coverage table.
_SHORT: dict[Agency, str] = {
    Agency.POLICE_NATIONALE: "PN",
    Agency.GENDARMERIE: "GN",
    Agency.POLICE_MUNICIPALE: "PM",
    Agency.SECURITE_PRIVEE: "SP",
    Agency.MEDIATION: "MED",
    Agency.CRISIS_CELL: "CC",
    Agency.EXERCISE_CONTROL: "EX",
}

#: Exit code of a charter that does not load.
EXIT_INVALID = 1
#: Exit code of a charter that loads but has a gap of severity `error`.
EXIT_DOCTRINE = 2


@app.callback()
def _charter() -> None:
    """Operation charters: check them before the event."""


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="Charter YAML file.", show_default=False)],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable summary instead.")
    ] = False,
) -> None:
    """Load a charter, show its actors and sectors, and list its gaps.

    Exits 1 when the charter does not load, 2 when a gap goes against the doctrine.
    """
    try:
        charter = load_charter(file)
    except CharterError as exc:
        errors = Console(stderr=True)
        errors.print(
            Text(f"{exc.source}: charte invalide ({len(exc.problems)} problème(s))", "bold red"),
            soft_wrap=True,
        )
        for problem in exc.problems:
            errors.print(Text(str(problem), style="red"), soft_wrap=True)
        raise typer.Exit(EXIT_INVALID) from exc
    gaps = find_gaps(charter)
    if json_output:
        typer.echo(json.dumps(summary(charter, gaps), ensure_ascii=False, indent=2))
    else:
        _report(Console(), charter, gaps)
    if has_errors(gaps):
        raise typer.Exit(EXIT_DOCTRINE)


def summary(charter: Charter, gaps: list[Gap]) -> dict[str, Any]:
    """The machine-readable summary printed by `check --json`."""
    operation = charter.operation
    return {
        "operation": {
            "id": operation.id,
            "name": operation.name,
            "mode": operation.mode.value,
            "authority": operation.authority,
            "timezone": operation.timezone,
            "window": _window_json(operation.window),
        },
        "actors": [_actor_json(row) for row in summary_rows(charter)],
        "sectors": [_sector_json(row) for row in sector_rows(charter)],
        "gaps": [{"code": g.code, "severity": g.severity, "message": g.message} for g in gaps],
        "errors": sum(1 for g in gaps if g.severity == "error"),
        "warnings": sum(1 for g in gaps if g.severity == "warning"),
    }


def _actor_json(row: ActorSummary) -> dict[str, Any]:
    return {
        "agency": row.agency.value,
        "name": row.name,
        "armed": row.armed,
        "sectors": list(row.sectors),
        "event_types": list(row.event_types),
        "event_count": row.event_count,
        "incident_categories": [c.value for c in row.incident_categories],
        "witness_categories": [c.value for c in row.witness_categories],
        "capabilities": [c.value for c in row.capabilities],
        "window": _window_json(row.window),
        "own_window": row.own_window,
    }


def _sector_json(row: SectorSummary) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "area_ha": round(row.area_ha, 2),
        "holders": [a.value for a in row.holders],
    }


def _window_json(window: TimeWindow) -> dict[str, str]:
    return {"start": window.start.isoformat(), "end": window.end.isoformat()}


# --- Human report -------------------------------------------------------------------------


def _report(console: Console, charter: Charter, gaps: list[Gap]) -> None:
    operation = charter.operation
    zone = _zone(operation.timezone)
    header = Text()
    header.append(operation.name, style="bold")
    header.append(f"\n{operation.id} · {operation.mode.value} · {operation.authority}")
    header.append(f"\n{_window_text(operation.window, zone)} ({operation.timezone})")
    header.append(
        f"\n{len(charter.sectors)} secteurs · {len(charter.actors)} acteurs · "
        f"{_authorisation_count(charter)} autorisation(s) · "
        f"{len(charter.distribution)} règle(s) de diffusion"
    )
    console.print(Panel(header, title="Opération", expand=False))

    for row in summary_rows(charter):
        console.print(_actor_table(row, zone))

    sectors = Table(title="Secteurs")
    sectors.add_column("Id", no_wrap=True)
    sectors.add_column("Type")
    sectors.add_column("Nom")
    sectors.add_column("Surface (ha)", justify="right", no_wrap=True)
    rows = sector_rows(charter)
    for sector in rows:
        sectors.add_row(
            Text(sector.id), Text(sector.kind), Text(sector.name), Text(f"{sector.area_ha:.2f}")
        )
    console.print(sectors)
    console.print(_coverage_table(charter, rows))

    _print_gaps(console, gaps)


def _actor_table(row: ActorSummary, zone: tzinfo | None) -> Table:
    table = Table(
        title=f"{row.agency.value} — {row.name}",
        title_justify="left",
        show_header=False,
        box=box.SIMPLE,
    )
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    window = _window_text(row.window, zone) + ("" if row.own_window else " (opération)")
    table.add_row("Armé", Text("oui" if row.armed else "non"))
    table.add_row("Fenêtre", Text(window))
    table.add_row("Moyens", Text(", ".join(c.value for c in row.capabilities) or "—"))
    table.add_row(f"Secteurs ({len(row.sectors)})", Text(", ".join(row.sectors) or "—"))
    table.add_row(f"Événements ({row.event_count})", Text(", ".join(row.event_types)))
    table.add_row(
        f"Catégories ({len(row.incident_categories)})",
        Text(", ".join(c.value for c in row.incident_categories) or "—"),
    )
    if row.witness_categories:
        table.add_row("Témoin", Text(", ".join(c.value for c in row.witness_categories)))
    return table


def _coverage_table(charter: Charter, rows: list[SectorSummary]) -> Table:
    agencies = [a.agency for a in charter.actors]
    table = Table(title="Qui tient quel secteur")
    table.add_column("Secteur", no_wrap=True)
    for agency in agencies:
        table.add_column(_SHORT.get(agency, agency.value), justify="center", no_wrap=True)
    for sector in rows:
        marks = [Text("●" if a in sector.holders else "·") for a in agencies]
        table.add_row(Text(sector.id), *marks)
    return table


def _print_gaps(console: Console, gaps: list[Gap]) -> None:
    if not gaps:
        console.print(Text("Aucune lacune : la charte tient.", style="bold green"))
        return
    errors = [g for g in gaps if g.severity == "error"]
    warnings = [g for g in gaps if g.severity == "warning"]
    console.print(
        Text(f"Lacunes : {len(errors)} erreur(s), {len(warnings)} avertissement(s)", "bold")
    )
    for gap in (*errors, *warnings):
        line = Text()
        if gap.severity == "error":
            line.append("ERREUR ", style="bold red")
        else:
            line.append("AVERTISSEMENT ", style="bold yellow")
        line.append(f"[{gap.code}] ", style="dim")
        line.append(gap.message)
        console.print(line, soft_wrap=True)


def _authorisation_count(charter: Charter) -> int:
    auth = charter.authorisations
    return len(auth.drones) + len(auth.video_extracts) + len(auth.video_analytics)


def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _window_text(window: TimeWindow, zone: tzinfo | None) -> str:
    return f"{_local(window.start, zone)} → {_local(window.end, zone)}"


def _local(instant: datetime, zone: tzinfo | None) -> str:
    shown = instant.astimezone(zone) if zone is not None else instant
    return shown.strftime("%d/%m/%Y %H:%M")
