"""`interforces replay --op X --from A --to B --speed N`: replay a window of an operation's
timeline, at N times real time, on its own subjects (`ifc.replay.<session>.>`, which no
stream captures and no service reads), with its progress and, at the end, how closely it
kept time. Journaled like every consultation of the timeline."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, NoReturn

import asyncpg
import nats
import nats.errors
import structlog
import typer
from nats.aio.client import Client
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from contracts.charter.model import TimeWindow
from contracts.vocabulary import Mode
from interforces.commands.operator import (
    EXIT_NO_SERVER,
    EXIT_UNKNOWN,
    ModeOption,
    OperationOption,
    charter_of,
    consulting,
    endpoints_or_exit,
    mode_of,
    operator,
)
from interforces.commands.up import DataDir
from interforces.stack.endpoints import Endpoints
from services.crisis_api import reads
from services.crisis_api.instants import DEFAULT_TIMEZONE, InstantError, resolve_instant, zone_of
from services.crisis_api.replay import load_window, replay_window
from services.crisis_api.replay_models import InvalidReplayError, ReplayState, ReplayStatus
from services.crisis_api.replay_schedule import check_speed
from services.crisis_api.replay_session import ReplaySession

#: Exit code when the replay did not finish (failed, or stopped by Ctrl-C).
EXIT_NOT_FINISHED = 1


@dataclass(frozen=True, slots=True)
class _Ask:
    """What the operator asked for."""

    operation: str
    mode: Mode | None
    start: str
    end: str
    speed: float
    timezone: str
    motive: str


def replay(  # noqa: PLR0917 - one argument per option
    operation: OperationOption,
    start: Annotated[
        str, typer.Option("--from", help="Start: HH:MM (operation's local time) or ISO 8601.")
    ],
    end: Annotated[str, typer.Option("--to", help="End, excluded: HH:MM or ISO 8601.")],
    speed: Annotated[float, typer.Option("--speed", help="Times real time, 0.5 to 100.")],
    mode: ModeOption = None,
    motive: Annotated[
        str, typer.Option("--motive", help="Why you replay it (journaled with your user name).")
    ] = "",
    data_dir: DataDir = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the final status as JSON.")
    ] = False,
) -> None:
    """Replay a window of an operation's timeline at a speed, into an isolated namespace."""
    try:
        check_speed(speed)
    except InvalidReplayError as exc:
        raise typer.BadParameter(str(exc), param_hint="--speed") from exc
    endpoints = endpoints_or_exit(data_dir)
    charter = charter_of(data_dir, operation)
    timezone = charter.operation.timezone if charter else DEFAULT_TIMEZONE
    ask = _Ask(operation, mode, start, end, speed, timezone, motive)
    progress = None if as_json else Console(stderr=True, highlight=False)
    try:
        with _warnings_on_stderr():
            status = asyncio.run(_replay(endpoints, ask, progress))
    except (OSError, TimeoutError, nats.errors.Error, asyncpg.PostgresError) as exc:
        _fail(f"Servers unreachable or failing: {type(exc).__name__}: {exc}", EXIT_NO_SERVER, exc)
    if as_json:
        typer.echo(status.model_dump_json(indent=2))
    else:
        _print(Console(highlight=False), status, timezone)
    if status.state is not ReplayState.FINISHED:
        raise typer.Exit(EXIT_NOT_FINISHED)


async def _replay(endpoints: Endpoints, ask: _Ask, progress: Console | None) -> ReplayStatus:
    request = {"from": ask.start, "to": ask.end, "speed": f"{ask.speed:g}"}
    async with consulting(
        endpoints.database_url,
        action="replay",
        mode=ask.mode,
        operation=ask.operation,
        motive=ask.motive,
        request=request,
    ) as conn:
        mode = await mode_of(conn, ask.operation, ask.mode)
        first = await reads.first_occurred_at(conn, mode, ask.operation)
        if first is None:
            _fail(f"Operation {ask.operation!r} has no {mode.value} records.", EXIT_UNKNOWN)
        window = _window(ask, first)
        items = await load_window(conn, mode, ask.operation, window.start, window.end)
    nc = await _nats(endpoints)
    try:
        session = ReplaySession(
            nc,
            items,
            operation=ask.operation,
            mode=mode,
            window=window,
            speed=ask.speed,
            owner=operator().name,
        )
        session.start()
        try:
            await _follow(session, progress, ask.timezone)
        finally:  # Ctrl-C stops the replay cleanly
            await session.aclose()
        return session.status()
    finally:
        await nc.close()


def _window(ask: _Ask, reference: datetime) -> TimeWindow:
    try:
        start = resolve_instant(ask.start, reference, ask.timezone)
        end = resolve_instant(ask.end, reference, ask.timezone)
        return replay_window(start, end)
    except (InstantError, InvalidReplayError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--from/--to") from exc


async def _nats(endpoints: Endpoints) -> Client:
    servers = [url.strip() for url in endpoints.nats_url.split(",")]
    return await nats.connect(
        servers, name="interforces-replay-cli", allow_reconnect=False, connect_timeout=5
    )


async def _follow(session: ReplaySession, console: Console | None, timezone: str) -> None:
    """Wait for the end, showing the scenario clock and the events sent on `console`."""
    if console is None:
        await session.wait()
        return
    zone = zone_of(timezone)
    span = (session.window.end - session.window.start).total_seconds()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[sent]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("", total=span, sent="")
        while True:
            status = session.status()
            bar.update(
                task,
                completed=(status.position - session.window.start).total_seconds(),
                description=f"{status.position.astimezone(zone):%H:%M:%S} x{status.speed:g}",
                sent=f"{status.sent}/{status.total} events",
            )
            if session.done:
                return
            await asyncio.sleep(0.1)


def _print(console: Console, status: ReplayStatus, timezone: str) -> None:
    zone = zone_of(timezone)
    start, end = (t.astimezone(zone) for t in (status.window.start, status.window.end))
    console.print(
        f"[bold]Replay {status.id}[/bold] of {status.operation} ({status.mode.value}), "
        f"{start:%Y-%m-%d %H:%M:%S} → {end:%H:%M:%S} {timezone}, x{status.speed:g}"
    )
    console.print(
        f"{status.state.value}{f' ({status.reason})' if status.reason else ''}: "
        f"{status.sent}/{status.total} events on {status.subject}"
        + (f", {status.skipped} too large for the server" if status.skipped else "")
    )
    drift = f", end drift {status.end_drift_ms:+.1f} ms" if status.end_drift_ms is not None else ""
    console.print(
        f"duration {status.elapsed_s:.3f} s (planned {status.scheduled_duration_s:.3f} s){drift}"
    )
    if status.skew_ms is not None:
        skew = status.skew_ms
        console.print(f"skew p50 {skew.p50:.1f} ms, p99 {skew.p99:.1f} ms, max {skew.max:.1f} ms")


@contextmanager
def _warnings_on_stderr() -> Iterator[None]:
    """Keep the session's log lines off stdout (the status goes there), warnings only."""
    saved = structlog.get_config()
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    try:
        yield
    finally:
        structlog.configure(**saved)


def _fail(message: str, code: int, cause: BaseException | None = None) -> NoReturn:
    Console(stderr=True, highlight=False).print(f"[red]{message}[/red]")
    raise typer.Exit(code) from cause
