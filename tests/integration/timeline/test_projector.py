"""The timeline projector on a real nats-server and PostgreSQL: records become rows with the
checkpoint in the same transaction, unreadable messages are noted and passed, a restart
neither loses nor duplicates, an event id is projected once, a store failure redelivers, and
the projection equals a rebuild from the events and a replay into an empty database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from unit.timeline.builders import OPERATION, at, envelope, event

from contracts.envelope import Envelope
from contracts.routing import CONTENT_TYPE_HEADER, MSG_ID_HEADER
from contracts.vocabulary import Agency, Mode
from integration.jetstream import wait_for
from services.timeline.app import trace_postgres

from .conftest import (
    DELIVERIES,
    checkpoint,
    digest_of,
    fetch,
    publish,
    publish_raw,
    rebuild_and_digest,
    running,
    settings_for,
    wait_checkpoint,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
PM = Agency.POLICE_MUNICIPALE
PN = Agency.POLICE_NATIONALE
CELL = Agency.CRISIS_CELL


def night(mode: Mode = Mode.LIVE, start: int = 0) -> list[Envelope]:
    """A short night of one operation: units, an incident's life, a perimeter, a refusal."""
    steps = [
        (event("unit.checked_in", unit="PN-1"), PN),
        (event("unit.checked_in", unit="PM-1", armed=False), PM),
        (event("incident.reported", category="fight", people_involved=3), PM),
        (event("incident.assigned", assignee="police_nationale", assignee_unit="PN-1"), CELL),
        (event("unit.status_changed", unit="PN-1", status="en_route", incident="INC-1"), PN),
        (event("incident.acknowledged", eta_minutes=3), PN),
        (event("security_perimeter.established", incident="INC-1"), PN),
        (event("perimeter.violated"), Agency.SECURITE_PRIVEE),
        (event("unit.status_changed", unit="PN-1", status="on_scene", incident="INC-1"), PN),
        (event("incident.resolved", outcome="rixe dispersée"), PN),
        (event("security_perimeter.lifted"), PN),
        (event("unit.checked_out", unit="PM-1"), PM),
    ]
    return [
        envelope(data, agency, time=at(start + i), mode=mode)
        for i, (data, agency) in enumerate(steps)
    ]


async def test_timeline_records_become_rows_with_the_checkpoint(
    nats_url: str, database_url: str, client: Client
) -> None:
    # given a night appended to the live timeline, and one exercise record
    live = night()
    seqs = [await publish(client, e) for e in live]
    drill_seq = await publish(client, envelope(event("unit.checked_in"), mode=Mode.EXERCISE))
    # when the projector runs until both checkpoints reach the last records
    async with running(settings_for(nats_url, database_url)) as projector:
        await wait_checkpoint(database_url, seqs[-1])
        await wait_checkpoint(database_url, drill_seq, Mode.EXERCISE)
        assert projector.counters.as_dict()["live"]["projected"] == len(live)
    # then every record is in the events table at its sequence, with its routing
    events = await fetch(database_url, "SELECT * FROM timeline_events WHERE mode = 'live'")
    assert sorted(r["seq"] for r in events) == seqs
    first = next(r for r in events if r["seq"] == seqs[0])
    assert first["event_id"] == live[0].id
    assert first["proposal_id"] == live[0].id
    assert json.loads(first["deliveries"]) == [d.model_dump(mode="json") for d in DELIVERIES]
    stored = json.loads(first["envelope"])
    assert (stored["id"], stored["sequence"]) == (live[0].id, seqs[0])
    assert (first["operation"], first["type"], first["agency"]) == (
        OPERATION,
        "fr.interforces.unit.checked_in",
        "police_nationale",
    )
    # and the projections say what the crisis cell expects
    units = {
        r["unit"]: r for r in await fetch(database_url, "SELECT * FROM units WHERE mode = 'live'")
    }
    assert (units["PN-1"]["status"], units["PN-1"]["incident"]) == ("on_scene", "INC-1")
    assert units["PM-1"]["status"] == "checked_out"
    (incident,) = await fetch(database_url, "SELECT * FROM incidents")
    assert (incident["status"], incident["reporter"], incident["assignee"]) == (
        "resolved",
        "police_municipale",
        "police_nationale",
    )
    assert incident["first_assigned_at"] == at(3)
    assert incident["resolved_at"] == at(9)
    (assignment,) = await fetch(database_url, "SELECT * FROM incident_assignments")
    assert (assignment["answer"], assignment["eta_minutes"]) == ("acknowledged", 3)
    (perimeter,) = await fetch(database_url, "SELECT * FROM security_perimeters")
    assert (perimeter["status"], perimeter["lifted_at"]) == ("lifted", at(10))
    assert json.loads(perimeter["area"])["type"] == "Polygon"
    (rejection,) = await fetch(database_url, "SELECT * FROM rejections")
    assert rejection["reason_codes"] == ["outside_territory", "not_competent_category"]
    assert rejection["proposer"] == "securite_privee"
    # and the exercise stays in its own rows
    (drill,) = await fetch(database_url, "SELECT * FROM units WHERE mode = 'exercise'")
    assert (drill["unit"], drill["status"]) == ("PN-1", "available")
    # and rebuilding the projections from the events gives the same digest
    assert await rebuild_and_digest(database_url) == await digest_of(database_url)


