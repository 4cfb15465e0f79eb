"""Run an exercise on the real system: prepare the run (its own exercise operation and
charter, its plan), play it through the agency services and desks on the exercise clock
while the trainers may pause, resume, change speed and inject live, wait until the
timeline holds all of it, then evaluate it from the timeline and write its report.

`run_exercise` starts the whole system as `interforces demo` does (a `Stack`: embedded
nats-server and PostgreSQL unless `NATS_URL` / `DATABASE_URL` are set, and the services);
`play_run` plays prepared runs on a system already running with their charters.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats

from contracts.vocabulary import Mode
from interforces.stack.stack import Stack, StackSettings
from services.crisis_api import journal
from simulations.exercise.charter import exercise_charter, run_operation, write_charter
from simulations.exercise.clock import ExerciseClock, check_speed
from simulations.exercise.control import ControlResponder
from simulations.exercise.digest import exercise_digest
from simulations.exercise.evaluation import Evaluation, evaluate
from simulations.exercise.loader import LoadedScenario
from simulations.exercise.plan import Plan, build_plan
from simulations.exercise.player import ExercisePlayer, PlayResult, StepDone
from simulations.exercise.records import exercise_records, wait_recorded
from simulations.exercise.report import ReportFiles, write_report


def new_run_id(seed: int) -> str:
    """A fresh run id that names its seed (`s<seed>-<6 hex>`)."""
    if seed < 0:
        raise ValueError("a run's seed is a natural number")
    return f"s{seed}-{secrets.token_hex(3)}"


def seed_of(operation: str) -> int | None:
    """The seed an operation id of a run names, if it names one."""
    parts = operation.rsplit("-", 2)
    if len(parts) == 3 and parts[1].startswith("s") and parts[1][1:].isdigit():
        return int(parts[1][1:])
    return None


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A run ready to play: its exercise charter (written for the services) and its plan."""

    loaded: LoadedScenario
    seed: int
    run_id: str
    charter_path: Path
    plan: Plan

    @property
    def operation(self) -> str:
        """The run's exercise operation id."""
        return self.plan.operation


def prepare_run(
    loaded: LoadedScenario, *, seed: int, directory: Path, run_id: str | None = None
) -> PreparedRun:
    """Give a run its own exercise operation, write its charter into `directory`, plan it."""
    run = run_id or new_run_id(seed)
    charter = exercise_charter(loaded.charter, run_operation(loaded.scenario.scenario.id, run))
    path = write_charter(charter, directory)
    return PreparedRun(loaded, seed, run, path, build_plan(loaded, charter, seed))


@dataclass(frozen=True, slots=True)
class ExerciseRun:
    """A finished run: its evaluation, what became of its steps, its report."""

    prepared: PreparedRun
    evaluation: Evaluation
    play: PlayResult
    report: ReportFiles | None
    duration_s: float

    def summary(self) -> dict[str, Any]:
        """The evaluation summary with the run's own figures."""
        return {
            **self.evaluation.summary(),
            "play": self.play.as_json(),
            "report": str(self.report.html) if self.report is not None else None,
            "duration_s": round(self.duration_s, 1),
        }


async def play_run(
    prepared: PreparedRun,
    nats_url: str,
    database_url: str,
    secrets_dir: Path,
    *,
    speed: float,
    report_dir: Path | None = None,
    on_step: Callable[[StepDone], None] | None = None,
) -> ExerciseRun:
    """Play a prepared run on a running system whose services know its charter."""
    started = time.monotonic()
    plan, operation = prepared.plan, prepared.operation
    clock = ExerciseClock(plan.start, check_speed(speed))
    nc = await nats.connect(nats_url, name=f"exercise-{operation}")
    try:
        scenario = prepared.loaded.scenario.scenario.id
        player = ExercisePlayer(
            plan, scenario, nc, nc.jetstream(), secrets_dir, clock, on_step=on_step
        )
        responder = ControlResponder(nc, operation, player)
        await responder.start()
        try:
            result = await player.play()
        finally:
            await responder.stop()
    finally:
        await nc.close()
    conn = await asyncpg.connect(database_url)
    try:
        await wait_recorded(conn, operation, result.recorded_expected)
        records = await exercise_records(conn, operation)
        await journal.append(
            conn,
            journal.JournalEntry(
                who="exercise-runner",
                role="trainer",
                action="exercise evaluate",
                status=200,
                mode=Mode.EXERCISE.value,
                operation=operation,
                request={"scenario": scenario, "seed": prepared.seed},
                motive="évaluation et rapport après action de l'exercice",
                result_count=len(records),
            ),
        )
    finally:
        await conn.close()
    evaluation = evaluate(prepared.loaded, plan, records, exercise_digest(records))
    report = write_report(evaluation, records, report_dir) if report_dir is not None else None
    return ExerciseRun(prepared, evaluation, result, report, time.monotonic() - started)


async def run_exercise(
    loaded: LoadedScenario,
    *,
    speed: float,
    seed: int,
    data_dir: Path,
    report_dir: Path | None = None,
    run_id: str | None = None,
    on_step: Callable[[StepDone], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> ExerciseRun:
    """Start the whole system with the run's charter, play the run, evaluate it, write its
    report (under `<data_dir>/reports/<operation>` unless `report_dir` is given), stop.
    `run_id` (default: fresh) names the run's operation, for a broker provisioned for it."""
    phase = on_phase or (lambda _: None)
    check_speed(speed)
    prepared = prepare_run(loaded, seed=seed, directory=data_dir / "charters", run_id=run_id)
    target = report_dir or data_dir / "reports" / prepared.operation
    settings = StackSettings(data_dir=data_dir, charters=(prepared.charter_path,))
    phase(f"démarrage du système pour l'exercice {prepared.operation}")
    async with Stack(settings) as stack:
        phase(f"{len(prepared.plan.steps)} étapes à ×{speed:g}")
        run = await play_run(
            prepared,
            stack.nats_url,
            stack.database_url,
            stack.secrets_dir,
            speed=speed,
            report_dir=target,
            on_step=on_step,
        )
        phase("arrêt des services et des serveurs")
    return run
