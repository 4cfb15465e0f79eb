"""Each shipped scenario validates, runs at ×50 to its end on the whole system and produces
its report — the five side by side in one system, about two minutes — and each run's
timeline is exactly what the offline dry run of the same seed predicted (same digest)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from unit.exercise.scenarios import offline_records, shipped

from interforces.stack.stack import Stack, StackSettings
from simulations.exercise.check import judge_plan
from simulations.exercise.digest import exercise_digest
from simulations.exercise.runner import ExerciseRun, play_run, prepare_run
from simulations.exercise.validation import validate_scenario

pytestmark = pytest.mark.integration

SPEED = 50
SEED = 2026


async def test_each_shipped_scenario_runs_at_x50_to_its_end_and_is_reported(
    tmp_path: Path,
) -> None:
    # given the five shipped scenarios, validated, each prepared as its own exercise run
    runs = [
        prepare_run(validate_scenario(path).loaded, seed=SEED, directory=tmp_path / "charters")
        for path in shipped()
    ]
    assert len(runs) == 5
    settings = StackSettings(
        data_dir=tmp_path / "stack", charters=tuple(r.charter_path for r in runs)
    )
    # when they all run at ×50 on one system
    async with Stack(settings) as stack:
        played: list[ExerciseRun] = await asyncio.gather(
            *(
                play_run(
                    run,
                    stack.nats_url,
                    stack.database_url,
                    stack.secrets_dir,
                    speed=SPEED,
                    report_dir=tmp_path / "reports" / run.operation,
                )
                for run in runs
            )
        )
    for run in played:
        scenario = run.prepared.loaded.scenario
        summary = run.summary()
        # then every step reached the system and ended on the timeline
        plan = run.prepared.plan
        assert run.play.undelivered == run.play.unreadable == run.play.failed == 0
        assert summary["records"] == len(plan.steps)
        # every expected action was judged, the deliberate attempts refused as planned and
        # nothing else refused
        assert summary["expected"] == len(scenario.expected)
        assert summary["met"] + summary["late"] + summary["missed"] == summary["expected"]
        assert summary["attempts_refused_as_planned"] == summary["attempts"] >= 1
        assert summary["violations_unplanned"] == 0
        # its report is there
        assert run.report is not None
        for path in (run.report.html, run.report.markdown, *run.report.csv, *run.report.images):
            assert path.stat().st_size > 0
        # and the timeline is what the offline dry run of the seed predicted
        offline = offline_records(plan)
        assert [j.as_promised for j in judge_plan(plan)] == [True] * len(plan.steps)
        assert run.evaluation.digest == exercise_digest(offline), scenario.scenario.id
