"""A dry run of the evening through the real agency-service core and the real perimeter
engine: everything is accepted but the deliberate refusals, each refused with exactly the
reason codes it was written for; receipts and case notes stay with their agency."""

from __future__ import annotations

import pytest

from contracts.charter import Charter
from contracts.events.identity_checks import IdentityCheckRecorded
from contracts.vocabulary import Agency
from services.coordinator.perimeter import CompiledCharter
from simulations.festival import Evening, build_evening
from simulations.festival.player import expected_dispatches, expected_receipts

from .proposals import Judged, dry_run

pytestmark = pytest.mark.unit


def _judge(evening: Evening, compiled: CompiledCharter) -> list[Judged]:
    return list(dry_run(evening, compiled))


def _check(judged: list[Judged]) -> None:
    unexpected = [
        f"{j.action.key} {j.action.short_type}: {[r.message for r in j.decision.reasons]}"
        for j in judged
        if j.action.refusal is None and not j.decision.accepted
    ]
    assert unexpected == []
    for j in judged:
        if j.action.refusal is not None:
            assert j.decision.codes == j.action.refusal.codes, j.action.refusal.name


def test_the_coordinator_accepts_the_evening_but_the_deliberate_refusals(
    evening: Evening, compiled: CompiledCharter
) -> None:
    # given the evening, as the agency services propose it
    # when the coordinator decides each proposal in playing order
    judged = _judge(evening, compiled)
    # then every proposal is accepted but those written to be refused, which are refused
    # with exactly their reason codes
    _check(judged)
    assert sum(not j.decision.accepted for j in judged) == len(evening.refusals()) == 6


@pytest.mark.parametrize("seed", [1, 7, 31])
def test_other_seeds_hold_the_same_promise(
    festival: Charter, compiled: CompiledCharter, seed: int
) -> None:
    # given evenings of other seeds
    # when they are decided
    judged = _judge(build_evening(festival, seed), compiled)
    # then they too are accepted but for their deliberate refusals
    _check(judged)


def test_receipts_and_case_notes_stay_with_their_agency(
    evening: Evening, compiled: CompiledCharter
) -> None:
    # given the evening's proposals
    judged = _judge(evening, compiled)
    checks = [j for j in judged if j.action.short_type == "identity_check.recepisse_issued"]
    notes = [j for j in judged if "case_notes" in j.action.event]
    # then each identity check hands a receipt and proposes a record without the person
    assert len(checks) == expected_receipts(evening) > 0
    for j in checks:
        assert j.proposed.receipt is not None
        assert isinstance(j.proposed.envelope.data, IdentityCheckRecorded)
        assert "person" not in j.proposed.envelope.data.model_dump()
    # and the mediators' case notes are kept home, never proposed
    assert notes
    for j in notes:
        assert j.proposed.held == ("case_notes",)
        assert getattr(j.proposed.envelope.data, "case_notes", None) is None


def test_each_accepted_assignment_names_a_unit_to_dispatch(
    evening: Evening, compiled: CompiledCharter
) -> None:
    # given the crisis cell's assignments
    judged = _judge(evening, compiled)
    accepted = [
        j for j in judged if j.action.short_type == "incident.assigned" and j.decision.accepted
    ]
    # then each accepted one names a unit of its assignee: one dispatch each
    assert len(accepted) == expected_dispatches(evening)
    for j in accepted:
        actor = evening.charter.actor(Agency(j.action.event["assignee"]))
        assert actor is not None
        assert j.action.event["assignee_unit"] in {u.id for u in actor.units}
