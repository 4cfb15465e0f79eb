"""`interforces journal`: check the consultation journal's hash chain, list its last records.

`verify` exits 0 when the chain is intact (printing its rows and head hash: keep the hash and
give it back with `--expect-head` to also detect a cut tail), 1 naming the first broken seq.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn, TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from interforces.commands.operator import EXIT_NO_SERVER, database_url_or_exit
from interforces.commands.up import DataDir
from services.crisis_api import journal
from services.crisis_api.journal_chain import JournalRecord, Verification, timestamp_text

#: Exit code of `verify` when the chain is broken.
EXIT_BROKEN = 1

app = typer.Typer(no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
T = TypeVar("T")
_SHOW_COLUMNS = ("seq", "at (UTC)", "who", "role", "operation", "action", "motive", "status", "n")


@app.callback()
def _journal() -> None:
    """The consultation journal: every read of the timeline, append-only, hash-chained."""


@app.command()
def verify(
    data_dir: DataDir = None,
    expect_head: Annotated[
        str | None,
        typer.Option("--expect-head", help="A head hash printed earlier: it must still be there."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every record's hash and link; exit 1 naming the first broken seq."""
    url = database_url_or_exit(data_dir)
    result = _run(url, lambda conn: journal.verify(conn, expect_head=expect_head))
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
    else:
        _print_verification(Console(highlight=False), result)
    if not result.ok:
        raise typer.Exit(EXIT_BROKEN)


@app.command()
def show(
    data_dir: DataDir = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=journal.MAX_PAGE, help="How many records.")
    ] = 20,
    as_json: JsonOption = False,
) -> None:
    """List the last records, oldest first."""
    url = database_url_or_exit(data_dir)
    records = _run(url, lambda conn: journal.last(conn, limit))
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in records], ensure_ascii=False))
        return
    _print_records(Console(highlight=False), records)


def _run(
    database_url: str, query: Callable[[asyncpg.Connection[asyncpg.Record]], Awaitable[T]]
) -> T:
    """`query` on a connection to the journal's database; exit 2 when it cannot be read."""

    async def run() -> T:
        conn = await asyncpg.connect(database_url)
        try:
            return await query(conn)
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except asyncpg.UndefinedTableError as exc:
        _fail("this database has no consultation journal (the migrations have not run)", exc)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        _fail(f"cannot read the journal: {type(exc).__name__}: {exc}", exc)


def _fail(message: str, exc: Exception) -> NoReturn:
    Console(stderr=True, highlight=False).print(f"[red]{message}[/red]")
    raise typer.Exit(EXIT_NO_SERVER) from exc


def _print_verification(console: Console, result: Verification) -> None:
    if result.broken is None:
        console.print(
            f"[green]Journal intact[/green]: {result.rows} records, "
            f"head seq {result.head_seq}, head hash {result.head_hash}"
        )
        return
    broken = result.broken
    console.print(
        f"[red]Journal broken at seq {broken.seq}[/red] ({broken.problem.value}): "
        f"{broken.detail}; {result.rows} records intact before it"
    )


def _print_records(console: Console, records: list[JournalRecord]) -> None:
    if not records:
        console.print("The journal is empty.")
        return
    table = Table(title="consultation journal", title_justify="left")
    for column in (
        "seq",
        "at (UTC)",
        "who",
        "role",
        "operation",
        "action",
        "motive",
        "status",
        "n",
    ):
        table.add_column(column)
    for r in records:
        table.add_row(
            str(r.seq),
            timestamp_text(r.at)[:19].replace("T", " "),
            r.who + (f" ({r.agency})" if r.agency else ""),
            r.role,
            r.operation or "—",
            r.action,
            r.motive or "—",
            str(r.status),
            "—" if r.result_count is None else str(r.result_count),
        )
    console.print(table)
