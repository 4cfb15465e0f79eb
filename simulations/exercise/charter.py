"""The charter an exercise runs on: its own operation, always in exercise mode.

A scenario may name the live charter of the event it trains for (the festival's, the
stadium's): each run gets a copy under its own operation id, in exercise mode, with a
direction d'exercice that may only send injects. The live charter and its operation are
never touched; exercise records only ever travel on `ifc.exercise.*`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import yaml

from contracts.charter.loader import load_charter
from contracts.charter.model import Charter
from contracts.routing import EXERCISE_MARK
from contracts.vocabulary import AGENCY_LABELS, Agency, Mode

#: The trainers' post in every exercise charter.
CONTROL_UNIT: Final = "DIREX"
_INJECTED = "fr.interforces.exercise.injected"


def run_operation(scenario_id: str, run_id: str) -> str:
    """The operation id of one run of a scenario."""
    return f"{scenario_id}-{run_id}"[:63].rstrip("-")


def exercise_charter(charter: Charter, operation: str) -> Charter:
    """`charter` as the exercise operation `operation` (see the module)."""
    document: dict[str, Any] = charter.model_dump(mode="json")
    header = document["operation"]
    header["id"] = operation
    header["mode"] = Mode.EXERCISE.value
    if not header["name"].startswith(EXERCISE_MARK):
        header["name"] = f"{EXERCISE_MARK} — {header['name']}"[:200]
    if charter.actor(Agency.EXERCISE_CONTROL) is None:
        document["actors"].append(
            {
                "agency": Agency.EXERCISE_CONTROL.value,
                "name": AGENCY_LABELS[Agency.EXERCISE_CONTROL],
                "sectors": [s.id for s in charter.sectors],
                "units": [{"id": CONTROL_UNIT, "name": "Cellule d'animation de l'exercice"}],
                "competences": {"events": [_INJECTED]},
            }
        )
    return Charter.model_validate(document)


def control_unit(charter: Charter) -> str | None:
    """The unit the trainers' injects are sent as (None: the envelope names no unit)."""
    actor = charter.actor(Agency.EXERCISE_CONTROL)
    return actor.units[0].id if actor is not None and actor.units else None


def write_charter(charter: Charter, directory: Path) -> Path:
    """Write a run's charter as YAML (read back to make sure it is still valid)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{charter.operation.id}.yaml"
    text = yaml.safe_dump(charter.model_dump(mode="json"), allow_unicode=True, sort_keys=False)
    target.write_text(f"# {EXERCISE_MARK} — charte de l'exercice {charter.operation.id}\n{text}")
    load_charter(target)
    return target
