"""`interforces status`: is each part of the stack recorded in `<data_dir>/stack.json` up?

Checks nats-server (a connection and JetStream), PostgreSQL (`SELECT 1`) and each service
(its health answer over NATS, within a second). Exit codes: 0 every part is up, 1 a part is
down, 2 no stack is recorded in the data directory.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from interforces.commands.up import DataDir, settings_from_options
from interforces.stack.stack import ServerRecord, read_state, state_path
from interforces.stack.status import PartHealth, StackHealth, check_stack

#: Exit code when a part is down.
EXIT_DOWN = 1
#: Exit code when no stack is recorded.
EXIT_NO_STACK = 2


def status(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check every part of the stack `interforces up` runs."""
    settings = settings_from_options(data_dir)
    directory = settings.data_dir.resolve()
    state = read_state(directory)
    if state is None:
        Console(stderr=True).print(
            f"No stack recorded in {directory} (no {state_path(directory).name}): "
            "start one with `interforces up`."
        )
        raise typer.Exit(EXIT_NO_STACK)
    health = asyncio.run(
        check_stack(
            state,
            nats_url=_configured(state.nats, settings.nats_url),
            database_url=_configured(state.postgres, settings.database_url),
        )
    )
    if as_json:
        typer.echo(json.dumps(health.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print(Console(highlight=False), health)
    if not health.healthy:
        raise typer.Exit(EXIT_DOWN)


def _configured(record: ServerRecord, configured: str | None) -> str | None:
    """The configured URL (with its password) when the stack used a configured server."""
    return None if record.embedded else configured


def _print(console: Console, health: StackHealth) -> None:
    state = health.state
    if state.stopped_at is not None:
        note = f"stopped at {state.stopped_at:%Y-%m-%d %H:%M:%S %Z}"
    elif health.launcher_alive:
        note = f"launcher pid {state.launcher_pid} running"
    else:
        note = f"[red]launcher pid {state.launcher_pid} is gone[/red]"
    table = Table(title=f"Interforces — {state.data_dir} ({note})", title_justify="left")
    table.add_column("part")
    table.add_column("status")
    table.add_column("pid", justify="right")
    table.add_column("uptime", justify="right")
    table.add_column("address", overflow="fold")
    table.add_column("details")
    for part in health.parts:
        table.add_row(
            part.name,
            "[green]up[/green]" if part.up else "[red]down[/red]",
            str(part.pid or "—"),
            _duration(part.uptime_s),
            part.address,
            _details(part),
        )
    console.print(table)
    console.print("[green]All parts up.[/green]" if health.healthy else "[red]Parts down.[/red]")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _details(part: PartHealth) -> str:
    return ", ".join(
        f"{key}={json.dumps(value, separators=(',', ':')) if isinstance(value, dict) else value}"
        for key, value in part.detail.items()
    )
