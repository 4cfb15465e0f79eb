"""The store on a real PostgreSQL: migrations apply once (even when two instances start
together) and refuse an edited history; a batch writes events, projections and checkpoint in
one transaction; the digest depends on content only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from unit.timeline.builders import event, record

from contracts.vocabulary import Agency, Mode
from services.timeline import store
from services.timeline.digest import projection_digest
from services.timeline.domain import plan_batch
from services.timeline.errors import MigrationChecksumError
from services.timeline.migrations import load_migrations, migrate, parse_migrations

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def test_migrations_apply_once_even_when_two_instances_start_together(
    database_url: str,
) -> None:
    # given two connections to an empty database
    first, second = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        # when both migrate at the same time
        applied = await asyncio.gather(migrate(first), migrate(second))
        # then the migrations are applied once, by one of them, and recorded with checksums
        assert sorted(len(a) for a in applied) == [0, len(load_migrations())]
        rows = await first.fetch("SELECT version, name, checksum FROM schema_migrations")
        assert [(r["version"], r["checksum"]) for r in rows] == [
            (m.version, m.checksum) for m in load_migrations()
        ]
        # and migrating again applies nothing
        assert await migrate(first) == []
    finally:
        await first.close()
        await second.close()


async def test_an_applied_migration_edited_afterwards_is_refused(
    conn: asyncpg.Connection[asyncpg.Record],
) -> None:
    # given a database migrated with a first migration
    original = parse_migrations([("0001_probe.sql", "CREATE TABLE probe (id int);")])
    await migrate(conn, original)
    # when the same migration comes back edited
    edited = parse_migrations([("0001_probe.sql", "CREATE TABLE probe (id bigint);")])
    # then it is refused and nothing changes
    with pytest.raises(MigrationChecksumError):
        await migrate(conn, edited)
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 1


async def test_a_batch_commits_events_projection_and_checkpoint_together(
    conn: asyncpg.Connection[asyncpg.Record],
) -> None:
    # given a migrated database and a planned batch of two records
    await migrate(conn)
    batch = [
        record(1, event("incident.reported"), Agency.POLICE_MUNICIPALE),
        record(2, event("incident.assigned"), Agency.CRISIS_CELL),
    ]
    plan = plan_batch(0, batch)

    async def append_then_fail() -> None:
        async with conn.transaction():
            assert await store.claim_checkpoint(conn, "probe") == 0
            await store.append(conn, "probe", plan)
            raise RuntimeError("the connection drops before commit")

    # when it is appended in a transaction that then fails
    with pytest.raises(RuntimeError):
        await append_then_fail()
    # then nothing of it remains
    assert await conn.fetchval("SELECT count(*) FROM timeline_events") == 0
    assert await conn.fetchval("SELECT count(*) FROM incidents") == 0
    assert await store.read_checkpoint(conn, "probe") == 0
    # when it is appended and committed
    async with conn.transaction():
        await store.claim_checkpoint(conn, "probe")
        appended = await store.append(conn, "probe", plan)
    # then events, projection and checkpoint are all there
    assert [r.seq for r in appended.inserted] == [1, 2]
    assert await conn.fetchval("SELECT status FROM incidents") == "assigned"
    assert await store.read_checkpoint(conn, "probe") == 2


async def test_the_digest_follows_content_not_session_settings(
    conn: asyncpg.Connection[asyncpg.Record],
) -> None:
    # given a projected record
    await migrate(conn)
    async with conn.transaction():
        await store.claim_checkpoint(conn, "probe")
        await store.append(conn, "probe", plan_batch(0, [record(1, event("unit.checked_in"))]))
    before = await projection_digest(conn)
    # when the session's time zone and float output change
    await conn.execute("SET TimeZone TO 'Pacific/Auckland'; SET extra_float_digits TO 0")
    # then the digest is the same
    assert await projection_digest(conn) == before
    # and when a projected value changes, the digest changes
    await conn.execute("UPDATE units SET personnel = personnel + 1")
    assert await projection_digest(conn) != before
    # and a rebuild restores it
    assert await store.rebuild(conn) == 1
    assert await projection_digest(conn) == before


async def test_a_stored_event_is_read_back_as_the_record_it_was(
    conn: asyncpg.Connection[asyncpg.Record],
) -> None:
    # given a record appended with its routing
    await migrate(conn)
    original = record(5, event("perimeter.violated"), Agency.SECURITE_PRIVEE, mode=Mode.EXERCISE)
    async with conn.transaction():
        await store.claim_checkpoint(conn, "probe")
        await store.append(conn, "probe", plan_batch(4, [original]))
    # when read back
    row = await conn.fetchrow("SELECT * FROM timeline_events")
    assert row is not None
    # then it is the same record
    assert store.stored_record(row) == original
