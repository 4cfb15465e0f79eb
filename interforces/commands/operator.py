"""What the operator's commands share: the database of the running (or configured) stack,
the mode of an operation, its charter, and a journal entry for every consultation — a
command-line read of the timeline is accountable like an API call."""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console

from contracts.charter.loader import charter_files, load_charter
from contracts.charter.model import Charter
from contracts.vocabulary import Mode
from interforces.commands.up import settings_from_options
from interforces.stack.endpoints import (
    Endpoints,
    EndpointsError,
    resolve_database_url,
    resolve_endpoints,
)
from services.crisis_api import journal
from services.crisis_api.auth import Principal, Role

#: Exit code when no server can be reached.
EXIT_NO_SERVER = 2
#: Exit code when the operation is unknown.
EXIT_UNKNOWN = 3

OperationOption = Annotated[str, typer.Option("--op", help="Operation id.")]
ModeOption = Annotated[
    Mode | None, typer.Option("--mode", help="live or exercise (default: where the op is).")
]
MotiveOption = Annotated[
    str,
    typer.Option("--motive", help="Why you consult it (journaled with your user name)."),
]

#: The operator reads as the crisis cell does.
OPERATOR_ROLE = Role.CRISIS_CELL


def operator() -> Principal:
    """The person at the terminal, as the journal names them."""
    return Principal(name=f"cli:{getpass.getuser()}"[:80], role=OPERATOR_ROLE)


def endpoints_or_exit(data_dir: Path | None) -> Endpoints:
    """The servers to talk to, or a clear message and exit code 2."""
    try:
        return resolve_endpoints(settings_from_options(data_dir))
    except EndpointsError as exc:
        Console(stderr=True).print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_NO_SERVER) from exc


def database_url_or_exit(data_dir: Path | None) -> str:
    """The PostgreSQL to read (a database-only command), or a message and exit code 2."""
    try:
        return resolve_database_url(settings_from_options(data_dir))
    except EndpointsError as exc:
        Console(stderr=True).print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_NO_SERVER) from exc


def charter_of(data_dir: Path | None, operation: str) -> Charter | None:
    """The configured charter of `operation`, if any."""
    for file in charter_files(settings_from_options(data_dir).charters):
        charter = load_charter(file)
        if charter.operation.id == operation:
            return charter
    return None


async def mode_of(conn: asyncpg.Connection, operation: str, mode: Mode | None) -> Mode:
    """The given mode, or the one the operation's records are in (exit 3 when none)."""
    if mode is not None:
        return mode
    found = await conn.fetch(
        "SELECT DISTINCT mode FROM timeline_events WHERE operation = $1 ORDER BY mode", operation
    )
    if len(found) != 1:
        problem = "is in both modes: say --mode" if found else "is not on the timeline"
        Console(stderr=True).print(f"[red]Operation {operation!r} {problem}.[/red]")
        raise typer.Exit(EXIT_UNKNOWN)
    return Mode(found[0]["mode"])


@asynccontextmanager
async def consulting(
    database_url: str,
    *,
    action: str,
    mode: Mode | None,
    operation: str,
    motive: str,
    request: dict[str, Any],
) -> AsyncIterator[asyncpg.Connection]:
    """A connection for one consultation, journaled before anything is shown."""
    conn = await asyncpg.connect(database_url)
    try:
        who = operator()
        await journal.append(
            conn,
            journal.JournalEntry(
                who=who.name,
                role="operator",
                agency=None,
                mode=mode.value if mode else None,
                operation=operation,
                action=action,
                request=request,
                motive=" ".join(motive.split()) or None,
                status=200,
                result_count=None,
            ),
        )
        yield conn
    finally:
        await conn.close()
