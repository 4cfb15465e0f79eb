"""`interforces chaos`: the fault scenarios under load, one row each.

Every scenario runs on servers of its own (a nats-server or a 3-node cluster on loopback,
an embedded PostgreSQL shared by the scenarios, one fresh database each) under a working
directory — a temporary one by default, removed afterwards; `--work-dir` keeps the
services' logs. Exit codes: 0 when every row is exact (nothing lost, nothing duplicated,
the projection equal to a rebuild from the stream), 1 otherwise, 2 when the scenarios
could not run at all.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contracts.errors import CharterError
from interforces.stack.embedded import EmbeddedServerError
from simulations.chaos import (
    DEFAULT_CHARTER,
    FAULTS,
    ChaosConfig,
    ChaosPostgres,
    ChaosRow,
    Scenario,
    run_scenarios,
)

#: Exit code when a row is not exact.
EXIT_INEXACT = 1
#: Exit code when the scenarios could not run.
EXIT_NOT_RUN = 2


def chaos(  # noqa: PLR0917 - one argument per option
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    scenario: Annotated[
        list[Scenario] | None,
        typer.Option(
            "--scenario",
            help="A scenario to run; repeat for several (default: every one).",
        ),
    ] = None,
    rate: Annotated[float, typer.Option(min=1.0, help="Proposals sent per second.")] = 200.0,
    seconds: Annotated[float, typer.Option(min=1.0, help="Seconds of load per scenario.")] = 10.0,
    charter: Annotated[
        Path,
        typer.Option(
            help="Charter the load is drawn from.",
            exists=True,
            dir_okay=False,
            show_default="infra/charters/concert-stade.yaml",
        ),
    ] = DEFAULT_CHARTER,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir",
            file_okay=False,
            help="Keep the servers' data and the services' logs here.",
            show_default="a temporary directory, removed afterwards",
        ),
    ] = None,
) -> None:
    """Run the fault scenarios under a steady load; one row each: sent, accepted, rejected,
    lost, duplicated, recovery and settling times."""
    err = Console(stderr=True)
    chosen = list(dict.fromkeys(scenario or FAULTS))
    with ExitStack() as cleanup:
        if work_dir is None:
            work = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="ifc-chaos-")))
        else:
            work = work_dir.resolve()
            work.mkdir(parents=True, exist_ok=True)
        config = ChaosConfig(work_dir=work, rate=rate, seconds=seconds, charter=charter)
        try:
            with err.status("") as status:

                def progress(text: str) -> None:
                    status.update(text)

                rows = asyncio.run(_run(chosen, config, progress))
        except (CharterError, EmbeddedServerError) as exc:
            err.print(f"[red]{exc}[/red]", highlight=False)
            raise typer.Exit(EXIT_NOT_RUN) from exc
    if as_json:
        typer.echo(json.dumps([row.as_dict() for row in rows], ensure_ascii=False, indent=2))
    else:
        _print(Console(), rows, config)
    if not all(row.ok for row in rows):
        raise typer.Exit(EXIT_INEXACT)


async def _run(
    scenarios: Sequence[Scenario], config: ChaosConfig, progress: Callable[[str], None]
) -> list[ChaosRow]:
    progress("Starting PostgreSQL…")
    data = config.work_dir / "postgres" / "data"
    data.parent.mkdir(parents=True, exist_ok=True)
    postgres = ChaosPostgres(data)
    await asyncio.to_thread(postgres.start)

    def starting(scenario: Scenario, rank: int) -> None:
        progress(
            f"{scenario.value} ({rank}/{len(scenarios)}): {config.count} proposals at "
            f"{config.rate:g}/s…"
        )

    try:
        return await run_scenarios(scenarios, config, postgres, starting)
    finally:
        await asyncio.to_thread(postgres.stop)


def _print(console: Console, rows: Sequence[ChaosRow], config: ChaosConfig) -> None:
    table = Table(
        title=f"Faults under load: {config.rate:g} proposals/s for {config.seconds:g} s each",
        title_justify="left",
    )
    table.add_column("scenario", no_wrap=True)
    for column in ("sent", "accepted", "rejected", "lost", "duplicated", "recovery s", "settle s"):
        table.add_column(column, justify="right")
    table.add_column("digest")
    for row in rows:
        table.add_row(
            row.scenario,
            str(row.sent),
            str(row.accepted),
            str(row.rejected),
            str(row.lost),
            str(row.duplicated),
            f"{row.recovery_s:.1f}",
            f"{row.settle_s:.1f}" if row.settled else f"> {row.settle_s:.0f}",
            "= rebuild" if row.digest_equal else "DIFFERS",
            style=None if row.ok else "bold red",
        )
    console.print(table)
    for row in rows:
        details = ", ".join(f"{key} {value}" for key, value in row.detail.items())
        console.print(f"{row.scenario}: {details or '—'}", style="dim", highlight=False)
    console.print(
        "lost = sent − distinct recorded; duplicated = records − distinct (on the stream and "
        "in PostgreSQL, the worse of the two); digest: the projection against a rebuild "
        "from the stream",
        style="dim",
        highlight=False,
    )