async def test_an_unreadable_message_is_noted_without_its_content_and_the_rest_projects(
    nats_url: str, database_url: str, client: Client
) -> None:
    # given a good record, two messages nobody can project (one that even claims to be
    # JSON), then another good record
    good = night()[:2]
    first = await publish(client, good[0])
    secret = b'{"person": "Claire Martin", '
    bad = await publish_raw(client, Mode.LIVE, secret, {MSG_ID_HEADER: "evt-bad"})
    bad_json = await publish_raw(
        client, Mode.LIVE, b"{not json", {CONTENT_TYPE_HEADER: "application/json"}
    )
    last = await publish(client, good[1])
    # when the projector runs
    async with running(settings_for(nats_url, database_url)) as projector:
        await wait_checkpoint(database_url, last)
        assert projector.counters.as_dict()["live"]["unreadable"] == 2
    # then both good records are projected
    events = await fetch(database_url, "SELECT seq FROM timeline_events ORDER BY seq")
    assert [r["seq"] for r in events] == [first, last]
    assert len(await fetch(database_url, "SELECT * FROM units")) == 2
    # and the bad ones are noted where they were, why, and how big, never what they said
    notes = await fetch(database_url, "SELECT * FROM timeline_unreadable ORDER BY seq")
    assert [(n["seq"], n["reason"], n["msg_id"]) for n in notes] == [
        (bad, "malformed", "evt-bad"),
        (bad_json, "malformed", None),
    ]
    assert notes[0]["size"] == len(secret)
    assert len(notes[0]["sha256"]) == 64
    assert all("Claire" not in str(dict(n)) for n in notes)


