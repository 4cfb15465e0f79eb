"""`interforces timeline` commands: rebuild an operation's projection from its stream into
an empty schema, and print the digest of an operation's projection (live or rebuilt) — after
a full run both digests are equal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn, TypeVar

import asyncpg
import nats
import nats.errors
import typer
from nats.aio.client import Client
from rich.console import Console
from rich.table import Table

from contracts.errors import SubjectError
from contracts.vocabulary import Mode
from interforces.commands.operator import (
    EXIT_NO_SERVER,
    EXIT_UNKNOWN,
    ModeOption,
    OperationOption,
    endpoints_or_exit,
)
from interforces.commands.up import DataDir
from interforces.stack.endpoints import Endpoints
from services.timeline.digest import Digest, digest_rows
from services.timeline.rebuild import (
    AmbiguousOperationError,
    InvalidSchemaError,
    OperationNotFoundError,
    RebuildError,
    RebuildResult,
    connect,
    find_mode,
    mode_in_database,
    mode_in_streams,
    rebuild_from_stream,
)
from services.timeline.store import EVENTS_TABLE

#: Exit code when the rebuild fails midway.
EXIT_FAILED = 1

app = typer.Typer(no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

_T = TypeVar("_T")


@app.callback()
def _timeline() -> None:
    """The timeline: rebuild an operation from its stream, digest its projection."""


@app.command()
def rebuild(
    operation: OperationOption,
    mode: ModeOption = None,
    schema: Annotated[
        str | None,
        typer.Option(help="Schema to rebuild into (dropped first).", show_default="rebuild_<op>"),
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonOption = False,
) -> None:
    """Replay the operation's whole timeline stream into an empty schema, then digest it."""
    endpoints = endpoints_or_exit(data_dir)
    result, digest = _run(lambda: _rebuild(endpoints, operation, mode, schema))
    document = {
        "operation": result.operation,
        "mode": result.mode.value,
        "schema": result.schema,
        "records": result.records,
        "duplicates": result.duplicates,
        "unreadable": result.unreadable,
        "last_seq": result.last_seq,
        "seconds": round(result.seconds, 3),
        "events_per_s": round(result.events_per_s, 1),
        "events": digest.rows[EVENTS_TABLE],
        "digest": digest.value,
    }
    _print(document, as_json, f"Rebuilt {operation} ({result.mode.value}) into {result.schema}")


@app.command()
def digest(
    operation: OperationOption,
    mode: ModeOption = None,
    schema: Annotated[
        str | None,
        typer.Option(help="Schema to digest (e.g. a rebuild's).", show_default="the live one"),
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonOption = False,
) -> None:
    """Print the digest of the operation's projection (events, notes and every table)."""
    endpoints = endpoints_or_exit(data_dir)
    found, where, result = _run(lambda: _digest(endpoints, operation, mode, schema))
    document = {
        "operation": operation,
        "mode": found.value,
        "schema": where,
        "events": result.rows[EVENTS_TABLE],
        "digest": result.value,
    }
    _print(document, as_json, f"Digest of {operation} ({found.value}) in {where}")


async def _rebuild(
    endpoints: Endpoints, operation: str, mode: Mode | None, schema: str | None
) -> tuple[RebuildResult, Digest]:
    nc = await _nats(endpoints)
    try:
        js = nc.jetstream()
        found = mode or await find_mode(js, endpoints.database_url, operation)
        result = await rebuild_from_stream(
            js, endpoints.database_url, mode=found, operation=operation, schema=schema
        )
    finally:
        await nc.close()
    conn = await connect(endpoints.database_url, result.schema)
    try:
        return result, await digest_rows(conn, mode=found, operation=operation)
    finally:
        await conn.close()


async def _digest(
    endpoints: Endpoints, operation: str, mode: Mode | None, schema: str | None
) -> tuple[Mode, str, Digest]:
    found = mode or await mode_in_database(endpoints.database_url, operation)
    if found is None:  # not projected here: the streams may know it
        nc = await _nats(endpoints)
        try:
            found = await mode_in_streams(nc.jetstream(), operation)
        finally:
            await nc.close()
    if found is None:
        raise OperationNotFoundError(operation)
    conn = await connect(endpoints.database_url, schema)
    try:
        where = str(await conn.fetchval("SELECT current_schema()"))
        if schema is not None and where != schema:
            raise InvalidSchemaError(schema, "it does not exist (rebuild into it first)")
        return found, where, await digest_rows(conn, mode=found, operation=operation)
    finally:
        await conn.close()


async def _nats(endpoints: Endpoints) -> Client:
    servers = [url.strip() for url in endpoints.nats_url.split(",")]
    return await nats.connect(
        servers, name="interforces-timeline-cli", allow_reconnect=False, connect_timeout=5
    )


def _run(work: Callable[[], Awaitable[_T]]) -> _T:
    """Run the command's coroutine; every expected failure becomes a message and an exit
    code (never a traceback)."""

    async def main() -> _T:
        return await work()

    try:
        return asyncio.run(main())
    except (OperationNotFoundError, AmbiguousOperationError) as exc:
        _fail(f"{exc} (see --mode)", EXIT_UNKNOWN, exc)
    except (InvalidSchemaError, SubjectError) as exc:
        _fail(str(exc), EXIT_NO_SERVER, exc)
    except RebuildError as exc:
        _fail(f"Rebuild failed: {exc}", EXIT_FAILED, exc)
    except asyncpg.UndefinedTableError as exc:
        _fail(f"No timeline tables there: {exc}", EXIT_UNKNOWN, exc)
    except (OSError, TimeoutError, nats.errors.Error, asyncpg.PostgresError) as exc:
        _fail(f"Servers unreachable or failing: {type(exc).__name__}: {exc}", EXIT_NO_SERVER, exc)


def _fail(message: str, code: int, cause: BaseException) -> NoReturn:
    Console(stderr=True, highlight=False).print(f"[red]{message}[/red]")
    raise typer.Exit(code) from cause


def _print(document: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    for key, value in document.items():
        if key != "digest":
            table.add_row(key, str(value))
    console = Console(highlight=False)
    console.print(table)
    console.print(f"[bold]digest[/bold] {document['digest']}", soft_wrap=True)  # whole, to copy
