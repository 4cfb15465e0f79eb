"""`interforces demo`: the main job. Starts the whole system (embedded servers when
`NATS_URL` / `DATABASE_URL` are unset), plays a Fête de la musique evening through the five
agency services on a simulated clock, and ends with what the crisis cell's timeline holds:
events accepted per agency and type, refusals by reason, open incidents, delays."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from interforces.demo.run import DemoError, run_demo
from interforces.demo.serve import serve_until_interrupted
from interforces.demo.summary import Summary, render
from interforces.stack.stack import Stack, StackError
from simulations.festival.player import PlayProgress

DEFAULT_CHARTER = Path("infra/charters/fete-musique-presquile.yaml")


def demo(  # noqa: PLR0917 - one argument per option
    charter: Annotated[
        Path, typer.Option(help="Charter of the evening.", exists=True, dir_okay=False)
    ] = DEFAULT_CHARTER,
    speed: Annotated[
        float, typer.Option(min=1.0, max=5000.0, help="Simulated clock speed (×).")
    ] = 320.0,
    seed: Annotated[int, typer.Option(help="Seed of the evening's script.")] = 2026,
    data_dir: Annotated[Path, typer.Option(help="Servers' data, logs and traces.")] = Path(
        "var/demo"
    ),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout.")
    ] = False,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Keep the system up afterwards (API, replays) until Ctrl-C."),
    ] = False,
) -> None:
    """Play a festival evening through the running system and summarise its timeline."""
    console = Console(stderr=as_json)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[clock]}"),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
    ) as progress:
        task = progress.add_task("soirée", total=None, clock="")

        def on_progress(step: PlayProgress) -> None:
            progress.update(
                task,
                completed=step.done,
                total=step.total,
                clock=step.at.strftime("%H:%M"),
            )

        def on_phase(text: str) -> None:
            progress.console.log(text)

        try:
            run = asyncio.run(
                run_demo(
                    charter,
                    data_dir=data_dir,
                    speed=speed,
                    seed=seed,
                    trace_file=data_dir / "traces.jsonl",
                    on_progress=on_progress,
                    on_phase=on_phase,
                    after=_serving(progress.console) if serve else None,
                )
            )
        except (DemoError, StackError) as exc:
            console.print(f"[red]demo failed:[/red] {exc}")
            raise typer.Exit(1) from exc
    if serve:
        return  # the summary was printed before serving
    if as_json:
        typer.echo(json.dumps(run.as_json(), ensure_ascii=False, indent=2, default=str))
        return
    render(run.summary, console)
    played = run.play
    console.print(
        f"{played.reports_sent} comptes rendus d'unités ({played.proposed} proposés, "
        f"{played.refused_total} refusés par leur service), {played.desk_published} "
        f"décisions de la cellule de crise, {played.receipts}/{played.receipts_expected} "
        f"récépissés remis, {played.dispatches}/{played.dispatches_expected} affectations "
        f"transmises aux unités — en {run.duration_s:.0f} s."
    )


def _serving(console: Console) -> Callable[[Stack, Summary], Awaitable[None]]:
    """Print the summary, then keep the system up until Ctrl-C."""

    async def after(stack: Stack, summary: Summary) -> None:
        render(summary, console)
        await serve_until_interrupted(stack, summary.operation, console)

    return after
