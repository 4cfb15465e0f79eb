"""Fuzzing the envelope decoders and the coordinator's decision.

What these tests prove: byte-level damage to a valid envelope (flipped, cut, inserted or
dropped bytes, in the structured body or in binary headers and body), extreme times and
numbers never make a decoder raise anything but `EnvelopeError` with a stable reason code;
and the coordinator's functional core, given any proposal — well formed or damaged, on its
own subject or another, alone or after others with the same ids — returns exactly one
timeline record, the event accepted or a `perimeter.violated`, and never raises. A message
JetStream gave up on, whatever it holds, becomes one dead-letter record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import aware_datetimes, envelopes, fixed_offsets, geo_points, identifiers

from contracts import subjects
from contracts.cloudevents import (
    from_binary,
    from_structured,
    percent_encode,
    to_binary,
    to_structured,
)
from contracts.envelope import Envelope
from contracts.errors import EnvelopeError
from contracts.events.violations import PerimeterViolated
from contracts.reasons import ReasonCode
from contracts.routing import MSG_ID_HEADER
from contracts.vocabulary import Agency, Mode
from services.coordinator.dead_letters import dead_letter
from services.coordinator.domain import Coordinator, Incoming, Outcome
from services.runtime.consumer import Exhausted
from unit.perimeter.builders import OPERATION, POINTS, SECTORS, UNITS, live

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: The doctrine charter's night, with margins on both sides.
NIGHT = (datetime(2026, 6, 21, 12, 0), datetime(2026, 6, 22, 10, 0))
#: Inside its window, in UTC (2026-06-21 18:00 → 04:00 Paris).
NIGHT_UTC = (datetime(2026, 6, 21, 16, 1), datetime(2026, 6, 22, 1, 59))
#: Its map (every sector), with a margin.
MAP = (4.829, 45.759, 4.841, 45.767)


# --- what arrives ---------------------------------------------------------------------------


@st.composite
def _aimed(draw: st.DrawFn) -> Envelope:
    """An envelope as one of the charter's actors would send it: its operation, one of its
    units, a sector, a point of the map, a time of the night (then any type, any content)."""
    agency = draw(st.sampled_from(sorted(UNITS)))
    competent = sorted(live().actors[agency].events)
    return draw(
        envelopes(
            competent if draw(st.booleans()) else None,
            mode=Mode.LIVE,
            operation=OPERATION,
            agency=agency,
            unit=st.one_of(st.none(), st.sampled_from(UNITS[agency])),
            sector=st.one_of(st.none(), st.sampled_from(SECTORS)),
            times=st.datetimes(*NIGHT_UTC, timezones=st.just(UTC)),
            positions=st.one_of(st.sampled_from(list(POINTS.values())), geo_points(*MAP)),
            incidents=st.sampled_from(["INC-1", "INC-2", "INC-3"]),
            ids=st.sampled_from([f"evt-{i}" for i in range(6)]),
        )
    )


def _wild() -> st.SearchStrategy[Envelope]:
    """Envelopes of any identity, place and time, around the charter's names."""
    units = [u for agency_units in UNITS.values() for u in agency_units]
    return envelopes(
        operation=st.sampled_from([OPERATION, "another-operation"]),
        unit=st.one_of(st.none(), st.sampled_from(units), identifiers()),
        sector=st.one_of(st.none(), st.sampled_from(SECTORS), identifiers()),
        times=st.one_of(aware_datetimes(*NIGHT), aware_datetimes()),
        positions=st.one_of(geo_points(*MAP), geo_points()),
        incidents=st.sampled_from(["INC-1", "INC-2", "INC-3"]),
        ids=st.sampled_from([f"evt-{i}" for i in range(6)]),
    )


def charter_envelopes() -> st.SearchStrategy[Envelope]:
    """Envelopes of any type, mostly aimed at the doctrine charter so that decisions reach
    every check (and acceptances happen), sometimes from anywhere."""
    return st.one_of(_aimed(), _aimed(), _wild())


@st.composite
def proposal_subjects(draw: st.DrawFn, envelope: Envelope) -> str:
    """The envelope's own proposal subject, another agency's or mode's, or any text."""
    choice = draw(st.integers(0, 5))
    if choice == 5:
        return draw(st.text(max_size=80))
    agency = envelope.agency if choice < 3 else draw(st.sampled_from(Agency))
    mode = envelope.mode if choice != 4 else draw(st.sampled_from(Mode))
    return subjects.proposal(mode, envelope.operation, agency, envelope.type)


