"""Fixtures and helpers of the timeline's integration tests: a NATS client, a second empty
database (to replay the stream into), publishing records as the coordinator does, running
the projector, and polling PostgreSQL until a condition holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from databases import create_database, drop_database
from faststream import TestApp
from nats.aio.client import Client
from opentelemetry.sdk.trace import TracerProvider

from contracts import subjects
from contracts.cloudevents import to_structured
from contracts.envelope import Envelope
from contracts.routing import (
    CLOUDEVENTS_JSON,
    CONTENT_TYPE_HEADER,
    DELIVERIES_HEADER,
    MSG_ID_HEADER,
    PROPOSAL_HEADER,
    RecordDelivery,
    encode_deliveries,
)
from contracts.vocabulary import Agency, Mode
from integration.jetstream import wait_for
from services.timeline import store
from services.timeline.app import build_app
from services.timeline.digest import projection_digest
from services.timeline.handlers import Projector, consumer_name
from services.timeline.settings import TimelineSettings

#: Who every test record is delivered to (the crisis cell sees everything).
DELIVERIES = (RecordDelivery(to=Agency.CRISIS_CELL), RecordDelivery(to=Agency.POLICE_NATIONALE))


@pytest.fixture
async def second_database_url(postgres_url: str) -> AsyncIterator[str]:
    """Another fresh, empty database, dropped after the test."""
    url = await create_database(postgres_url)
    yield url
    await drop_database(postgres_url, url)


def settings_for(nats_url: str, database_url: str, **overrides: Any) -> TimelineSettings:
    """Small batches and short delays, so a few records span several batches."""
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "database_url": database_url,
        "timeline_batch_size": 4,
        "timeline_batch_timeout_s": 0.05,
        "timeline_retry_delay_s": 0.2,
        "timeline_ack_wait_s": 5.0,
        **overrides,
    }
    return TimelineSettings(**values)


@asynccontextmanager
async def running(
    settings: TimelineSettings, tracer_provider: TracerProvider | None = None
) -> AsyncIterator[Projector]:
    """The timeline app, started (projector opened) and stopped around the block."""
    app, projector = build_app(settings, tracer_provider)
    async with TestApp(app):
        yield projector


async def publish(
    nc: Client,
    envelope: Envelope,
    *,
    msg_id: str | None = None,
    deliveries: tuple[RecordDelivery, ...] | None = DELIVERIES,
) -> int:
    """Append a record to its timeline stream as the coordinator does; its sequence."""
    headers = {
        CONTENT_TYPE_HEADER: CLOUDEVENTS_JSON,
        MSG_ID_HEADER: msg_id or envelope.id,
        PROPOSAL_HEADER: envelope.id,
    }
    if deliveries is not None:
        headers[DELIVERIES_HEADER] = encode_deliveries(deliveries)
    subject = subjects.timeline(envelope.mode, envelope.operation, envelope.type)
    ack = await nc.jetstream().publish(subject, to_structured(envelope), headers=headers)
    assert not ack.duplicate
    return int(ack.seq)


async def publish_raw(
    nc: Client, mode: Mode, body: bytes, headers: dict[str, str], operation: str = "timeline-test"
) -> int:
    """Append arbitrary bytes to a timeline stream (what a faulty writer could do)."""
    subject = subjects.timeline(mode, operation, "fr.interforces.incident.reported")
    ack = await nc.jetstream().publish(subject, body, headers=headers)
    return int(ack.seq)


async def checkpoint(database_url: str, mode: Mode = Mode.LIVE) -> int:
    """Where the mode's projector stands in the database (0 before its tables exist)."""
    conn = await asyncpg.connect(database_url)
    try:
        exists = await conn.fetchval("SELECT to_regclass('projection_checkpoints') IS NOT NULL")
        return await store.read_checkpoint(conn, consumer_name(mode)) if exists else 0
    finally:
        await conn.close()


async def wait_checkpoint(database_url: str, seq: int, mode: Mode = Mode.LIVE) -> None:
    """Wait until the mode's checkpoint reaches `seq`."""

    async def reached() -> bool:
        return await checkpoint(database_url, mode) >= seq

    await wait_for(reached)


async def fetch(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of one query on a fresh connection."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def digest_of(database_url: str) -> str:
    """`projection_digest` of a database."""
    conn = await asyncpg.connect(database_url)
    try:
        return await projection_digest(conn)
    finally:
        await conn.close()


async def rebuild_and_digest(database_url: str) -> str:
    """Rebuild the projections from the events table, then digest."""
    conn = await asyncpg.connect(database_url)
    try:
        await store.rebuild(conn, page=5)
        return await projection_digest(conn)
    finally:
        await conn.close()
