"""`interforces exercise`: the trainers' commands.

`validate FILE` checks a scenario (exit 1 with each fault as `file:line: path: message`);
`run FILE --speed N` runs it on the real system behind the exercise wall and prints its
evaluation (`--json`: the summary with `expected`, `met`, `late`, `missed`, `violations`)
and where its after-action report is; `report FILE --op OP` writes that report again from
the timeline; while a run plays, `inject`, `pause`, `resume`, `speed` and `status` reach it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import nats
import nats.errors
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from contracts.geo import GeoPoint
from contracts.routing import EXERCISE_MARK
from contracts.vocabulary import Agency, Mode
from interforces.commands.operator import (
    EXIT_NO_SERVER,
    MotiveOption,
    OperationOption,
    consulting,
    database_url_or_exit,
    endpoints_or_exit,
)
from interforces.stack.stack import StackError
from services.timeline.domain import TimelineRecord
from simulations.exercise.charter import exercise_charter
from simulations.exercise.clock import MAX_SPEED, MIN_SPEED
from simulations.exercise.control import ControlReply, ControlRequest, LiveInject, control
from simulations.exercise.digest import exercise_digest
from simulations.exercise.errors import ControlError, ExerciseError, ScenarioError
from simulations.exercise.evaluation import Evaluation, Status, evaluate
from simulations.exercise.plan import build_plan
from simulations.exercise.player import StepDone
from simulations.exercise.records import exercise_records
from simulations.exercise.report import write_report
from simulations.exercise.runner import run_exercise, seed_of
from simulations.exercise.steps import Origin
from simulations.exercise.validation import Validated, validate_scenario

app = typer.Typer(no_args_is_help=True)
_T = TypeVar("_T")

#: Exit code of an invalid scenario.
EXIT_INVALID = 1
#: Exit code when no exercise answers (none runs under that operation).
EXIT_NOT_RUNNING = 3
#: Where `run` keeps its servers' data, charters and reports.
DEFAULT_DATA_DIR = Path("var/exercise")

ScenarioFile = Annotated[
    Path, typer.Argument(help="Scenario YAML file.", exists=True, dir_okay=False)
]
ExerciseDataDir = Annotated[
    Path,
    typer.Option("--data-dir", help="Data of the exercise's system (stack.json).", file_okay=False),
]


@app.callback()
def _exercise() -> None:
    """Exercises: scenarios, runs behind the exercise wall, after-action reports."""


def _invalid(exc: ScenarioError) -> NoReturn:
    errors = Console(stderr=True)
    errors.print(
        Text(f"{exc.source}: scénario invalide ({len(exc.problems)} problème(s))", "bold red"),
        soft_wrap=True,
    )
    for problem in exc.problems:
        errors.print(Text(str(problem), style="red"), soft_wrap=True)
    raise typer.Exit(EXIT_INVALID) from exc


def _validated(file: Path, seed: int | None = None) -> Validated:
    try:
        return validate_scenario(file, seed)
    except ScenarioError as exc:
        _invalid(exc)


@app.command()
def validate(
    file: ScenarioFile,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Check a scenario against its charter and dry-run it offline (exit 1 when invalid)."""
    validated = _validated(file)
    loaded, plan = validated.loaded, validated.plan
    header = loaded.scenario.scenario
    origins = {o.value: sum(1 for s in plan.steps if s.origin is o) for o in Origin}
    refused = [j for j in validated.judgements if not j.accepted]
    summary = {
        "scenario": header.id,
        "title": header.title,
        "charter": str(loaded.charter_path),
        "start": header.start.isoformat(),
        "duration_min": header.duration,
        "objectives": len(loaded.scenario.objectives),
        "injects": len(loaded.injects),
        "expected": len(loaded.scenario.expected),
        "population": len(loaded.scenario.population),
        "steps": origins,
        "planned_refusals": len(refused),
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    console = Console(highlight=False)
    console.print(f"[green]{file}: scénario valide[/green] — {header.title}")
    table = Table(show_header=False)
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)


