"""The agency apps in FastStream's in-memory broker: reports in by request/reply, proposals
out to the proposals stream with their headers, receipts and dispatches on core subjects,
health counters; unreadable input never stops a subscriber."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from faststream.nats import JStream, NatsBroker, TestNatsBroker
from faststream.nats.annotations import NatsMessage
from structlog.testing import capture_logs

from contracts import subjects
from contracts.cloudevents import from_structured
from contracts.envelope import Envelope
from contracts.events.identity_checks import IdentityCheckRecorded, RecepisseIssued
from contracts.reasons import ReasonCode
from contracts.reports import Dispatch, ReportAck, ReportStatus
from contracts.routing import CLOUDEVENTS_JSON, CONTENT_TYPE_HEADER, MSG_ID_HEADER
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from services.agency.app import AgencyApp, build_service
from services.agency.domain import AgencyProfile
from services.gendarmerie.app import PROFILE as GENDARMERIE
from services.mediation.app import PROFILE as MEDIATION
from services.police_municipale.app import PROFILE as POLICE_MUNICIPALE
from services.police_nationale.app import PROFILE as POLICE_NATIONALE
from services.runtime.health import Health, health_subject
from services.securite_privee.app import PROFILE as SECURITE_PRIVEE
from unit.agency.builders import (
    CASE_NOTES,
    SURNAME,
    assignment,
    feed_body,
    incident_reported,
    key_of,
    mediation_started,
    recepisse_issued,
    report_of,
    settings_for,
    subject_of,
)

pytestmark = pytest.mark.unit

PROPOSALS = subjects.stream_name(Mode.LIVE, StreamRole.PROPOSALS)
FEEDS = subjects.stream_name(Mode.LIVE, StreamRole.FEEDS)


@dataclass
class Wire:
    """What left the service, by channel: (subject, headers, body)."""

    proposals: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    receipts: list[tuple[str, bytes]] = field(default_factory=list)
    dispatches: list[tuple[str, bytes]] = field(default_factory=list)


def listen(broker: NatsBroker, wire: Wire) -> None:
    """Subscribers standing for the coordinator, the checked persons and the units."""

    @broker.subscriber(subjects.proposals_of(Mode.LIVE), stream=JStream(PROPOSALS, declare=False))
    async def proposals(message: NatsMessage) -> None:
        wire.proposals.append((message.raw_message.subject, message.headers, message.body))

    @broker.subscriber(subjects.recepisses_of(Mode.LIVE))
    async def receipts(message: NatsMessage) -> None:
        wire.receipts.append((message.raw_message.subject, message.body))

    @broker.subscriber("ifc.live.*.dispatch.>")
    async def dispatches(message: NatsMessage) -> None:
        wire.dispatches.append((message.raw_message.subject, message.body))


@dataclass
class Running:
    built: AgencyApp
    broker: NatsBroker
    wire: Wire
    key: bytes

    async def send(self, agency: Agency, body: bytes, subject: str) -> ReportAck:
        response = await self.broker.request(body, subject, timeout=5)
        return ReportAck.model_validate_json(response.body)


async def running(profile: AgencyProfile, tmp_path: Path) -> AsyncIterator[Running]:
    settings = settings_for(tmp_path)
    built = build_service(profile, settings)
    wire = Wire()
    listen(built.broker, wire)
    async with TestNatsBroker(built.broker) as broker:
        yield Running(built, broker, wire, key_of(settings, profile.agency))


@pytest.fixture
async def police(tmp_path: Path) -> AsyncIterator[Running]:
    async for run in running(POLICE_NATIONALE, tmp_path):
        yield run


@pytest.fixture
async def mediation(tmp_path: Path) -> AsyncIterator[Running]:
    async for run in running(MEDIATION, tmp_path):
        yield run


def test_each_agency_package_is_the_kit_with_its_own_part_only() -> None:
    # given the five agency packages, then each is its agency with exactly its private steps
    assert POLICE_NATIONALE.agency is Agency.POLICE_NATIONALE
    assert GENDARMERIE.agency is Agency.GENDARMERIE
    assert POLICE_MUNICIPALE.agency is Agency.POLICE_MUNICIPALE
    assert SECURITE_PRIVEE.agency is Agency.SECURITE_PRIVEE
    assert MEDIATION.agency is Agency.MEDIATION
    names = {
        p.agency: [t.__name__ for t in p.transforms]
        for p in (POLICE_NATIONALE, GENDARMERIE, POLICE_MUNICIPALE, SECURITE_PRIVEE, MEDIATION)
    }
    assert names == {
        Agency.POLICE_NATIONALE: ["issue_recepisse"],
        Agency.GENDARMERIE: ["issue_recepisse"],
        Agency.POLICE_MUNICIPALE: [],
        Agency.SECURITE_PRIVEE: [],
        Agency.MEDIATION: ["keep_case_notes"],
    }


async def test_a_report_is_answered_after_its_proposal_is_published(police: Running) -> None:
    # given a police unit's report of a theft
    report = report_of(police.key, Agency.POLICE_NATIONALE, incident_reported())
    # when the unit sends it by request/reply
    ack = await police.send(
        Agency.POLICE_NATIONALE,
        report.model_dump_json().encode(),
        subject_of(report, Agency.POLICE_NATIONALE),
    )
    # then the reply says proposed, and the proposal went to the proposals stream
    assert ack.status is ReportStatus.PROPOSED
    [(subject, headers, body)] = police.wire.proposals
    proposal = from_structured(body)
    assert ack.event_id == proposal.id
    assert subject == subjects.proposal(
        Mode.LIVE, report.operation, Agency.POLICE_NATIONALE, proposal.type
    )
    assert headers[MSG_ID_HEADER] == proposal.id
    assert headers[CONTENT_TYPE_HEADER] == CLOUDEVENTS_JSON


async def test_unreadable_reports_are_refused_and_the_responder_lives_on(police: Running) -> None:
    # given garbage sent as JSON, and garbage sent as nothing in particular
    subject = subjects.report(
        Mode.LIVE, "fete-musique-2026-lyon-presquile", Agency.POLICE_NATIONALE, "PN-AINAY-1"
    )
    as_json = await police.broker.request(
        b"{not json", subject, headers={"content-type": "application/json"}, timeout=5
    )
    plain = await police.send(Agency.POLICE_NATIONALE, b"\xff\x00", subject)
    # then both are refused as malformed
    for ack in (ReportAck.model_validate_json(as_json.body), plain):
        assert (ack.status, ack.reason) == (ReportStatus.REFUSED, ReasonCode.MALFORMED)
    # and the next good report is still proposed
    report = report_of(police.key, Agency.POLICE_NATIONALE, incident_reported())
    ack = await police.send(
        Agency.POLICE_NATIONALE,
        report.model_dump_json().encode(),
        subject_of(report, Agency.POLICE_NATIONALE),
    )
    assert ack.status is ReportStatus.PROPOSED
    assert [r.reason for r in await police.built.store.refusals()] == [ReasonCode.MALFORMED] * 2


async def test_an_identity_check_hands_the_receipt_and_proposes_the_record(
    police: Running,
) -> None:
    # given a police unit's identity check, with the person's identity
    report = report_of(police.key, Agency.POLICE_NATIONALE, recepisse_issued())
    # when reported
    with capture_logs() as logs:
        ack = await police.send(
            Agency.POLICE_NATIONALE,
            report.model_dump_json().encode(),
            subject_of(report, Agency.POLICE_NATIONALE),
        )
    # then the receipt, with the identity, went on the receipt subject
    assert ack.status is ReportStatus.PROPOSED
    [(receipt_subject, receipt_body)] = police.wire.receipts
    assert receipt_subject == subjects.recepisse(
        Mode.LIVE, report.operation, Agency.POLICE_NATIONALE
    )
    receipt = from_structured(receipt_body)
    assert isinstance(receipt.data, RecepisseIssued)
    assert receipt.data.person.surname == SURNAME
    # and the proposal is the record, without the identity anywhere in it
    [(_, headers, body)] = police.wire.proposals
    assert isinstance(from_structured(body).data, IdentityCheckRecorded)
    assert SURNAME.encode() not in body
    assert SURNAME not in repr(headers)
    assert SURNAME not in repr(logs)


async def test_case_notes_are_kept_home_and_never_sent(mediation: Running) -> None:
    # given a mediator's report of a mediation, with case notes
    report = report_of(mediation.key, Agency.MEDIATION, mediation_started())
    # when reported
    with capture_logs() as logs:
        ack = await mediation.send(
            Agency.MEDIATION,
            report.model_dump_json().encode(),
            subject_of(report, Agency.MEDIATION),
        )
    # then the notes are in the mediation service's own store only
    assert ack.status is ReportStatus.PROPOSED
    [held] = await mediation.built.store.held_notes(ack.event_id)
    assert held.fields == (("case_notes", CASE_NOTES),)
    [(_, _, body)] = mediation.wire.proposals
    envelope: Envelope = from_structured(body)
    assert getattr(envelope.data, "case_notes", "absent") is None
    assert CASE_NOTES.encode() not in body
    assert CASE_NOTES not in repr(logs)


async def test_an_assignment_on_the_feed_is_dispatched_to_its_unit(police: Running) -> None:
    # given an assignment to a police unit, and garbage, on the police feed
    envelope = assignment(Agency.POLICE_NATIONALE, "PN-BAC-1", incident="INC-42")
    feed = subjects.feed(Mode.LIVE, envelope.operation, Agency.POLICE_NATIONALE, envelope.type)
    # when the feed delivers them
    await police.broker.publish(b"\x00garbage", feed, stream=FEEDS)
    await police.broker.publish(feed_body(envelope), feed, stream=FEEDS)
    # then the unit is told, on its own dispatch subject
    [(subject, body)] = police.wire.dispatches
    assert subject == subjects.dispatch(
        Mode.LIVE, envelope.operation, Agency.POLICE_NATIONALE, "PN-BAC-1"
    )
    dispatch = Dispatch.model_validate_json(body)
    assert (dispatch.unit, dispatch.incident, dispatch.event_id) == (
        "PN-BAC-1",
        "INC-42",
        envelope.id,
    )
    # and the health answer counts what the feed brought
    response = await police.broker.request(
        b"", health_subject(Agency.POLICE_NATIONALE.value), timeout=5
    )
    health = Health.model_validate_json(response.body)
    assert health.service == "police_nationale"
    assert health.details["feed"] == {
        "by_type": {"fr.interforces.incident.assigned": 1},
        "unreadable": {"malformed": 1},
    }
    assert health.details["dispatches"]["sent"] == 1
    assert health.details["operations"] == {"fete-musique-2026-lyon-presquile": "live"}
