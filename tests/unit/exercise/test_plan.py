"""A run's plan: the same for the same seed, another for another seed; every step inside
the scenario and its unit's window; injects at their scenario times; each simulated answer
after its trigger; one step at a time per thread; sector names and `@ID` resolved."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from itertools import pairwise

import pytest
import shapely
from shapely.geometry import shape

from contracts.events.catalogue import EVENT_ADAPTER
from contracts.vocabulary import Agency
from simulations.exercise.cast import Via
from simulations.exercise.charter import exercise_charter
from simulations.exercise.plan import build_plan, step_event_id
from simulations.exercise.population import unit_window
from simulations.exercise.steps import Origin

from .scenarios import SHIPPED, SHORT, planned

pytestmark = pytest.mark.unit


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    _, first = planned(SHORT, 7)
    _, again = planned(SHORT, 7)
    _, other = planned(SHORT, 8)
    assert first.steps == again.steps
    assert first.steps != other.steps
    # the injects stay where the scenario puts them; the background and the answers move
    injects = [(s.key, s.at, s.event) for s in first.steps if s.origin is Origin.INJECT]
    assert injects == [(s.key, s.at, s.event) for s in other.steps if s.origin is Origin.INJECT]
    answers = {s.key: s.at for s in first.steps if s.origin is Origin.RESPONSE}
    assert answers != {s.key: s.at for s in other.steps if s.origin is Origin.RESPONSE}


def test_the_run_id_changes_ids_never_what_happens() -> None:
    _, one = planned(SHORT, 7, run="r1")
    _, two = planned(SHORT, 7, run="r2")
    assert [(s.at, s.via, s.unit, s.event) for s in one.steps] == [
        (s.at, s.via, s.unit, s.event) for s in two.steps
    ]
    step = one.steps[0]
    assert step_event_id(step, one.operation) != step_event_id(step, two.operation)


@pytest.mark.parametrize("seed", [1, 2026])
def test_steps_lie_in_the_scenario_and_each_thread_plays_in_order(seed: int) -> None:
    loaded, plan = planned(SHIPPED / "concert-stade.yaml", seed)
    header = loaded.scenario.scenario
    assert all(header.start <= s.at < header.end for s in plan.steps)
    assert [s.at for s in plan.steps] == sorted(s.at for s in plan.steps)
    for thread, steps in plan.threads().items():
        assert all(a.at < b.at for a, b in pairwise(steps)), thread
    keys = [(s.via, s.unit, s.key) for s in plan.steps]
    assert len(keys) == len(set(keys))
    # every event is a valid event of the catalogue
    for step in plan.steps:
        EVENT_ADAPTER.validate_python(step.event)


def test_background_units_act_inside_their_window_and_their_sectors() -> None:
    loaded, plan = planned(SHIPPED / "concert-stade.yaml", 2026)
    sectors = {s.id: shape(s.geometry.model_dump()) for s in plan.charter.sectors}
    patrols = {str(b.unit): b for b in loaded.scenario.population}
    for step in plan.steps:
        if step.origin is not Origin.BACKGROUND:
            continue
        actor = plan.charter.actor(step.agency)
        assert actor is not None
        assert unit_window(plan.charter, actor, step.unit or "").contains(step.at)
        position = step.event.get("position")
        if position is not None:
            home = patrols[step.unit or ""].sectors or actor.sectors
            assert any(
                shapely.contains_xy(sectors[s], position["lon"], position["lat"]) for s in home
            )
    # the drone unit, on duty from 19:30 only, is not in the background (its flights are
    # injects); a unit with a break reports no position while unavailable
    med = [s for s in plan.steps if s.unit == "MED-TCL-1"]
    pause = [s for s in med if s.event.get("status") == "unavailable"]
    back = [s for s in med if s.event.get("status") == "available" and s.at > pause[0].at]
    assert not [
        s
        for s in med
        if s.short_type == "unit.position_reported" and pause[0].at < s.at < back[0].at
    ]


def test_injects_play_at_their_times_and_answers_after_their_triggers() -> None:
    loaded, plan = planned(SHORT, 7)
    start = loaded.scenario.scenario.start
    by_ref = plan.by_ref()
    assert by_ref["INJ-IVRESSE"].at == start + timedelta(minutes=1)
    assert by_ref["INJ-MESSAGE"].via is Via.CONTROL
    assert by_ref["INJ-MESSAGE"].agency is Agency.EXERCISE_CONTROL
    assert by_ref["INJ-MESSAGE"].event["inject"] == "INJ-MESSAGE"
    assert by_ref["INJ-SUBSTITUTION"].via is Via.DESK
    assert by_ref["INJ-SUBSTITUTION"].expected_codes == ("assignee_not_competent",)
    assignment, acknowledgement = by_ref["EXP-AFFECTATION"], by_ref["EXP-ACQUIT"]
    assert start + timedelta(minutes=2) <= assignment.at <= start + timedelta(minutes=5)
    assert assignment.at < acknowledgement.at <= assignment.at + timedelta(minutes=3)
    assert assignment.event["assignee"] == "mediation"  # from `match`
    assert assignment.event["assignee_unit"] == "MED-SOIR-1"  # from the response
    assert "EXP-DENSITE" not in by_ref  # nobody answers it
    assert plan.triggers["EXP-AFFECTATION"] == assignment.at


def test_a_forgotten_answer_takes_its_followers_with_it() -> None:
    loaded, _ = planned(SHORT, 7)
    first = loaded.scenario.expected[0]
    assert first.response is not None
    # given the first answer always forgotten
    response = first.response.model_copy(update={"miss": 1.0})
    forgetful = first.model_copy(update={"response": response})
    scenario = loaded.scenario.model_copy(
        update={"expected": (forgetful, *loaded.scenario.expected[1:])}
    )
    changed = replace(loaded, scenario=scenario)
    plan = build_plan(changed, exercise_charter(loaded.charter, "court-t1"), 7)
    # then neither it nor the acknowledgement waiting for it happen; the others do
    refs = plan.by_ref()
    assert "EXP-AFFECTATION" not in refs
    assert "EXP-ACQUIT" not in refs
    assert "EXP-DECISION" in refs


def test_sector_names_become_points_inside_them_and_references_event_ids() -> None:
    _, plan = planned(SHIPPED / "crue-pcs.yaml", 2026)
    sectors = {str(s.id): shape(s.geometry.model_dump()) for s in plan.charter.sectors}
    by_ref = plan.by_ref()
    camping = by_ref["INJ-CAMPING"].event["position"]
    assert shapely.contains_xy(sectors["camping-municipal"], camping["lon"], camping["lat"])
    alert = by_ref["EXP-ALERTE"]
    assert alert.event["area"] == plan.charter.sectors[1].geometry.model_dump(mode="json")
    update = by_ref["EXP-FIN-ALERTE"]
    assert update.event["references"] == step_event_id(alert, plan.operation)


def test_scenario_times_in_payloads_become_instants() -> None:
    loaded, plan = planned(SHIPPED / "concert-stade.yaml", 2026)
    screening = plan.by_ref()["INJ-FILTRAGE-NORD"].event
    start = loaded.scenario.scenario.start
    assert screening["period_start"] == start.isoformat()
    assert screening["period_end"] == (start + timedelta(minutes=10)).isoformat()


def test_threads_group_an_incident_s_life() -> None:
    _, plan = planned(SHIPPED / "fete-musique-bars.yaml", 2026)
    threads: defaultdict[str, set[str]] = defaultdict(set)
    for step in plan.steps:
        incident = step.event.get("incident")
        if isinstance(incident, str) and step.short_type.startswith("incident."):
            threads[incident].add(step.thread)
    assert threads
    assert all(found == {f"incident:{incident}"} for incident, found in threads.items())