def _run_id(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,20}", value):
        raise typer.BadParameter("lowercase letters, digits and dashes, 21 at most")
    return value


@app.command()
def run(  # noqa: PLR0917 (one argument per option)
    file: ScenarioFile,
    speed: Annotated[
        float,
        typer.Option(min=MIN_SPEED, max=MAX_SPEED, help="×1 (a real exercise) to ×100."),
    ] = 1.0,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed of the run (default: the scenario's).")
    ] = None,
    data_dir: ExerciseDataDir = DEFAULT_DATA_DIR,
    report_dir: Annotated[
        Path | None, typer.Option(help="Where the report goes (default: under --data-dir).")
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            help="Names the run's operation <scenario>-<run id> (default: s<seed>-<random>).",
            callback=_run_id,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the evaluation summary as JSON on stdout.")
    ] = False,
) -> None:
    """Run a scenario on the whole system (embedded servers unless NATS_URL / DATABASE_URL
    are set), evaluate it from its timeline and write its after-action report."""
    validated = _validated(file, seed)
    loaded = validated.loaded
    run_seed = loaded.scenario.scenario.seed if seed is None else seed
    console = Console(stderr=as_json, highlight=False)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[clock]}"),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
    ) as progress:
        task = progress.add_task(f"{EXERCISE_MARK}", total=None, clock="")

        def on_step(done: StepDone) -> None:
            progress.update(
                task, completed=done.done, total=done.total, clock=done.clock.strftime("%H:%M")
            )

        try:
            result = asyncio.run(
                run_exercise(
                    loaded,
                    speed=speed,
                    seed=run_seed,
                    data_dir=data_dir,
                    report_dir=report_dir,
                    run_id=run_id,
                    on_step=on_step,
                    on_phase=progress.console.log,
                )
            )
        except (ExerciseError, StackError) as exc:
            console.print(f"[red]l'exercice n'a pas pu aller à son terme :[/red] {exc}")
            raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(result.summary(), ensure_ascii=False, indent=2, default=str))
        return
    _print(console, result.evaluation)
    if result.report is not None:
        console.print(f"Rapport après action : {result.report.html}")


@app.command()
def report(
    file: ScenarioFile,
    operation: OperationOption,
    out: Annotated[Path | None, typer.Option(help="Directory (default: ./<operation>).")] = None,
    motive: MotiveOption = "rapport après action",
    data_dir: ExerciseDataDir = DEFAULT_DATA_DIR,
) -> None:
    """Write the after-action report of a run from its timeline (journaled consultation)."""
    validated = _validated(file)
    loaded = validated.loaded
    database_url = database_url_or_exit(data_dir)
    seed = seed_of(operation)
    plan = build_plan(
        loaded,
        exercise_charter(loaded.charter, operation),
        loaded.scenario.scenario.seed if seed is None else seed,
    )

    async def read() -> list[TimelineRecord]:
        async with consulting(
            database_url,
            action="exercise report",
            mode=Mode.EXERCISE,
            operation=operation,
            motive=motive,
            request={"scenario": loaded.scenario.scenario.id},
        ) as conn:
            return list(await exercise_records(conn, operation))

    records = _reach(read())
    if not records:
        Console(stderr=True).print(f"[red]Aucun enregistrement d'exercice pour {operation}.[/red]")
        raise typer.Exit(EXIT_NOT_RUNNING)
    evaluation = evaluate(loaded, plan, records, exercise_digest(records))
    files = write_report(evaluation, records, out or Path(operation))
    console = Console(highlight=False)
    _print(console, evaluation)
    console.print(f"Rapport après action : {files.html} (et {files.markdown.name}, CSV)")