@st.composite
def damaged(draw: st.DrawFn, raw: bytes) -> bytes:
    """`raw` with one to four bytes-level injuries: flipped, dropped, inserted, cut."""
    out = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(out)))
        injury = draw(st.sampled_from(["flip", "drop", "insert", "cut"]))
        if injury == "flip" and where < len(out):
            out[where] = draw(st.integers(0, 255))
        elif injury == "drop":
            del out[where : where + draw(st.integers(1, 16))]
        elif injury == "insert":
            out[where:where] = draw(st.binary(min_size=1, max_size=8))
        else:
            del out[where:]
    return bytes(out)


#: JSON values that stress number and time handling.
EXTREMES = st.one_of(
    st.sampled_from(
        [
            float("nan"),
            float("inf"),
            -float("inf"),
            10**400,
            -(10**400),
            1e308,
            5e-324,
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "2026-06-21T21:00:00+99:00",
            "2026-02-30T21:00:00Z",
            "",
            "\u0000",
            [],
            {},
        ]
    ),
    st.datetimes(timezones=fixed_offsets()).map(datetime.isoformat),
    st.integers(),
    st.floats(),
)
#: Where extremes are put: envelope times, coordinates, counts, versions.
EXTREME_PLACES = [
    ("time",),
    ("recordedtime",),
    ("sequence",),
    ("data", "position", "lon"),
    ("data", "position", "lat"),
    ("data", "schema_version"),
    ("data", "people_involved"),
    ("data", "checked_at"),
    ("data", "period_start"),
]


