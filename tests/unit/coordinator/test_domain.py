"""The coordinator's functional core: every message becomes exactly one outcome, never an
exception; accepted records advance the situation; refusals name their reasons."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import subjects
from contracts.cloudevents import to_structured
from contracts.events.violations import PerimeterViolated
from contracts.routing import MSG_ID_HEADER
from contracts.vocabulary import Agency, Mode
from services.coordinator.domain import (
    UNKNOWN_OPERATION,
    Coordinator,
    Incoming,
    feed_copy,
    proposal_id_of,
)
from unit.perimeter.builders import OPERATION, POINTS, T0, envelope, live, payload

pytestmark = pytest.mark.unit


def coordinator() -> Coordinator:
    return Coordinator({OPERATION: live()}, max_proposal_bytes=4096, remembered=3)


def incoming_of(body: bytes, agency: Agency = Agency.POLICE_MUNICIPALE, msg_id: str = "p-1",
                type_: str = "fr.interforces.incident.reported") -> Incoming:  # fmt: skip
    return Incoming(
        subject=subjects.proposal(Mode.LIVE, OPERATION, agency, type_),
        headers={MSG_ID_HEADER: msg_id},
        body=body,
        received_at=T0,
    )


def report() -> bytes:
    data = payload("incident.reported", category="theft", incident="INC-1",
                   position=POINTS["fest"])  # fmt: skip
    return to_structured(envelope(data, Agency.POLICE_MUNICIPALE, event_id="p-1"))


def test_an_accepted_report_is_recorded_and_known_to_the_situation() -> None:
    # given a coordinator of the doctrine charter
    core = coordinator()
    # when municipal police report a theft in the festival zone
    outcome = core.decide(Mode.LIVE, incoming_of(report()))
    # then it is accepted, recorded under its own id, routed, and the incident is known
    assert outcome.accepted
    assert outcome.record.id == outcome.proposal_id == "p-1"
    assert outcome.timeline_subject.startswith(f"ifc.live.{OPERATION}.timeline.incident.")
    assert Agency.CRISIS_CELL in {d.to for d in outcome.deliveries}
    assert "INC-1" in core.situation(Mode.LIVE, OPERATION).incidents


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"{not json", "malformed"), (b"[]", "malformed"), (b"x" * 5000, "payload_too_large")],
)
def test_unreadable_bodies_are_refusals_with_a_reason(body: bytes, code: str) -> None:
    outcome = coordinator().decide(Mode.LIVE, incoming_of(body))
    assert not outcome.accepted
    assert isinstance(outcome.record.data, PerimeterViolated)
    assert [r.code.value for r in outcome.reasons] == [code]
    assert {d.to for d in outcome.deliveries} == {Agency.CRISIS_CELL, Agency.POLICE_MUNICIPALE}


def test_a_subject_that_is_not_a_proposal_is_recorded_under_the_unknown_operation() -> None:
    bad = Incoming(subject="ifc.live.x.proposal.nobody", headers={}, body=b"{}", received_at=T0)
    outcome = coordinator().decide(Mode.LIVE, bad)
    assert outcome.record.operation == UNKNOWN_OPERATION
    assert outcome.proposal_id.startswith("sha256:")
    assert [d.to for d in outcome.deliveries] == [Agency.CRISIS_CELL]


def test_a_proposal_on_the_exercise_stream_of_a_live_operation_is_refused_there() -> None:
    outcome = coordinator().decide(Mode.EXERCISE, incoming_of(report()))
    assert [r.code.value for r in outcome.reasons] == ["wrong_operation"]
    assert outcome.record.mode is Mode.EXERCISE


def test_copies_are_redacted_per_delivery() -> None:
    outcome = coordinator().decide(Mode.LIVE, incoming_of(report()))
    for delivery in outcome.deliveries:
        copy = feed_copy(outcome.record, delivery)
        for name in delivery.remove:
            assert getattr(copy.data, name) != getattr(outcome.record.data, name) or (
                getattr(outcome.record.data, name) is None
            )


def test_remembered_proposals_are_bounded() -> None:
    core = coordinator()
    for i in range(5):
        core.remember(Mode.LIVE, f"p-{i}", i + 1)
    assert core.decided_at(Mode.LIVE, "p-0") is None
    assert core.decided_at(Mode.LIVE, "p-4") == 5
    core.reset(Mode.LIVE)
    assert core.decided_at(Mode.LIVE, "p-4") is None


def test_message_ids_that_are_not_printable_ascii_are_replaced_by_a_digest() -> None:
    incoming = incoming_of(b"{}", msg_id="bad\x00id")
    assert proposal_id_of(incoming).startswith("sha256:")


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=600), subject=st.text(max_size=80))
def test_decide_is_total_on_arbitrary_messages(body: bytes, subject: str) -> None:
    # whatever arrives, the core returns one outcome and never raises
    incoming = Incoming(subject=subject, headers={}, body=body, received_at=T0)
    outcome = coordinator().decide(Mode.LIVE, incoming)
    assert outcome.record.mode is Mode.LIVE
    assert outcome.deliveries
