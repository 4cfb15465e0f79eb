"""The five shipped scenarios: each validates against its charter (dry run included), each
exercise charter is in exercise mode and holds the doctrine, and each scenario keeps what
the issue asks of it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from contracts.charter.gaps import find_gaps, has_errors
from contracts.charter.loader import load_charter
from contracts.vocabulary import Agency, Mode
from simulations.exercise.steps import Origin
from simulations.exercise.validation import Validated, validate_scenario

from .scenarios import ROOT, shipped

pytestmark = pytest.mark.unit

EXERCISE_CHARTERS = sorted((ROOT / "infra" / "charters").glob("exercice-*.yaml"))


@pytest.fixture(scope="module", params=shipped(), ids=lambda p: p.stem)
def validated(request: pytest.FixtureRequest) -> Validated:
    path: Path = request.param
    return validate_scenario(path)


def test_five_scenarios_are_shipped() -> None:
    assert [p.stem for p in shipped()] == [
        "concert-stade",
        "crue-pcs",
        "fete-musique-bars",
        "fuite-gaz-metropole",
        "violences-urbaines",
    ]


def test_each_shipped_scenario_validates_and_keeps_its_promises(validated: Validated) -> None:
    # given a shipped scenario, validated and dry-run offline
    judgements = validated.judgements
    # then every step ends as written: the background and the answers accepted, each
    # deliberate attempt refused with exactly its codes
    assert all(j.as_promised for j in judgements)
    attempts = [j for j in judgements if j.step.expected_codes]
    assert attempts, "each scenario tests the perimeter with a deliberate attempt"
    assert all(not j.accepted for j in attempts)
    # and it has a background population, injects, expected actions each answered by a
    # simulated player in dry runs, and objectives that something scores
    origins = Counter(s.origin for s in validated.plan.steps)
    assert origins[Origin.BACKGROUND] > 50
    assert origins[Origin.INJECT] >= 5
    expected = validated.loaded.scenario.expected
    assert len(expected) >= 9
    assert all(e.response is not None for e in expected)


def test_each_shipped_scenario_runs_on_an_exercise_operation(validated: Validated) -> None:
    charter = validated.plan.charter
    assert charter.operation.mode is Mode.EXERCISE
    assert charter.operation.name.startswith("EXERCICE")
    assert charter.actor(Agency.EXERCISE_CONTROL) is not None
    # and it plays in at most 90 minutes, so that a ×50 dry run lasts under two minutes
    assert validated.loaded.scenario.scenario.duration <= 90
    assert any(s.agency is Agency.EXERCISE_CONTROL for s in validated.plan.steps)


@pytest.mark.parametrize("path", EXERCISE_CHARTERS, ids=lambda p: p.stem)
def test_exercise_charters_are_exercises_without_doctrine_errors(path: Path) -> None:
    charter = load_charter(path)
    assert charter.operation.mode is Mode.EXERCISE
    assert charter.operation.id.startswith("exercice-")
    assert charter.actor(Agency.EXERCISE_CONTROL) is not None
    assert not has_errors(find_gaps(charter))


def test_each_scenario_of_the_issue_has_its_own_charter_or_the_events() -> None:
    # given the scenarios and the charters they run on
    charters = {p.stem: validate_scenario(p).loaded.charter_path.name for p in shipped()}
    # then the two events run on their live charters (copied into exercise mode) and the
    # three others on exercise charters of their own
    assert charters == {
        "concert-stade": "concert-stade.yaml",
        "crue-pcs": "exercice-crue-pcs.yaml",
        "fete-musique-bars": "fete-musique-presquile.yaml",
        "fuite-gaz-metropole": "exercice-fuite-gaz-metropole.yaml",
        "violences-urbaines": "exercice-violences-urbaines.yaml",
    }
    assert len(EXERCISE_CHARTERS) == 3


def test_the_stadium_refuses_a_drone_flight_outside_its_authorisation() -> None:
    validated = validate_scenario(ROOT / "simulations/scenarios/concert-stade.yaml")
    flights = [j for j in validated.judgements if j.step.short_type == "drone.flight_started"]
    outcome = {str(j.step.event["flight"]): (j.accepted, j.codes) for j in flights}
    assert outcome == {"DR-01": (False, ("drone_not_authorised",)), "DR-02": (True, ())}