@st.composite
def extreme_documents(draw: st.DrawFn) -> str:
    """A valid envelope's JSON with one to three extreme values put somewhere."""
    document = json.loads(to_structured(draw(charter_envelopes())))
    for _ in range(draw(st.integers(1, 3))):
        *path, last = draw(st.sampled_from(EXTREME_PLACES))
        target = document
        for key in path:
            target = target.setdefault(key, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            target[last] = draw(EXTREMES)
    return json.dumps(document)


# --- the decoders ---------------------------------------------------------------------------

REASON_CODES = set(ReasonCode)


def decodes_or_refuses(decode: Callable[[], Envelope]) -> None:
    """The decoder returns an envelope that re-encodes to itself, or raises `EnvelopeError`
    with a stable reason code; nothing else."""
    refused: EnvelopeError | None = None
    try:
        envelope = decode()
    except EnvelopeError as exc:
        refused = exc
    if refused is not None:
        assert refused.code in REASON_CODES
        return
    assert from_structured(to_structured(envelope)) == envelope


@FUZZ
@given(data=st.data(), envelope=charter_envelopes())
def test_damaged_structured_bytes_decode_or_are_refused(
    data: st.DataObject, envelope: Envelope
) -> None:
    raw = data.draw(damaged(to_structured(envelope)))
    decodes_or_refuses(lambda: from_structured(raw))


@FUZZ
@given(data=st.data(), envelope=charter_envelopes())
def test_damaged_binary_messages_decode_or_are_refused(
    data: st.DataObject, envelope: Envelope
) -> None:
    headers, body = to_binary(envelope)
    name = data.draw(st.sampled_from(sorted(headers)))
    injury = data.draw(st.sampled_from(["value", "drop", "raw", "case"]))
    if injury == "value":
        headers[name] = data.draw(st.text(max_size=30))
    elif injury == "drop":
        del headers[name]
    elif injury == "raw":
        headers[name] = percent_encode(data.draw(st.text(max_size=30)))
    else:
        headers[name.upper()] = headers.pop(name)
    body = data.draw(st.one_of(st.just(body), damaged(body)))
    decodes_or_refuses(lambda: from_binary(headers, body))


@FUZZ
@given(raw=extreme_documents())
def test_extreme_numbers_and_times_decode_or_are_refused(raw: str) -> None:
    decodes_or_refuses(lambda: from_structured(raw))


# --- the decision ---------------------------------------------------------------------------


def coordinator() -> Coordinator:
    return Coordinator({OPERATION: live()}, max_proposal_bytes=8192, remembered=1000)


def received_times(envelope: Envelope) -> st.SearchStrategy[datetime]:
    """Mostly soon after the event, sometimes any time around the night."""
    anytime = st.datetimes(NIGHT[0] - timedelta(days=2), NIGHT[1] + timedelta(days=200))
    return st.one_of(
        st.timedeltas(timedelta(0), timedelta(hours=6)).map(lambda lag: envelope.time + lag),
        anytime.map(lambda t: t.replace(tzinfo=UTC)),
    )


def assert_one_record(outcome: Outcome, incoming: Incoming, mode: Mode) -> None:
    """Exactly one record, appendable as it is: the event, or a violation with reasons."""
    record = outcome.record
    assert from_structured(to_structured(record)) == record
    assert record.mode is mode
    assert outcome.deliveries
    assert Agency.CRISIS_CELL in {d.to for d in outcome.deliveries}
    if outcome.accepted:
        assert not isinstance(record.data, PerimeterViolated)
        assert record.id == from_structured(incoming.body).id
    else:
        assert isinstance(record.data, PerimeterViolated)
        assert record.data.reasons
        assert {r.code for r in record.data.reasons} <= REASON_CODES


@FUZZ
@given(data=st.data(), envelope=charter_envelopes())
def test_any_proposal_becomes_exactly_one_record(data: st.DataObject, envelope: Envelope) -> None:
    # given any well-formed proposal on some subject, received at some time
    incoming = Incoming(
        subject=data.draw(proposal_subjects(envelope)),
        headers={MSG_ID_HEADER: envelope.id},
        body=to_structured(envelope),
        received_at=data.draw(received_times(envelope)),
    )
    mode = data.draw(st.sampled_from(Mode))
    # when the coordinator of that stream decides it, then it gets one record, never raising
    assert_one_record(coordinator().decide(mode, incoming), incoming, mode)


@FUZZ
@given(data=st.data(), envelope=charter_envelopes(), raw=extreme_documents())
def test_any_damaged_proposal_becomes_exactly_one_record(
    data: st.DataObject, envelope: Envelope, raw: str
) -> None:
    # given a proposal damaged byte by byte, or carrying extreme values
    body = data.draw(st.one_of(damaged(to_structured(envelope)), st.just(raw.encode())))
    subject = subjects.proposal(envelope.mode, OPERATION, envelope.agency, envelope.type)
    received_at = data.draw(received_times(envelope))
    incoming = Incoming(subject=subject, headers={}, body=body, received_at=received_at)
    # then the coordinator records it once, never raising
    assert_one_record(coordinator().decide(Mode.LIVE, incoming), incoming, Mode.LIVE)


@FEW
@given(
    data=st.data(),
    proposals=st.lists(st.tuples(charter_envelopes(), st.booleans()), min_size=2, max_size=8),
)
def test_a_sequence_of_proposals_sharing_ids_gives_one_record_each(
    data: st.DataObject, proposals: list[tuple[Envelope, bool]]
) -> None:
    # given proposals decided in order by one coordinator (ids drawn from a few), each
    # appended before the next one, some of them sent twice
    core = coordinator()
    first_body: dict[str, bytes] = {}
    for sequence, (envelope, twice) in enumerate(proposals, start=1):
        body = to_structured(envelope)
        subject = subjects.proposal(
            envelope.mode, envelope.operation, envelope.agency, envelope.type
        )
        received_at = data.draw(received_times(envelope))
        for _ in range(2 if twice else 1):
            incoming = Incoming(subject, {MSG_ID_HEADER: f"m-{sequence}"}, body, received_at)
            outcome = core.decide(envelope.mode, incoming)
            # then each gets one record; another content under a recorded id is refused
            assert_one_record(outcome, incoming, envelope.mode)
            duplicate = ReasonCode.DUPLICATE_ID in {r.code for r in outcome.reasons}
            known = first_body.setdefault(f"{envelope.mode}/{envelope.id}", body)
            assert duplicate == (known != body)
        core.remember(envelope.mode, outcome.proposal_id, sequence, outcome.digest)


@st.composite
def exhausted_messages(draw: st.DrawFn) -> Exhausted:
    """Whatever JetStream may give up on: any subject, headers and bytes, or nothing read."""
    known_subject = subjects.proposal(
        Mode.LIVE, OPERATION, Agency.POLICE_NATIONALE, "fr.interforces.incident.reported"
    )
    return Exhausted(
        stream="IFC_LIVE_PROPOSALS",
        consumer="coordinator-live",
        sequence=draw(st.integers(1, 2**63)),
        deliveries=draw(st.integers(0, 10_000)),
        noticed_at=draw(aware_datetimes()),
        subject=draw(st.one_of(st.none(), st.text(max_size=80), st.just(known_subject))),
        headers=draw(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=3)),
        data=draw(st.one_of(st.none(), st.binary(max_size=300))),
        stored_at=draw(st.one_of(st.none(), aware_datetimes())),
        problem=draw(st.one_of(st.none(), st.text(max_size=60))),
    )


@FUZZ
@given(exhausted=exhausted_messages())
def test_any_message_given_up_on_becomes_one_dead_letter(exhausted: Exhausted) -> None:
    outcome = dead_letter(Mode.LIVE, exhausted)
    record = outcome.record
    assert from_structured(to_structured(record)) == record
    assert isinstance(record.data, PerimeterViolated)
    assert [r.code for r in record.data.reasons] == [ReasonCode.DEAD_LETTER]
    assert Agency.CRISIS_CELL in {d.to for d in outcome.deliveries}