async def test_a_restart_mid_way_neither_loses_nor_duplicates_and_a_replay_agrees(
    nats_url: str,
    database_url: str,
    second_database_url: str,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given three nights of records (36) appended before the projector starts
    envelopes = night(start=0) + night(start=100) + night(start=200)
    for index, env in enumerate(envelopes):
        # each night is its own incident and perimeter, so the records do not collide
        data = env.data
        for name in ("incident", "perimeter"):
            if hasattr(data, name) and getattr(data, name):
                data = data.model_copy(update={name: f"{getattr(data, name)}-{index // 12}"})
        envelopes[index] = env.model_copy(update={"data": data})
    seqs = [await publish(client, e) for e in envelopes[:24]]
    settings = settings_for(
        nats_url,
        database_url,
        timeline_modes=(Mode.LIVE,),
        timeline_batch_size=2,
        timeline_ack_wait_s=2.0,
    )
    # when the projector dies while its fourth batch is in flight, and is stopped
    in_flight: asyncio.Queue[asyncio.Task[Any]] = asyncio.Queue()
    async with running(settings) as projector:
        handle, batches = projector.handle, 0

        async def handle_three_then_hang(mode: Mode, messages: Sequence[Msg]) -> None:
            nonlocal batches
            batches += 1
            if batches > 3:
                task = asyncio.current_task()
                assert task is not None
                in_flight.put_nowait(task)
                await asyncio.Event().wait()  # until the consumer dies
            await handle(mode, messages)

        monkeypatch.setattr(projector, "handle", handle_three_then_hang)
        consumer = await asyncio.wait_for(in_flight.get(), timeout=30)
        consumer.cancel()
    stopped_at = await checkpoint(database_url)
    # and more records arrive while it is down, then it starts again (the batch cut off is
    # redelivered only after its acknowledgement wait: later ones wait behind the gap)
    seqs += [await publish(client, e) for e in envelopes[24:]]
    async with running(settings):
        await wait_checkpoint(database_url, seqs[-1])
    # then every record is projected exactly once
    rows = await fetch(database_url, "SELECT seq, event_id FROM timeline_events ORDER BY seq")
    assert [r["seq"] for r in rows] == seqs
    assert [r["event_id"] for r in rows] == [e.id for e in envelopes]
    assert stopped_at == 6
    incidents = await fetch(database_url, "SELECT status FROM incidents")
    assert [r["status"] for r in incidents] == ["resolved"] * 3
    # and the projection equals a rebuild from the events table
    live_digest = await digest_of(database_url)
    assert await rebuild_and_digest(database_url) == live_digest
    # and replaying the whole stream into an empty database gives the same bytes (the
    # durable consumer, ahead of that database's checkpoint, is reset to the stream start)
    async with running(settings_for(nats_url, second_database_url, timeline_modes=(Mode.LIVE,))):
        await wait_checkpoint(second_database_url, seqs[-1])
    assert await digest_of(second_database_url) == live_digest


async def test_an_event_id_at_two_sequences_is_projected_once(
    nats_url: str, database_url: str, client: Client
) -> None:
    # given an incident reported and assigned, the assignment appended twice (as after a
    # retry beyond the deduplication window: same envelope, another message id)
    reported, assigned = night()[2:4]
    await publish(client, reported)
    first = await publish(client, assigned)
    second = await publish(client, assigned, msg_id=f"{assigned.id}:again")
    # when the projector runs
    async with running(settings_for(nats_url, database_url)) as projector:
        await wait_checkpoint(database_url, second)
        assert projector.counters.as_dict()["live"]["duplicates"] == 1
    # then the event is stored once, at its first sequence, and assigned the incident once
    rows = await fetch(
        database_url, "SELECT seq FROM timeline_events WHERE event_id = $1", assigned.id
    )
    assert [r["seq"] for r in rows] == [first]
    assignments = await fetch(database_url, "SELECT assignment_seq FROM incident_assignments")
    assert [r["assignment_seq"] for r in assignments] == [first]
    assert await rebuild_and_digest(database_url) == await digest_of(database_url)


async def test_a_store_failure_redelivers_the_batch_until_it_projects(
    nats_url: str, database_url: str, client: Client
) -> None:
    # given a running projector that has projected a check-in
    envelopes = night()
    first = await publish(client, envelopes[0])
    settings = settings_for(nats_url, database_url, timeline_modes=(Mode.LIVE,))
    async with running(settings) as projector:
        await wait_checkpoint(database_url, first)
        # when its units table disappears (a failing store) and another unit checks in
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("ALTER TABLE units RENAME TO units_away")
            second = await publish(client, envelopes[1])

            async def failed() -> bool:
                return bool(projector.counters.as_dict()["live"]["failures"] >= 1)

            await wait_for(failed)
            # then nothing of the batch is written, not even its event
            assert await checkpoint(database_url) == first
            assert len(await fetch(database_url, "SELECT * FROM timeline_events")) == 1
            # and once the table is back, the redelivered batch projects
            await conn.execute("ALTER TABLE units_away RENAME TO units")
        finally:
            await conn.close()
        await wait_checkpoint(database_url, second)
    units = await fetch(database_url, "SELECT unit FROM units ORDER BY unit")
    assert [r["unit"] for r in units] == ["PM-1", "PN-1"]


async def test_postgres_statements_are_traced_under_the_consumer_span(
    nats_url: str, database_url: str, client: Client
) -> None:
    # given tracing into memory, with PostgreSQL instrumented
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_postgres(provider)
    try:
        seq = await publish(client, night()[0])
        # when a record is projected
        settings = settings_for(nats_url, database_url, timeline_modes=(Mode.LIVE,))
        async with running(settings, provider):
            await wait_checkpoint(database_url, seq)
    finally:
        AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
    # then the batch's statements are children of the consumer span of the batch
    spans = exporter.get_finished_spans()
    consumers = {s.context.span_id: s for s in spans if s.kind == SpanKind.CONSUMER and s.context}
    statements = [
        s for s in spans if s.kind == SpanKind.CLIENT and s.parent and s.parent.span_id in consumers
    ]
    assert any(s.name == "INSERT" for s in statements)
    assert any("timeline_events" in str(s.attributes) for s in statements)


def test_the_service_refuses_to_start_without_a_database_url() -> None:
    # given an environment without DATABASE_URL
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["NATS_URL"] = "nats://127.0.0.1:1"
    # when the service is started
    done = subprocess.run(
        [sys.executable, "-m", "services.timeline"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then it exits at once, saying what to set
    assert done.returncode == 2
    assert "DATABASE_URL is not set" in done.stderr
