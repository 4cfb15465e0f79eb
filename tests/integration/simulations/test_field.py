"""The field clients on a real nats-server: a unit retries the same report until its
service answers, within bounds; the crisis cell's desk proposals land in the proposals
stream on the right subject with their id as `Nats-Msg-Id`; receipts and dispatches reach
the field."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts import subjects
from contracts.cloudevents import from_structured, to_structured
from contracts.credentials import ensure_unit_keys, read_unit_key, verify_unit_token
from contracts.envelope import Envelope
from contracts.events.identity_checks import RecepisseIssued
from contracts.events.incidents import IncidentAssigned
from contracts.ids import EventId, OperationId
from contracts.reports import Dispatch, ReportAck, ReportStatus, UnitReport
from contracts.routing import MSG_ID_HEADER
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from simulations.field import (
    CrisisCellDesk,
    DispatchListener,
    FieldUnit,
    ReceiptInbox,
    ReportUndeliveredError,
    RetryHook,
    RetryPolicy,
)

pytestmark = pytest.mark.integration

OPERATION = "fete-musique-2026-lyon-presquile"
WHEN = datetime(2026, 6, 21, 21, 30, tzinfo=timezone(timedelta(hours=2)))
UNIT = "PM-TERREAUX-1"
EVENT = {
    "type": "fr.interforces.unit.position_reported",
    "unit": UNIT,
    "position": {"lon": 4.8330, "lat": 45.7675},
}
PROPOSALS = subjects.stream_name(Mode.LIVE, StreamRole.PROPOSALS)


@pytest.fixture
def key(tmp_path: Path) -> bytes:
    ensure_unit_keys(tmp_path)
    return read_unit_key(tmp_path, Agency.POLICE_MUNICIPALE)


def _unit(
    client: Client, key: bytes, retry: RetryPolicy, on_retry: RetryHook | None = None
) -> FieldUnit:
    return FieldUnit(
        client,
        Mode.LIVE,
        OPERATION,
        Agency.POLICE_MUNICIPALE,
        UNIT,
        key,
        retry=retry,
        on_retry=on_retry,
    )


async def _poll(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_unit_sends_the_same_report_again_when_its_first_request_times_out(
    client: Client, key: bytes
) -> None:
    # given a service that stays silent on the first request it gets
    received: list[UnitReport] = []

    async def service(msg: Msg) -> None:
        report = UnitReport.model_validate_json(msg.data)
        received.append(report)
        if len(received) > 1:
            ack = ReportAck(report=report.report, status=ReportStatus.PROPOSED, event_id="e-1")
            await msg.respond(ack.model_dump_json().encode())

    subject = subjects.report(Mode.LIVE, OPERATION, Agency.POLICE_MUNICIPALE, UNIT)
    await client.subscribe(subject, cb=service)
    await client.flush()
    unit = _unit(client, key, RetryPolicy(attempts=4, timeout_s=0.3, backoff_s=0.05))
    # when the unit reports
    ack = await unit.report("pm-r-1", WHEN, EVENT, sector="terreaux")
    # then it got its answer on the second try, the same report id and token each time
    assert ack.status is ReportStatus.PROPOSED
    assert [r.report for r in received] == ["pm-r-1", "pm-r-1"]
    assert received[0] == received[1]
    assert verify_unit_token(key, OPERATION, UNIT, received[0].token)


async def test_a_unit_sends_the_report_again_when_no_service_listens_yet(
    client: Client, key: bytes
) -> None:
    # given no service listening yet, and a unit that says when it retries
    retried = asyncio.Event()
    received: list[str] = []
    unit = _unit(
        client,
        key,
        RetryPolicy(attempts=20, timeout_s=0.5, backoff_s=0.05, max_backoff_s=0.1),
        on_retry=lambda _r, _a, _e: retried.set(),
    )
    task = asyncio.create_task(unit.report("pm-r-2", WHEN, EVENT))
    await asyncio.wait_for(retried.wait(), timeout=10)

    # when the service comes up
    async def service(msg: Msg) -> None:
        report = UnitReport.model_validate_json(msg.data)
        received.append(report.report)
        ack = ReportAck(report=report.report, status=ReportStatus.PROPOSED)
        await msg.respond(ack.model_dump_json().encode())

    await client.subscribe(
        subjects.report(Mode.LIVE, OPERATION, Agency.POLICE_MUNICIPALE, UNIT), cb=service
    )
    # then the unit's next attempt reaches it
    ack = await asyncio.wait_for(task, timeout=15)
    assert ack.report == "pm-r-2"
    assert received == ["pm-r-2"]


async def test_a_unit_nobody_answers_gives_up_in_bounded_time(client: Client, key: bytes) -> None:
    # given a service that never answers
    async def mute(_msg: Msg) -> None:
        return None

    await client.subscribe(
        subjects.report(Mode.LIVE, OPERATION, Agency.POLICE_MUNICIPALE, UNIT), cb=mute
    )
    policy = RetryPolicy(attempts=3, timeout_s=0.2, backoff_s=0.05)
    started = time.monotonic()
    # when the unit reports, then it gives up after its attempts, in their worst-case time
    with pytest.raises(ReportUndeliveredError):
        await _unit(client, key, policy).report("pm-r-3", WHEN, EVENT)
    assert time.monotonic() - started < policy.worst_case_s + 1.0


async def _stored(client: Client) -> list[Msg]:
    js = client.jetstream()
    sub = await js.pull_subscribe(
        subjects.proposals_of(Mode.LIVE, Agency.CRISIS_CELL, OPERATION),
        stream=PROPOSALS,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
    )
    try:
        return await sub.fetch(10, timeout=5)
    finally:
        await sub.unsubscribe()


async def test_the_desk_proposes_into_the_proposals_stream_once_per_action(client: Client) -> None:
    # given the crisis cell's desk
    desk = CrisisCellDesk(client.jetstream(), Mode.LIVE, OPERATION)
    assigned = {
        "type": "fr.interforces.incident.assigned",
        "incident": "INC-1",
        "assignee": "police_nationale",
        "assignee_unit": "PN-BAC-1",
    }
    # when it proposes an assignment, and proposes it again (a retry)
    first = await desk.propose("desk-1", WHEN, assigned, sector="bellecour", subject="INC-1")
    again = await desk.propose("desk-1", WHEN, assigned, sector="bellecour", subject="INC-1")
    # then JetStream holds it once, on the crisis cell's subject, its id as Nats-Msg-Id
    assert again.duplicate
    assert (again.event_id, again.sequence) == (first.event_id, first.sequence)
    assert first.stream == PROPOSALS
    stored = await _stored(client)
    assert len(stored) == 1
    msg = stored[0]
    assert msg.subject == subjects.proposal(
        Mode.LIVE, OPERATION, Agency.CRISIS_CELL, "fr.interforces.incident.assigned"
    )
    assert (msg.headers or {}).get(MSG_ID_HEADER) == first.event_id
    envelope = from_structured(msg.data)
    assert envelope.id == first.event_id
    assert envelope.agency is Agency.CRISIS_CELL
    assert envelope.unit == "PC-HDV"
    assert envelope.source == "/interforces/crisis_cell/PC-HDV"
    assert isinstance(envelope.data, IncidentAssigned)
    assert envelope.data.assignee_unit == "PN-BAC-1"


async def test_receipts_and_dispatches_reach_the_field(client: Client) -> None:
    # given the receipt inbox and the units' dispatch listener, listening
    inbox = ReceiptInbox(client, Mode.LIVE, OPERATION, [Agency.POLICE_NATIONALE])
    listener = DispatchListener(
        client, Mode.LIVE, OPERATION, [(Agency.POLICE_NATIONALE, "PN-BAC-1")]
    )
    receipt = RecepisseIssued.model_validate(
        {
            "check": "RCP-1",
            "legal_basis": "cpp_78_2_al1",
            "motives": ["vol signalé"],
            "possible_consequences": "vérification au poste",
            "place": "Gare de Perrache",
            "position": {"lon": 4.8262, "lat": 45.7488},
            "checked_at": WHEN,
            "officer_number": "1234567",
            "grade": "Gardien de la paix",
            "service": "CSP Lyon Centre",
            "person": {"surname": "Moreau", "given_names": "Julie"},
        }
    )
    envelope = Envelope(
        id=EventId("rcp-1"),
        source="/interforces/police_nationale/PN-PERRACHE-1",
        type=receipt.type,
        time=WHEN,
        operation=OperationId(OPERATION),
        mode=Mode.LIVE,
        agency=Agency.POLICE_NATIONALE,
        data=receipt,
    )
    dispatch = Dispatch.model_validate(
        {
            "unit": "PN-BAC-1",
            "event_id": "e-9",
            "type": "fr.interforces.incident.assigned",
            "incident": "INC-9",
        }
    )
    async with inbox, listener:
        # when a receipt, an unreadable message and a dispatch (sent twice) arrive
        recepisse = subjects.recepisse(Mode.LIVE, OPERATION, Agency.POLICE_NATIONALE)
        await client.publish(recepisse, to_structured(envelope))
        await client.publish(recepisse, b"garbage")
        target = subjects.dispatch(Mode.LIVE, OPERATION, Agency.POLICE_NATIONALE, "PN-BAC-1")
        for _ in range(2):
            await client.publish(target, dispatch.model_dump_json().encode())
        await client.flush()
        # then each is counted once, the unreadable one aside
        assert await inbox.wait_for(1, timeout_s=5)
        assert await listener.wait_for(1, timeout_s=5)
        await _poll(lambda: listener.duplicates == 1 and inbox.unreadable == 1)
    assert inbox.checks == ["RCP-1"]
    assert listener.incidents == {"INC-9"}
    assert listener.by_unit == {"PN-BAC-1": 1}
