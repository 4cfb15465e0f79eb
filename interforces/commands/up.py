"""`interforces up`: the whole system on this machine until Ctrl-C.

Starts (or joins, through `NATS_URL` / `DATABASE_URL`) the servers, declares the streams,
runs the eight services under supervision, prints where everything is, and on Ctrl-C or
SIGTERM stops the services (timeline last), then PostgreSQL and nats-server. Exit codes:
0 after a clean stop, 1 when the stack could not start.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from interforces.stack.services import SERVICES, ServiceSpec
from interforces.stack.stack import Stack, StackSettings, StackState, state_path
from interforces.stack.supervisor import ReadinessProbe, ServiceState, ServiceStatus

#: Exit code when the stack could not start.
EXIT_START_FAILED = 1


def settings_from_options(
    data_dir: Path | None, charters: Sequence[Path] | None = None
) -> StackSettings:
    """Settings from the environment, with the command-line options on top."""
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if charters:
        overrides["charters"] = tuple(charters)
    return StackSettings(**overrides)


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Servers' data, logs and stack.json (IFC_DATA_DIR).",
        file_okay=False,
        show_default="var",
    ),
]


def up(
    data_dir: DataDir = None,
    charter: Annotated[
        list[Path] | None,
        typer.Option(
            "--charter",
            help="Charter file or directory of charters; repeat for several.",
            exists=True,
            show_default="infra/charters",
        ),
    ] = None,
) -> None:
    """Run NATS, PostgreSQL and the eight services here until Ctrl-C."""
    settings = settings_from_options(data_dir, charter)
    code = asyncio.run(serve(settings, Console(highlight=False)))
    raise typer.Exit(code)


async def serve(
    settings: StackSettings,
    console: Console,
    *,
    services: Sequence[ServiceSpec] = SERVICES,
    probe: ReadinessProbe | None = None,
) -> int:
    """Start the stack, report it, wait for SIGINT or SIGTERM, stop it; the exit code."""
    loop = asyncio.get_running_loop()
    stop_requested: asyncio.Future[signal.Signals] = loop.create_future()

    def request_stop(sig: signal.Signals) -> None:
        if stop_requested.done():
            console.print(f"{sig.name}: already stopping.")
        else:
            stop_requested.set_result(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop, sig)
    try:
        stack = Stack(
            settings,
            services=services,
            probe=probe,
            on_service_change=lambda status: _report_change(console, status),
        )
        starting = asyncio.create_task(stack.start())
        with console.status("Starting nats-server, PostgreSQL and the services…"):
            waits: set[asyncio.Future[Any]] = {starting, stop_requested}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            console.print("Interrupted while starting: stopping what had started…")
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return 0
        try:
            state = starting.result()
        except Exception as exc:  # start() has stopped what it started
            console.print(f"[red]Could not start the stack:[/red] {exc}")
            return EXIT_START_FAILED
        console.print(_parts_table(state))
        console.print(
            f"Crisis-cell API: {state.api_url} (OpenAPI at {state.api_url}/docs; callers' "
            f"tokens in {state.api_tokens})."
        )
        console.print(
            f"State in {state_path(state.data_dir)} — `interforces status` checks every part. "
            "Ctrl-C stops."
        )
        sig = await stop_requested
        console.print(f"{sig.name}: stopping the services (timeline last), then the servers…")
        await stack.stop()
        console.print("Stopped.")
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _report_change(console: Console, status: ServiceStatus) -> None:
    """Say what a user should know while the stack runs: crashes, give-ups, recoveries."""
    if status.state is ServiceState.BACKOFF:
        console.print(
            f"[yellow]{status.name} exited with code {status.last_exit_code}; restarting "
            f"(see {status.log})[/yellow]"
        )
    elif status.state is ServiceState.FAILED:
        console.print(
            f"[red]{status.name} failed: too many crashes, not restarted (see {status.log})[/red]"
        )
    elif status.state is ServiceState.READY and status.restarts:
        console.print(f"[green]{status.name} is back (pid {status.pid})[/green]")


def _parts_table(state: StackState) -> Table:
    table = Table(title=f"Interforces — {state.data_dir}", title_justify="left")
    table.add_column("part")
    table.add_column("address", overflow="fold")
    table.add_column("pid", justify="right")
    table.add_column("log", overflow="fold")
    for server in (state.nats, state.postgres):
        kind = "embedded" if server.embedded else "configured"
        table.add_row(
            f"{server.name} ({kind})",
            server.url,
            str(server.pid or "—"),
            str(server.log or "—"),
        )
    for service in state.services:
        table.add_row(
            service.name,
            state.api_url
            if service.module == "services.crisis_api" and state.api_url
            else f"python -m {service.module}",
            str(service.pid or "—"),
            str(service.log),
        )
    return table
