"""Decoding stream messages into records (or unreadable notes) and planning a batch against
the checkpoint: nothing already projected is projected again, nothing is skipped."""

from __future__ import annotations

import hashlib

import pytest

from contracts.cloudevents import to_structured
from contracts.reasons import ReasonCode
from contracts.routing import (
    DELIVERIES_HEADER,
    MSG_ID_HEADER,
    PROPOSAL_HEADER,
    RecordDelivery,
    encode_deliveries,
)
from contracts.vocabulary import Agency, Mode
from services.timeline.domain import (
    INVALID_DELIVERIES,
    Decoded,
    TimelineRecord,
    Unreadable,
    decode_record,
    plan_batch,
)

from .builders import envelope, event, record

pytestmark = pytest.mark.unit

SUBJECT = "ifc.live.timeline-test.timeline.incident.reported"


def test_a_structured_cloudevent_becomes_a_record_at_its_stream_sequence() -> None:
    # given a timeline record as the coordinator publishes it
    env = envelope(event("incident.reported"), Agency.POLICE_MUNICIPALE)
    deliveries = (RecordDelivery(to=Agency.CRISIS_CELL), RecordDelivery(to=Agency.MEDIATION))
    headers = {
        MSG_ID_HEADER: env.id,
        PROPOSAL_HEADER: env.id,
        DELIVERIES_HEADER: encode_deliveries(deliveries),
    }
    # when decoded at stream sequence 42
    decoded = decode_record(Mode.LIVE, 42, SUBJECT, headers, to_structured(env))
    # then it is the same envelope, numbered, with its routing
    assert isinstance(decoded, TimelineRecord)
    assert decoded.envelope == env.model_copy(update={"sequence": 42})
    assert (decoded.seq, decoded.proposal_id, decoded.deliveries) == (42, env.id, deliveries)


def test_a_record_without_routing_headers_has_unknown_routing() -> None:
    # given a record published without Ifc-* headers
    env = envelope(event("unit.checked_in"))
    # when decoded
    decoded = decode_record(Mode.LIVE, 1, SUBJECT, {}, to_structured(env))
    # then its proposal and deliveries are unknown, not empty
    assert isinstance(decoded, TimelineRecord)
    assert (decoded.proposal_id, decoded.deliveries) == (None, None)


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b"\xff Claire Martin", {}, ReasonCode.MALFORMED),
        (b"[1, 2]", {}, ReasonCode.MALFORMED),
        (b'{"id": "x", "person": "Claire Martin"}', {}, ReasonCode.INVALID_ENVELOPE),
        (
            to_structured(envelope(event("unit.checked_in"), mode=Mode.EXERCISE)),
            {},
            ReasonCode.MODE_MISMATCH,
        ),
        (
            to_structured(envelope(event("unit.checked_in"))),
            {DELIVERIES_HEADER: '[{"to": "nobody"}]'},
            INVALID_DELIVERIES,
        ),
    ],
    ids=["not-json", "not-an-object", "not-an-envelope", "other-mode", "bad-routing"],
)
def test_an_undecodable_message_becomes_a_note_without_its_content(
    body: bytes, headers: dict[str, str], reason: str
) -> None:
    # given a message of the live timeline that cannot be projected as it is
    # when decoded
    decoded = decode_record(Mode.LIVE, 9, SUBJECT, {MSG_ID_HEADER: "evt-9", **headers}, body)
    # then it is a note: where, why, size and fingerprint, never the body itself
    assert isinstance(decoded, Unreadable)
    assert (decoded.seq, decoded.reason, decoded.msg_id) == (9, reason, "evt-9")
    assert (decoded.size, decoded.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert decoded.operation == "timeline-test"
    assert "Claire" not in decoded.detail


def _note(seq: int) -> Unreadable:
    return Unreadable(Mode.LIVE, seq, SUBJECT, None, "malformed", "", 1, "0" * 64)


def test_a_batch_skips_what_the_checkpoint_covers_and_takes_the_run_after_it() -> None:
    # given a checkpoint at 3 and a batch 2..6 in disorder, 5 unreadable
    items: list[Decoded] = [
        record(6, event("unit.checked_in")),
        record(2, event("unit.checked_in")),
        _note(5),
        record(4, event("unit.checked_in")),
        record(3, event("unit.checked_in")),
    ]
    # when planned
    plan = plan_batch(3, items)
    # then 2 and 3 are stale, 4 and 6 are records, 5 a note, and the checkpoint reaches 6
    assert plan.stale == (2, 3)
    assert [r.seq for r in plan.records] == [4, 6]
    assert [u.seq for u in plan.unreadable] == [5]
    assert (plan.held, plan.checkpoint, plan.advances) == ((), 6, True)


def test_a_batch_after_a_gap_waits_for_the_missing_sequences() -> None:
    # given a checkpoint at 10 and a batch 11, 12, 14, 15 (13 is still on its way)
    items: list[Decoded] = [record(s, event("unit.checked_in")) for s in (11, 12, 14, 15)]
    # when planned
    plan = plan_batch(10, items)
    # then 11 and 12 are taken, 14 and 15 held, and the checkpoint stops at 12
    assert [r.seq for r in plan.records] == [11, 12]
    assert (plan.held, plan.checkpoint) == ((14, 15), 12)


def test_a_redelivered_batch_is_all_stale() -> None:
    # given a batch already projected (checkpoint past it), with one sequence twice
    items: list[Decoded] = [record(s, event("unit.checked_in")) for s in (7, 8, 8)]
    # when planned
    plan = plan_batch(8, items)
    # then nothing advances
    assert (plan.stale, plan.advances, plan.checkpoint) == ((7, 8, 8), False, 8)
