"""The bad-input corpus through the coordinator's functional core (and, where it applies,
the agency service's validation of unit reports): every file ends as exactly one record —
the event itself for mere data, otherwise a refusal with the manifest's stable reason codes
that never quotes the refused content — and nothing raises. Then the two refusals decided
outside the engine: a duplicate id, and a dead letter."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from corpus import PROPOSALS, PROPOSED, Case, load_manifest

from contracts.charter.loader import load_charter
from contracts.cloudevents import from_structured, to_structured
from contracts.events.violations import PerimeterViolated
from contracts.ids import OperationId
from contracts.reasons import ReasonCode
from contracts.routing import MSG_ID_HEADER
from contracts.vocabulary import Agency, Mode
from services.agency.domain import AgencyProfile, Engagement, enrich, read_report
from services.agency.errors import ReportRefusedError
from services.coordinator.dead_letters import dead_letter
from services.coordinator.domain import UNKNOWN_OPERATION, Coordinator, Incoming, Outcome
from services.coordinator.perimeter.compiled import compile_charter
from services.runtime.consumer import Exhausted

pytestmark = pytest.mark.unit

MANIFEST = load_manifest()
CASES = {case.file: case for case in MANIFEST.cases}
#: After the charter's night (2026-06-21 18:00 → 04:00 Paris): as when the tests run.
RECEIVED = datetime(2026, 6, 22, 12, 0, tzinfo=UTC)


def coordinator() -> Coordinator:
    charter = load_charter(MANIFEST.charter_path)
    return Coordinator(
        {charter.operation.id: compile_charter(charter)},
        max_proposal_bytes=MANIFEST.max_proposal_bytes,
    )


def incoming(case: Case, received_at: datetime = RECEIVED) -> Incoming:
    return Incoming(
        subject=MANIFEST.subject,
        headers={MSG_ID_HEADER: case.msg_id},
        body=case.body,
        received_at=received_at,
    )


@cache
def outcomes() -> dict[str, Outcome]:
    """Every case decided in the manifest's order by one coordinator, each remembered at
    its timeline position as the shell does once it is appended."""
    core = coordinator()
    decided = {}
    for sequence, case in enumerate(MANIFEST.cases, start=1):
        outcome = core.decide(MANIFEST.mode, incoming(case))
        core.remember(MANIFEST.mode, outcome.proposal_id, sequence, outcome.digest)
        decided[case.file] = outcome
    return decided


def document_of(case: Case) -> dict[str, Any] | None:
    """The case's JSON object, when it is one."""
    try:
        document = json.loads(case.body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def test_every_file_has_its_case_and_every_case_its_file() -> None:
    files = {path.name for path in PROPOSALS.iterdir()}
    assert files == set(CASES)
    assert len(CASES) == len(MANIFEST.cases)


@pytest.mark.parametrize("case", MANIFEST.cases, ids=lambda c: c.file)
def test_each_case_ends_as_one_record_with_its_stable_reasons(case: Case) -> None:
    # given the corpus decided in order, when this case's outcome is read
    outcome = outcomes()[case.file]
    record = outcome.record
    # then its record is valid as it will be appended, in the stream's mode, for the cell
    assert from_structured(to_structured(record)) == record
    assert record.mode is MANIFEST.mode
    assert Agency.CRISIS_CELL in {d.to for d in outcome.deliveries}
    if case.accepted:
        # mere data: the event itself, its text as sent
        assert outcome.accepted
        document = document_of(case)
        assert document is not None
        assert record.id == document["id"]
        assert (
            record.data.model_dump(mode="json")["description"] == (document["data"]["description"])
        )
        return
    # otherwise a refusal with exactly the manifest's codes, to the cell and the credentials
    assert not outcome.accepted
    assert isinstance(record.data, PerimeterViolated)
    assert {r.code for r in record.data.reasons} == case.reasons
    assert {d.to for d in outcome.deliveries} == {Agency.CRISIS_CELL, MANIFEST.agency}
    # which never copies what the proposal said in free text
    document = document_of(case)
    data = document.get("data") if document else None
    text = data.get("description") if isinstance(data, dict) else None
    if isinstance(text, str) and len(text) > 8:
        assert text not in to_structured(record).decode()


REPORTED = [case for case in MANIFEST.cases if case.report is not None]


@pytest.mark.parametrize("case", REPORTED, ids=lambda c: c.file)
def test_the_agency_service_answers_the_same_event_as_the_manifest_says(case: Case) -> None:
    # given the case's event as a unit of the proposer reports it to its agency service
    document = document_of(case)
    assert document is not None
    report = {
        "report": case.msg_id,
        "operation": MANIFEST.operation,
        "unit": "PM-1",
        "token": "0" * 32,
        "time": document.get("time", "2026-06-21T21:00:00+02:00"),
        "event": document["data"],
    }
    engagement = Engagement(OperationId(MANIFEST.operation), MANIFEST.mode, frozenset({"PM-1"}))
    # when the service reads and validates it
    try:
        read = read_report(json.dumps(report).encode(), MANIFEST.max_proposal_bytes)
        enrich(AgencyProfile(MANIFEST.agency), read, engagement)
    except ReportRefusedError as refusal:
        answer: str = refusal.code.value
    else:
        answer = PROPOSED
    # then it proposes it or refuses it with the manifest's code
    assert answer == case.report


# --- duplicate ids --------------------------------------------------------------------------


def test_the_same_proposal_again_under_another_message_id_is_decided_again() -> None:
    # given a recorded proposal
    core = coordinator()
    first = CASES["duplicate-id-first.json"]
    recorded = core.decide(Mode.LIVE, incoming(first))
    core.remember(Mode.LIVE, recorded.proposal_id, 1, recorded.digest)
    # when the same bytes come again under another message id (a retry beyond the window)
    again = Incoming(MANIFEST.subject, {MSG_ID_HEADER: "retry"}, first.body, RECEIVED)
    outcome = core.decide(Mode.LIVE, again)
    # then it is the same record (JetStream drops its append as a duplicate), not a refusal
    assert outcome.accepted
    assert outcome.record.id == recorded.record.id


def test_another_content_under_a_recorded_id_is_refused_even_in_the_same_batch() -> None:
    # given a proposal decided but not yet appended
    core = coordinator()
    core.decide(Mode.LIVE, incoming(CASES["duplicate-id-first.json"]))
    # when another content arrives under its id, then it is refused as a duplicate
    outcome = core.decide(Mode.LIVE, incoming(CASES["duplicate-id-second.json"]))
    assert [r.code for r in outcome.reasons] == [ReasonCode.DUPLICATE_ID]
    assert "dans ce lot" in outcome.reasons[0].message


def test_a_refused_duplicate_leaves_the_first_record_remembered() -> None:
    # given the first record at 1 and the refused duplicate at 2, same message id as the id
    core = coordinator()
    first, second = CASES["duplicate-id-first.json"], CASES["duplicate-id-second.json"]
    same_id = {MSG_ID_HEADER: "corpus-duplicate"}
    one = core.decide(Mode.LIVE, Incoming(MANIFEST.subject, same_id, first.body, RECEIVED))
    core.remember(Mode.LIVE, one.proposal_id, 1, one.digest)
    two = core.decide(Mode.LIVE, Incoming(MANIFEST.subject, same_id, second.body, RECEIVED))
    core.remember(Mode.LIVE, two.proposal_id, 2, two.digest)
    # then the id still designates the first record and its content
    known = core.recorded(Mode.LIVE, "corpus-duplicate")
    assert known is not None
    assert known.sequence == 1
    assert known.digest == one.digest != two.digest


# --- dead letters ---------------------------------------------------------------------------

NOTICED = datetime(2026, 6, 21, 19, 30, tzinfo=UTC)
STORED = datetime(2026, 6, 21, 19, 29, tzinfo=UTC)


def exhausted(**fields: Any) -> Exhausted:
    body = CASES["injection-strings-in-free-text.json"].body
    values: dict[str, Any] = {
        "stream": "IFC_LIVE_PROPOSALS",
        "consumer": "coordinator-live",
        "sequence": 42,
        "deliveries": 5,
        "noticed_at": NOTICED,
        "subject": MANIFEST.subject,
        "headers": {MSG_ID_HEADER: "poison-1"},
        "data": body,
        "stored_at": STORED,
    }
    return Exhausted(**(values | fields))


def test_a_dead_letter_names_where_the_message_is_and_never_what_it_says() -> None:
    # when a proposal JetStream gave up on is recorded
    outcome = dead_letter(Mode.LIVE, exhausted())
    record = outcome.record
    # then it is one violation with the dead-letter reason, for the cell and the proposer
    assert isinstance(record.data, PerimeterViolated)
    assert [r.code for r in record.data.reasons] == [ReasonCode.DEAD_LETTER]
    assert {d.to for d in outcome.deliveries} == {Agency.CRISIS_CELL, Agency.POLICE_MUNICIPALE}
    assert outcome.proposal_id == record.data.proposal_id == "poison-1"
    assert record.operation == MANIFEST.operation
    assert (record.time, record.recordedtime) == (STORED, NOTICED)
    message = record.data.reasons[0].message
    for named in ("IFC_LIVE_PROPOSALS", "position 42", "5 remises", "octets", "SHA-256"):
        assert named in message
    assert record.data.proposal_subject == MANIFEST.subject
    # and nothing of the body: not its text, not its id
    text = to_structured(record).decode()
    assert "DROP TABLE" not in text
    assert "corpus-" not in text


def test_a_dead_letter_has_one_id_per_stream_position() -> None:
    # a repeated advisory derives the same record id (JetStream then drops the append)
    assert dead_letter(Mode.LIVE, exhausted()).record.id == (
        dead_letter(Mode.LIVE, exhausted(noticed_at=STORED)).record.id
    )
    assert dead_letter(Mode.LIVE, exhausted()).record.id != (
        dead_letter(Mode.LIVE, exhausted(sequence=43)).record.id
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": None, "headers": {}, "data": None, "stored_at": None, "problem": "gone"},
        {"subject": "not.a.proposal", "headers": {}},
        {"subject": "ifc.live.x.proposal.\u00e9\n.t", "headers": {MSG_ID_HEADER: "a\x00b"}},
        {"data": b""},
    ],
    ids=["not read back", "foreign subject", "unprintable subject", "empty body"],
)
def test_a_dead_letter_records_what_it_can(fields: dict[str, Any]) -> None:
    outcome = dead_letter(Mode.LIVE, exhausted(**fields))
    record = outcome.record
    assert isinstance(record.data, PerimeterViolated)
    assert [r.code for r in record.data.reasons] == [ReasonCode.DEAD_LETTER]
    assert from_structured(to_structured(record)) == record
    if "subject" in fields:
        assert record.operation == UNKNOWN_OPERATION
        assert [d.to for d in outcome.deliveries] == [Agency.CRISIS_CELL]
