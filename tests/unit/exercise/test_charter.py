"""Each run gets its own exercise operation: a copy of the charter in exercise mode, marked
EXERCICE, with a direction d'exercice that may only send injects; the live charter is
never touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.charter.loader import load_charter
from contracts.vocabulary import Agency, Mode
from simulations.exercise.charter import (
    CONTROL_UNIT,
    control_unit,
    exercise_charter,
    run_operation,
    write_charter,
)
from simulations.exercise.runner import new_run_id, seed_of

from .scenarios import ROOT

pytestmark = pytest.mark.unit

LIVE = ROOT / "infra" / "charters" / "fete-musique-presquile.yaml"
EXERCISE = ROOT / "infra" / "charters" / "exercice-crue-pcs.yaml"


def test_a_live_charter_becomes_an_exercise_of_its_own(tmp_path: Path) -> None:
    live = load_charter(LIVE)
    copy = exercise_charter(live, "fete-musique-bars-s7-abc123")
    assert copy.operation.mode is Mode.EXERCISE
    assert copy.operation.id == "fete-musique-bars-s7-abc123"
    assert copy.operation.name.startswith("EXERCICE — ")
    control = copy.actor(Agency.EXERCISE_CONTROL)
    assert control is not None
    assert [e.removeprefix("fr.interforces.") for e in control.competences.events] == [
        "exercise.injected"
    ]
    assert set(control.sectors) == {s.id for s in live.sectors}
    assert control_unit(copy) == CONTROL_UNIT
    # everything else is the live charter's
    assert copy.sectors == live.sectors
    assert copy.distribution == live.distribution
    assert [a.agency for a in copy.actors[:-1]] == [a.agency for a in live.actors]
    # and the live charter is unchanged
    assert load_charter(LIVE) == live
    assert live.operation.mode is Mode.LIVE
    # written for the services, it reads back the same, marked on its first line
    path = write_charter(copy, tmp_path)
    assert load_charter(path) == copy
    assert path.read_text(encoding="utf-8").startswith("# EXERCICE")


def test_an_exercise_charter_keeps_its_own_direction_d_exercice() -> None:
    charter = load_charter(EXERCISE)
    copy = exercise_charter(charter, "crue-pcs-s1-000000")
    assert copy.actors == charter.actors
    assert copy.operation.name == charter.operation.name  # already marked


def test_run_ids_name_their_seed_and_fit_a_subject_token() -> None:
    run = new_run_id(2026)
    operation = run_operation("fuite-gaz-metropole", run)
    assert operation.startswith("fuite-gaz-metropole-s2026-")
    assert len(operation) <= 63
    assert seed_of(operation) == 2026
    assert seed_of("fete-musique-2026-lyon-presquile") is None
    assert new_run_id(2026) != run
    with pytest.raises(ValueError, match="natural"):
        new_run_id(-1)
