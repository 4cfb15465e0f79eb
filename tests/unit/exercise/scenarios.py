"""What the exercise tests share: where scenarios are, and a run played offline.

`offline_records` plays a plan through the real agency-service core and the real perimeter
engine (`simulations.exercise.check`) and numbers what the coordinator would append, as the
timeline would hold it: the evaluation, the digest and the report read nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Final

from contracts.vocabulary import Mode
from services.timeline.domain import TimelineRecord
from simulations.exercise.charter import exercise_charter, run_operation
from simulations.exercise.check import judge_plan
from simulations.exercise.loader import LoadedScenario, load_scenario
from simulations.exercise.plan import Plan, build_plan

ROOT: Final = Path(__file__).resolve().parents[3]
SHIPPED: Final = ROOT / "simulations" / "scenarios"
DATA: Final = Path(__file__).resolve().parent / "data"
SHORT: Final = DATA / "short.yaml"


def shipped() -> list[Path]:
    """The shipped scenarios."""
    return sorted(SHIPPED.glob("*.yaml"))


def planned(path: Path, seed: int, run: str = "t1") -> tuple[LoadedScenario, Plan]:
    """A scenario and the plan of one run of it."""
    loaded = load_scenario(path)
    operation = run_operation(loaded.scenario.scenario.id, run)
    return loaded, build_plan(loaded, exercise_charter(loaded.charter, operation), seed)


def offline_records(plan: Plan, *, first_seq: int = 1) -> list[TimelineRecord]:
    """What the timeline would hold after the plan, in playing order (a refusal is recorded
    a second after its proposal, as a coordinator receiving it then would)."""
    records: list[TimelineRecord] = []
    for judged in judge_plan(plan):
        if judged.record is None:
            continue
        seq = first_seq + len(records)
        received = judged.step.at + timedelta(seconds=1)
        update = {"sequence": seq, "recordedtime": received}
        records.append(TimelineRecord(Mode.EXERCISE, seq, judged.record.model_copy(update=update)))
    return records


def without(records: Sequence[TimelineRecord], event_type: str) -> list[TimelineRecord]:
    """The records but those of a type."""
    return [r for r in records if r.envelope.type != f"fr.interforces.{event_type}"]
