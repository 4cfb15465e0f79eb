"""The agency service's shell with its fakes: a report is answered `proposed` only after
its proposal is acknowledged and its private part kept; a refusal is answered and recorded;
a failure a retry can cure leaves the unit without reply and proposes nothing half-way."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from contracts.reasons import ReasonCode
from contracts.reports import ReportStatus
from contracts.vocabulary import Agency, Mode
from services.agency.domain import (
    AgencyProfile,
    HeldNotes,
    issue_recepisse,
    keep_case_notes,
)
from services.agency.errors import PrivateStoreError, PublishError
from services.agency.handlers import AgencyService
from services.agency.private_store import InMemoryPrivateStore
from unit.agency.builders import (
    CASE_NOTES,
    SURNAME,
    FakeOutbox,
    assignment,
    feed_body,
    festival_engagements,
    incident_reported,
    mediation_started,
    recepisse_issued,
    report_of,
    subject_of,
)

pytestmark = pytest.mark.unit

KEY = b"s" * 32


def service(
    profile: AgencyProfile, outbox: FakeOutbox, store: InMemoryPrivateStore | None = None
) -> AgencyService:
    return AgencyService(
        profile,
        festival_engagements(profile.agency),
        KEY,
        store or InMemoryPrivateStore(),
        outbox,
    )


async def test_a_report_is_proposed_once_however_often_it_is_retried() -> None:
    # given a municipal police service
    outbox = FakeOutbox()
    agency = service(AgencyProfile(Agency.POLICE_MUNICIPALE), outbox)
    report = report_of(KEY, Agency.POLICE_MUNICIPALE, incident_reported())
    raw = report.model_dump_json().encode()
    # when the unit sends its report three times
    acks = [
        await agency.handle_report(subject_of(report, Agency.POLICE_MUNICIPALE), raw)
        for _ in range(3)
    ]
    # then each reply acknowledges the same event, proposed once
    assert {(a.status, a.event_id, a.report) for a in acks} == {
        (ReportStatus.PROPOSED, acks[0].event_id, report.report)
    }
    assert len(outbox.proposals) == 1
    assert agency.counters.duplicates == 2


async def test_a_refusal_is_answered_recorded_and_logged_without_payload() -> None:
    # given a mediation service, and a forged report carrying case notes
    store = InMemoryPrivateStore()
    outbox = FakeOutbox()
    agency = service(AgencyProfile(Agency.MEDIATION), outbox, store)
    report = report_of(b"f" * 32, Agency.MEDIATION, mediation_started())
    # when it arrives
    with capture_logs() as logs:
        ack = await agency.handle_report(
            subject_of(report, Agency.MEDIATION), report.model_dump_json().encode()
        )
    # then it is refused with the reason in French, recorded, and nothing is sent
    assert ack.status is ReportStatus.REFUSED
    assert ack.reason is ReasonCode.UNIT_NOT_AUTHENTICATED
    assert ack.message.startswith("Unité non authentifiée")
    [row] = await store.refusals()
    assert (row.report, row.unit, row.reason, row.mode) == (
        report.report,
        report.unit,
        ReasonCode.UNIT_NOT_AUTHENTICATED,
        Mode.LIVE,
    )
    assert outbox.proposals == []
    assert [e["reason"] for e in logs if e["log_level"] == "warning"] == ["unit_not_authenticated"]
    assert CASE_NOTES not in repr(logs)


async def test_when_nats_fails_the_unit_gets_no_reply_and_retries() -> None:
    # given a national police service whose NATS connection is down
    outbox = FakeOutbox(fail=True)
    agency = service(AgencyProfile(Agency.POLICE_NATIONALE, (issue_recepisse,)), outbox)
    report = report_of(KEY, Agency.POLICE_NATIONALE, recepisse_issued())
    raw = report.model_dump_json().encode()
    # when a report arrives, then the failure propagates (no reply) and is counted
    with capture_logs() as logs, pytest.raises(PublishError):
        await agency.handle_report(subject_of(report, Agency.POLICE_NATIONALE), raw)
    assert agency.counters.retry_needed == 1
    assert SURNAME not in repr(logs)
    # when NATS is back and the unit retries, then the report is proposed
    outbox.fail = False
    ack = await agency.handle_report(subject_of(report, Agency.POLICE_NATIONALE), raw)
    assert ack.status is ReportStatus.PROPOSED
    assert len(outbox.receipts) == 1
    assert len(outbox.proposals) == 1


async def test_when_the_private_store_fails_nothing_leaves() -> None:
    # given a mediation service whose private store cannot write
    class BrokenStore(InMemoryPrivateStore):
        async def hold(self, notes: HeldNotes) -> bool:
            raise PrivateStoreError("disk full")

    outbox = FakeOutbox()
    agency = service(AgencyProfile(Agency.MEDIATION, (keep_case_notes,)), outbox, BrokenStore())
    report = report_of(KEY, Agency.MEDIATION, mediation_started())
    # when a mediation with notes is reported, then no reply and no proposal
    with pytest.raises(PrivateStoreError):
        await agency.handle_report(
            subject_of(report, Agency.MEDIATION), report.model_dump_json().encode()
        )
    assert outbox.proposals == []


async def test_the_feed_counts_copies_dispatches_assignments_and_survives_garbage() -> None:
    # given a national police service
    outbox = FakeOutbox()
    agency = service(AgencyProfile(Agency.POLICE_NATIONALE), outbox)
    # when its feed brings garbage, an assignment to one of its units, and one to another agency
    await agency.handle_feed(Mode.LIVE, b"\x00\x01 garbage")
    await agency.handle_feed(Mode.LIVE, feed_body(assignment(Agency.POLICE_NATIONALE, "PN-BAC-1")))
    await agency.handle_feed(Mode.LIVE, feed_body(assignment(Agency.POLICE_MUNICIPALE, None)))
    # then garbage is counted unreadable, both copies are counted, one unit is dispatched
    health = agency.health()
    assert health["feed"] == {
        "by_type": {"fr.interforces.incident.assigned": 2},
        "unreadable": {"malformed": 1},
    }
    assert health["dispatches"] == {"sent": 1, "skipped": 0}
    assert [d.unit for _, d in outbox.dispatches] == ["PN-BAC-1"]


async def test_an_invalid_identity_check_is_refused_without_its_identity_in_any_trace() -> None:
    # given a police unit's identity check whose officer number is wrong
    outbox = FakeOutbox()
    agency = service(AgencyProfile(Agency.POLICE_NATIONALE, (issue_recepisse,)), outbox)
    event = {**recepisse_issued(), "officer_number": "12"}
    event["person"] = {**event["person"], "given_names": "x" * 500}
    report = report_of(KEY, Agency.POLICE_NATIONALE, event)
    # when it arrives
    with capture_logs() as logs:
        ack = await agency.handle_report(
            subject_of(report, Agency.POLICE_NATIONALE), report.model_dump_json().encode()
        )
    # then it is refused as an invalid payload, the log says where, never who
    assert (ack.status, ack.reason) == (ReportStatus.REFUSED, ReasonCode.INVALID_PAYLOAD)
    [warning] = [e for e in logs if e["log_level"] == "warning"]
    assert "officer_number" in warning["detail"]
    assert SURNAME not in repr(logs)
    assert "x" * 20 not in repr(logs)
    assert SURNAME not in ack.model_dump_json()
    assert outbox.receipts == []
    assert outbox.proposals == []
