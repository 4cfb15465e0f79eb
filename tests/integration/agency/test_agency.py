"""The agency services on a real nats-server, over the festival charter: reports become
deduplicated proposals in the proposals stream, refusals carry their reason, a receipt
reaches the checked person while no stream ever holds their identity, case notes never
leave mediation, and an assignment on the feed reaches its unit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry.sdk.trace import TracerProvider
from unit.agency.builders import (
    CASE_NOTES,
    OPERATION,
    SURNAME,
    assignment,
    feed_body,
    incident_reported,
    mediation_started,
    recepisse_issued,
    report_of,
    subject_of,
)

from contracts import subjects
from contracts.cloudevents import from_structured
from contracts.events.identity_checks import IdentityCheckRecorded, RecepisseIssued
from contracts.events.mediation import MediationStarted
from contracts.reasons import ReasonCode
from contracts.reports import Dispatch, ReportStatus
from contracts.routing import CLOUDEVENTS_JSON, CONTENT_TYPE_HEADER, MSG_ID_HEADER
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from integration.agency.harness import Started, send, send_report, start
from integration.jetstream import count, read_all, wait_for
from services.agency.app import feed_durable
from services.mediation.app import PROFILE as MEDIATION
from services.police_nationale.app import PROFILE as POLICE_NATIONALE

pytestmark = pytest.mark.integration

PROPOSALS = subjects.stream_name(Mode.LIVE, StreamRole.PROPOSALS)
FEEDS = subjects.stream_name(Mode.LIVE, StreamRole.FEEDS)
EVERY_STREAM = [subjects.stream_name(mode, role) for mode in Mode for role in StreamRole]


@pytest.fixture
async def police(nats_url: str, tmp_path: Path) -> AsyncIterator[Started]:
    started = await start(POLICE_NATIONALE, nats_url, tmp_path, TracerProvider())
    yield started
    await started.built.broker.stop()
    await started.built.store.close()


async def test_a_report_becomes_one_traced_proposal_however_often_retried(
    police: Started, client: Client
) -> None:
    # given a police unit's report of a theft
    report = report_of(police.key, Agency.POLICE_NATIONALE, incident_reported())
    # when the unit sends it, then again (a retry after a lost reply)
    first = await send_report(client, report, Agency.POLICE_NATIONALE)
    again = await send_report(client, report, Agency.POLICE_NATIONALE)
    # then both replies name the same proposed event
    assert first.status is ReportStatus.PROPOSED
    assert (again.status, again.event_id) == (ReportStatus.PROPOSED, first.event_id)
    # and the proposals stream holds it once, on its subject, keyed by its id, traced
    [msg] = await read_all(client, PROPOSALS)
    proposal = from_structured(msg.data)
    assert proposal.id == first.event_id
    assert msg.subject == subjects.proposal(
        Mode.LIVE, OPERATION, Agency.POLICE_NATIONALE, "fr.interforces.incident.reported"
    )
    assert msg.headers is not None
    assert msg.headers[MSG_ID_HEADER] == proposal.id
    assert msg.headers[CONTENT_TYPE_HEADER] == CLOUDEVENTS_JSON
    assert "traceparent" in msg.headers
    assert police.built.service.counters.duplicates == 1


async def test_bad_reports_are_refused_with_their_reason_and_the_loop_lives_on(
    police: Started, client: Client
) -> None:
    # given a genuine report, and ways of getting it wrong
    good = report_of(police.key, Agency.POLICE_NATIONALE, incident_reported())
    subject = subject_of(good, Agency.POLICE_NATIONALE)
    forged = good.model_copy(update={"token": "0" * 64})
    stranger = report_of(police.key, Agency.POLICE_NATIONALE, incident_reported(), unit="PM-CSU")
    elsewhere = report_of(
        police.key, Agency.POLICE_NATIONALE, incident_reported(), operation="carnaval-2026"
    )
    invalid = report_of(
        police.key, Agency.POLICE_NATIONALE, {**incident_reported(), "category": "ufo"}
    )
    exercise_subject = subjects.report(Mode.EXERCISE, OPERATION, Agency.POLICE_NATIONALE, good.unit)
    # when each is sent
    cases = [
        (subject, b"\x00\xffnot a report", ReasonCode.MALFORMED),
        (subject, forged.model_dump_json().encode(), ReasonCode.UNIT_NOT_AUTHENTICATED),
        (
            subject_of(stranger, Agency.POLICE_NATIONALE),
            stranger.model_dump_json().encode(),
            ReasonCode.UNKNOWN_UNIT,
        ),
        (
            subject_of(elsewhere, Agency.POLICE_NATIONALE),
            elsewhere.model_dump_json().encode(),
            ReasonCode.UNKNOWN_OPERATION,
        ),
        (exercise_subject, good.model_dump_json().encode(), ReasonCode.MODE_MISMATCH),
        (subject, invalid.model_dump_json().encode(), ReasonCode.INVALID_PAYLOAD),
    ]
    for where, body, reason in cases:
        ack = await send(client, where, body)
        # then each is refused with its reason, worded in French
        assert (ack.status, ack.reason) == (ReportStatus.REFUSED, reason)
        assert ack.message
    # and nothing was proposed, every refusal is recorded, the next good report goes through
    assert await count(client, PROPOSALS) == 0
    refusals = await police.built.store.refusals()
    assert [r.reason for r in refusals] == [reason for _, _, reason in cases]
    assert (await send_report(client, good, Agency.POLICE_NATIONALE)).status is (
        ReportStatus.PROPOSED
    )
    assert await count(client, PROPOSALS) == 1


async def test_the_receipt_reaches_the_person_and_no_stream_ever_holds_the_identity(
    police: Started, client: Client
) -> None:
    # given someone listening on the police receipt channel of the festival
    receipts: list[Msg] = []

    async def on_receipt(msg: Msg) -> None:
        receipts.append(msg)

    await client.subscribe(
        subjects.recepisse(Mode.LIVE, OPERATION, Agency.POLICE_NATIONALE), cb=on_receipt
    )
    await client.flush()
    # when a police unit reports an identity check with the person's identity
    report = report_of(police.key, Agency.POLICE_NATIONALE, recepisse_issued())
    ack = await send_report(client, report, Agency.POLICE_NATIONALE)
    assert ack.status is ReportStatus.PROPOSED

    # then the receipt, with the identity, reaches the receipt channel
    async def received() -> bool:
        return len(receipts) == 1

    await wait_for(received)
    receipt = from_structured(receipts[0].data)
    assert isinstance(receipt.data, RecepisseIssued)
    assert receipt.data.person.surname == SURNAME
    # and the proposal is the record without identity
    [msg] = await read_all(client, PROPOSALS)
    assert isinstance(from_structured(msg.data).data, IdentityCheckRecorded)
    # and no message of any stream carries the identity, in its body or its headers
    for stream in EVERY_STREAM:
        for stored in await read_all(client, stream):
            assert SURNAME.encode() not in stored.data
            assert SURNAME not in json.dumps(stored.headers or {})


async def test_case_notes_stay_in_the_mediation_store(
    nats_url: str, client: Client, tmp_path: Path
) -> None:
    # given the mediation service
    mediation = await start(MEDIATION, nats_url, tmp_path)
    try:
        # when a mediator reports a mediation with case notes
        report = report_of(mediation.key, Agency.MEDIATION, mediation_started())
        ack = await send_report(client, report, Agency.MEDIATION)
        held = await mediation.built.store.held_notes(ack.event_id)
    finally:
        await mediation.built.broker.stop()
        await mediation.built.store.close()
    # then the proposal says a mediation started, without the notes
    assert ack.status is ReportStatus.PROPOSED
    [msg] = await read_all(client, PROPOSALS)
    proposal = from_structured(msg.data)
    assert isinstance(proposal.data, MediationStarted)
    assert proposal.data.case_notes is None
    assert CASE_NOTES.encode() not in msg.data
    # and the notes are in the mediation service's own file
    assert [n.fields for n in held] == [(("case_notes", CASE_NOTES),)]
    assert (tmp_path / "data" / "mediation" / "private.sqlite3").is_file()


async def test_an_assignment_on_the_feed_is_dispatched_to_the_unit(
    police: Started, client: Client
) -> None:
    # given a unit listening on its dispatch subject
    dispatches: list[Dispatch] = []

    async def on_dispatch(msg: Msg) -> None:
        dispatches.append(Dispatch.model_validate_json(msg.data))

    await client.subscribe(
        subjects.dispatch(Mode.LIVE, OPERATION, Agency.POLICE_NATIONALE, "PN-BAC-1"),
        cb=on_dispatch,
    )
    await client.flush()
    # when the police feed receives garbage, then an assignment to that unit
    envelope = assignment(Agency.POLICE_NATIONALE, "PN-BAC-1", incident="INC-99")
    feed = subjects.feed(Mode.LIVE, OPERATION, Agency.POLICE_NATIONALE, envelope.type)
    js = client.jetstream()
    await js.publish(feed, b"\x00garbage", stream=FEEDS, headers={MSG_ID_HEADER: "junk"})
    await js.publish(
        feed,
        feed_body(envelope),
        stream=FEEDS,
        headers={MSG_ID_HEADER: f"{envelope.id}:police_nationale"},
    )

    # then the unit is told about its incident
    async def dispatched() -> bool:
        return len(dispatches) == 1

    await wait_for(dispatched)
    assert (dispatches[0].unit, dispatches[0].incident, dispatches[0].event_id) == (
        "PN-BAC-1",
        "INC-99",
        envelope.id,
    )

    # and both feed messages are acknowledged on the durable consumer
    async def settled() -> bool:
        info = await js.consumer_info(FEEDS, feed_durable(Agency.POLICE_NATIONALE, Mode.LIVE))
        return bool(info.num_ack_pending == 0 and info.num_pending == 0)

    await wait_for(settled)
    counters = police.built.service.counters
    assert counters.feed_unreadable == {"malformed": 1}
    assert counters.feed == {"fr.interforces.incident.assigned": 1}


async def test_instances_of_one_agency_share_its_reports(
    nats_url: str, client: Client, tmp_path: Path
) -> None:
    # given two instances of the police service (same secrets, same data directory)
    first = await start(POLICE_NATIONALE, nats_url, tmp_path)
    second = await start(POLICE_NATIONALE, nats_url, tmp_path)
    try:
        # when units send forty reports
        reports = [
            report_of(first.key, Agency.POLICE_NATIONALE, incident_reported(f"INC-{i}"))
            for i in range(40)
        ]
        acks = await asyncio.gather(
            *(send_report(client, r, Agency.POLICE_NATIONALE) for r in reports)
        )
    finally:
        for started in (first, second):
            await started.built.broker.stop()
            await started.built.store.close()
    # then each report is answered once, proposed once, and both instances took a share
    assert all(a.status is ReportStatus.PROPOSED for a in acks)
    assert await count(client, PROPOSALS) == 40
    shares = [s.built.service.counters.proposed for s in (first, second)]
    assert sum(shares) == 40
    assert min(shares) > 0
