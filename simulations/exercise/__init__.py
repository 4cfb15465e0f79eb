"""Exercises for trainers: scenarios of timed injects on an exercise copy of a charter, run
on the real system at ×1 to ×100 behind the exercise wall, evaluated from the timeline,
with an after-action report.

    validated = validate_scenario("simulations/scenarios/concert-stade.yaml")
    run = await run_exercise(validated.loaded, speed=50, seed=2026, data_dir=Path("var/exercise"))
    run.evaluation.summary()  # expected, met, late, missed, violations, …
"""

from simulations.exercise.clock import ExerciseClock
from simulations.exercise.control import ControlRequest, LiveInject, control
from simulations.exercise.digest import exercise_digest
from simulations.exercise.errors import (
    ControlError,
    ExerciseError,
    ExerciseRunError,
    ScenarioError,
    ScenarioProblem,
)
from simulations.exercise.evaluation import Evaluation, evaluate
from simulations.exercise.loader import LoadedScenario, load_scenario
from simulations.exercise.model import Scenario
from simulations.exercise.plan import Plan, build_plan
from simulations.exercise.report import write_report
from simulations.exercise.runner import ExerciseRun, play_run, prepare_run, run_exercise
from simulations.exercise.validation import Validated, validate_scenario

__all__ = [
    "ControlError",
    "ControlRequest",
    "Evaluation",
    "ExerciseClock",
    "ExerciseError",
    "ExerciseRun",
    "ExerciseRunError",
    "LiveInject",
    "LoadedScenario",
    "Plan",
    "Scenario",
    "ScenarioError",
    "ScenarioProblem",
    "Validated",
    "build_plan",
    "control",
    "evaluate",
    "exercise_digest",
    "load_scenario",
    "play_run",
    "prepare_run",
    "run_exercise",
    "validate_scenario",
    "write_report",
]