def _print(console: Console, evaluation: Evaluation) -> None:
    summary = evaluation.summary()
    console.rule(f"[bold red]{EXERCISE_MARK}[/bold red] — {evaluation.title}")
    console.print(
        f"{summary['expected']} actions attendues : [green]{summary['met']} à temps[/green], "
        f"[yellow]{summary['late']} en retard[/yellow], [red]{summary['missed']} manquées[/red]"
        f" ; {summary['violations']} refus du coordinateur "
        f"({summary['violations_planned']} prévus) ; score {summary['score']}"
    )
    table = Table(title="Actions attendues")
    for column in ("id", "service", "action", "délai (min)", "attendu", "résultat"):
        table.add_column(column)
    colours = {Status.MET: "green", Status.LATE: "yellow", Status.MISSED: "red"}
    for x in evaluation.expected:
        delay = "—" if x.delay_min is None else f"{x.delay_min:g}"
        table.add_row(
            x.id,
            x.agency,
            x.event,
            delay,
            f"{x.within_min:g}",
            f"[{colours[x.status]}]{x.status.value}[/]",
        )
    console.print(table)
    console.print(f"Empreinte du déroulé : {evaluation.digest}")


# --- the trainers' remote control ----------------------------------------------------------


def _reach(work: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(work)
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        Console(stderr=True).print(f"[red]Serveurs injoignables : {exc}[/red]")
        raise typer.Exit(EXIT_NO_SERVER) from exc


def _ask(data_dir: Path, operation: str, request: ControlRequest) -> ControlReply:
    nats_url = endpoints_or_exit(data_dir).nats_url

    async def ask() -> ControlReply:
        nc = await nats.connect(nats_url, name="interforces-exercise-control")
        try:
            return await control(nc, operation, request)
        finally:
            await nc.close()

    try:
        reply = _reach(ask())
    except ControlError as exc:
        Console(stderr=True).print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_NOT_RUNNING) from exc
    if not reply.ok:
        Console(stderr=True).print(f"[red]refusé : {reply.error}[/red]")
        raise typer.Exit(1)
    typer.echo(reply.model_dump_json(indent=2, exclude_none=True))
    return reply


@app.command()
def inject(  # noqa: PLR0917 (one argument per option)
    operation: OperationOption,
    target: Annotated[Agency, typer.Option(help="Agency whose players receive it.")],
    message: Annotated[str, typer.Option(help="What the players are told.")],
    lon: Annotated[float | None, typer.Option(help="Where, longitude.")] = None,
    lat: Annotated[float | None, typer.Option(help="Where, latitude.")] = None,
    data_dir: ExerciseDataDir = DEFAULT_DATA_DIR,
) -> None:
    """Send a live inject to the players of a running exercise, at its scenario time now."""
    position = GeoPoint(lon=lon, lat=lat) if lon is not None and lat is not None else None
    live = LiveInject(target=target, message=message, position=position)
    _ask(data_dir, operation, ControlRequest(action="inject", inject=live))


@app.command()
def pause(operation: OperationOption, data_dir: ExerciseDataDir = DEFAULT_DATA_DIR) -> None:
    """Freeze the scenario time of a running exercise."""
    _ask(data_dir, operation, ControlRequest(action="pause"))


@app.command()
def resume(operation: OperationOption, data_dir: ExerciseDataDir = DEFAULT_DATA_DIR) -> None:
    """Let the scenario time of a paused exercise run again."""
    _ask(data_dir, operation, ControlRequest(action="resume"))


@app.command()
def speed(
    operation: OperationOption,
    to: Annotated[float, typer.Argument(min=MIN_SPEED, max=MAX_SPEED, help="×1 to ×100.")],
    data_dir: ExerciseDataDir = DEFAULT_DATA_DIR,
) -> None:
    """Run a running exercise at another speed from now on."""
    _ask(data_dir, operation, ControlRequest(action="speed", speed=to))


@app.command()
def status(operation: OperationOption, data_dir: ExerciseDataDir = DEFAULT_DATA_DIR) -> None:
    """Where a running exercise stands: its scenario time, speed, steps played."""
    _ask(data_dir, operation, ControlRequest(action="status"))
