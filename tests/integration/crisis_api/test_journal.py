"""The consultation journal in PostgreSQL: appends chain, tampering is found, nobody changes
or removes a record, the API's role only reads and appends, and `interforces journal`."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner, Result

from interforces.commands.journal import EXIT_BROKEN, app
from interforces.commands.operator import EXIT_NO_SERVER
from services.crisis_api import journal
from services.crisis_api.journal_chain import JOURNAL_ROLES, JournalEntry, Problem
from services.timeline.migrations import migrate

pytestmark = pytest.mark.integration

#: The timeline tables the API reads.
TIMELINE_TABLES = (
    "timeline_events",
    "timeline_unreadable",
    "projection_checkpoints",
    "units",
    "incidents",
    "incident_assignments",
    "security_perimeters",
    "rejections",
)


def entry(number: int, **changes: object) -> JournalEntry:
    """A consultation by the crisis cell (`number` tells them apart)."""
    base = JournalEntry(
        who=f"cic-{number % 3}",
        role="crisis_cell",
        action="GET /v1/operations/{mode}/{operation}/timeline",
        status=200,
        mode="live",
        operation=f"op-{number % 2}",
        request={"path": {"mode": "live", "operation": f"op-{number % 2}"}, "query": {}},
        motive=f"vérification n° {number}",
        result_count=number,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    """A connection as the database's owner."""
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def migrated(database_url: str) -> str:
    """`database_url`, migrated."""
    async with connected(database_url) as conn:
        await migrate(conn)
    return database_url


async def append_many(url: str, count: int) -> list[journal.JournalRecord]:
    """`count` consultations appended one after the other."""
    async with connected(url) as conn:
        return [await journal.append(conn, entry(n)) for n in range(1, count + 1)]


async def tamper(url: str, sql: str, *args: object) -> None:
    """Run `sql` with the journal's triggers off, as someone with the owner's rights could."""
    async with connected(url) as conn, conn.transaction():
        await conn.execute("ALTER TABLE consultation_journal DISABLE TRIGGER USER")
        await conn.execute(sql, *args)
        await conn.execute("ALTER TABLE consultation_journal ENABLE TRIGGER USER")


async def verified(url: str, expect_head: str | None = None) -> journal.Verification:
    """The journal's verification."""
    async with connected(url) as conn:
        return await journal.verify(conn, expect_head=expect_head)


async def test_appends_chain_and_read_back_as_written(migrated: str) -> None:
    records = await append_many(migrated, 5)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == journal.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
    result = await verified(migrated)
    assert (result.ok, result.rows, result.head_seq, result.head_hash) == (
        True,
        5,
        5,
        records[-1].hash,
    )
    async with connected(migrated) as conn:
        page = await journal.read(conn)
        assert page.records == tuple(records)
        assert page.next_after_seq is None
        # inside the caller's transaction as well
        async with conn.transaction():
            assert (await journal.verify(conn)).ok


async def test_a_changed_record_is_named(migrated: str) -> None:
    await append_many(migrated, 5)
    await tamper(
        migrated, "UPDATE consultation_journal SET motive = $1 WHERE seq = 3", "autre motif"
    )
    result = await verified(migrated)
    assert result.broken is not None
    assert (result.broken.seq, result.broken.problem, result.rows) == (
        3,
        Problem.HASH_MISMATCH,
        2,
    )


async def test_a_deleted_record_leaves_a_gap(migrated: str) -> None:
    await append_many(migrated, 5)
    await tamper(migrated, "DELETE FROM consultation_journal WHERE seq = 2")
    result = await verified(migrated)
    assert result.broken is not None
    assert (result.broken.seq, result.broken.problem) == (2, Problem.GAP)


async def test_a_cut_tail_is_found_with_the_head_seen_earlier(migrated: str) -> None:
    records = await append_many(migrated, 5)
    head = (await verified(migrated)).head_hash
    await tamper(migrated, "DELETE FROM consultation_journal WHERE seq >= 4")
    assert (await verified(migrated)).ok  # without a head to compare with, nothing shows
    result = await verified(migrated, expect_head=head)
    assert result.broken is not None
    assert (result.broken.seq, result.broken.problem) == (4, Problem.HEAD_MISSING)
    # the journal keeps growing after a verification: the earlier head is still in it
    assert (await verified(migrated, expect_head=records[2].hash)).ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consultation_journal SET motive = 'autre' WHERE seq = 1",
        "DELETE FROM consultation_journal WHERE seq = 1",
        "TRUNCATE consultation_journal",
    ],
)
async def test_the_owner_cannot_change_nor_remove_a_record(migrated: str, statement: str) -> None:
    await append_many(migrated, 2)
    async with connected(migrated) as conn:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute(statement)
    assert (await verified(migrated)).rows == 2


@pytest.fixture
async def api_role(migrated: str) -> str:
    """`migrated`, where this user may assume the API's role (skipped where the migrating
    user may not create roles, so the role is not there)."""
    async with connected(migrated) as conn:
        try:
            await journal.assume_api_role(conn)
        except (asyncpg.UndefinedObjectError, asyncpg.InsufficientPrivilegeError) as exc:
            pytest.skip(f"{journal.API_ROLE} cannot be assumed here: {exc}")
    return migrated


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consultation_journal SET motive = 'autre' WHERE seq = 1",
        "DELETE FROM consultation_journal WHERE seq = 1",
        "TRUNCATE consultation_journal",
        *(
            f"UPDATE {t} SET mode = mode"  # noqa: S608 - constants
            for t in TIMELINE_TABLES
            if t != "projection_checkpoints"
        ),
        "DELETE FROM units",
        "TRUNCATE timeline_events",
        "UPDATE projection_checkpoints SET last_seq = 0",
        "INSERT INTO units (mode, operation, unit, agency, last_seq) VALUES ('live','o','u','a',1)",
        "SELECT * FROM schema_migrations",
    ],
)
async def test_the_api_role_only_reads_the_timeline_and_appends(
    api_role: str, statement: str
) -> None:
    await append_many(api_role, 1)
    async with connected(api_role) as conn:
        await journal.assume_api_role(conn)
        for table in TIMELINE_TABLES:
            await conn.fetch(f"SELECT * FROM {table}")  # noqa: S608 - constants
        await journal.append(conn, entry(2))
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await conn.execute(statement)
    assert (await verified(api_role)).rows == 2


async def test_concurrent_appends_through_the_api_pool_chain_in_any_role(
    api_role: str,
) -> None:
    pool = await asyncpg.create_pool(api_role, min_size=2, max_size=8, init=journal.assume_api_role)
    try:

        async def one(number: int) -> journal.JournalRecord:
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT current_user") == journal.API_ROLE
                role = JOURNAL_ROLES[number % len(JOURNAL_ROLES)]
                return await journal.append(conn, entry(number, role=role))

        records = await asyncio.gather(*(one(n) for n in range(50)))
    finally:
        await pool.close()
    assert sorted(r.seq for r in records) == list(range(1, 51))
    result = await verified(api_role)
    assert (result.ok, result.rows, result.head_seq) == (True, 50, 50)
    async with connected(api_role) as conn:
        roles = await conn.fetch("SELECT DISTINCT role FROM consultation_journal")
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO consultation_journal SELECT seq + 1, at, who, 'root', agency, mode,"
                " operation, action, request, motive, status, result_count, prev_hash, hash"
                " FROM consultation_journal WHERE seq = 50"
            )
    assert {r["role"] for r in roles} == set(JOURNAL_ROLES)


async def test_oversight_pages_through_the_journal_with_filters(migrated: str) -> None:
    records = await append_many(migrated, 12)
    async with connected(migrated) as conn:
        await journal.append(conn, entry(13, who="ddd", role="oversight", operation=None))
        pages, after = [], 0
        while True:
            page = await journal.read(conn, operation="op-1", limit=2, after_seq=after)
            pages.append(page.records)
            if page.next_after_seq is None:
                break
            after = page.next_after_seq
        assert [r.seq for p in pages for r in p] == [1, 3, 5, 7, 9, 11]
        assert all(len(p) == 2 for p in pages)
        by_who = await journal.read(conn, who="cic-0")
        assert [r.seq for r in by_who.records] == [3, 6, 9, 12]
        oversight = await journal.read(conn, role="oversight")
        assert [r.who for r in oversight.records] == ["ddd"]
        window = await journal.read(
            conn, since=records[4].at, until=records[6].at + timedelta(microseconds=1)
        )
        assert [r.seq for r in window.records] == [5, 6, 7]
        assert [r.seq for r in await journal.last(conn, 3)] == [11, 12, 13]
        with pytest.raises(ValueError, match="limit"):
            await journal.read(conn, limit=0)


async def test_a_schema_migrated_like_a_rebuild_gets_its_own_journal(migrated: str) -> None:
    await append_many(migrated, 2)
    settings = {"search_path": "rebuild_journal"}
    conn = await asyncpg.connect(migrated, server_settings=settings)
    try:
        # as a rebuild does: migrate an empty schema, then drop it and start again
        for _ in range(2):
            await conn.execute("DROP SCHEMA IF EXISTS rebuild_journal CASCADE")
            await conn.execute("CREATE SCHEMA rebuild_journal")
            await migrate(conn)
            await journal.append(conn, entry(1))
            assert (await journal.verify(conn)).rows == 1
    finally:
        await conn.close()
    assert (await verified(migrated)).rows == 2


async def test_an_entry_the_journal_cannot_hold_is_refused_before_any_write(
    migrated: str,
) -> None:
    async with connected(migrated) as conn:
        with pytest.raises(journal.JournalEntryError, match="NUL"):
            await journal.append(conn, entry(1, motive="a\x00b"))
        record = await journal.append(conn, entry(2))
    assert record.seq == 1


# --- the command line ----------------------------------------------------------------------


def invoke(database_url: str | None, *args: str) -> Result:
    """`interforces journal …` against `database_url`."""
    env = {
        "DATABASE_URL": database_url,
        "NATS_URL": None,  # a database-only command needs no NATS
        "COLUMNS": "200",  # a terminal wide enough for the table's columns
    }
    return CliRunner().invoke(app, list(args), env=env)


async def test_the_cli_verifies_and_shows_the_journal(migrated: str, tmp_path: Path) -> None:
    records = await append_many(migrated, 3)
    intact = await asyncio.to_thread(invoke, migrated, "verify")
    assert intact.exit_code == 0, intact.output
    assert records[-1].hash in intact.stdout
    as_json = await asyncio.to_thread(invoke, migrated, "verify", "--json")
    assert json.loads(as_json.stdout) == {
        "ok": True,
        "rows": 3,
        "head_seq": 3,
        "head_hash": records[-1].hash,
        "broken_seq": None,
        "problem": None,
        "detail": None,
    }
    shown = await asyncio.to_thread(invoke, migrated, "show", "--limit", "2", "--json")
    assert shown.exit_code == 0, shown.output
    assert [r["seq"] for r in json.loads(shown.stdout)] == [2, 3]
    assert json.loads(shown.stdout)[1] == records[2].as_dict()
    table = await asyncio.to_thread(invoke, migrated, "show")
    assert "vérification n° 3" in table.stdout

    await tamper(migrated, "UPDATE consultation_journal SET who = 'x' WHERE seq = 2")
    broken = await asyncio.to_thread(invoke, migrated, "verify")
    assert broken.exit_code == EXIT_BROKEN
    assert "seq 2" in broken.stdout
    assert "hash_mismatch" in broken.stdout
    broken_json = await asyncio.to_thread(invoke, migrated, "verify", "--json")
    assert json.loads(broken_json.stdout)["broken_seq"] == 2

    stranded = await asyncio.to_thread(invoke, None, "verify", "--data-dir", str(tmp_path))
    assert stranded.exit_code == EXIT_NO_SERVER
    assert "is not set" in stranded.output


async def test_the_cli_says_when_there_is_no_journal(database_url: str) -> None:
    result = await asyncio.to_thread(invoke, database_url, "verify")
    assert result.exit_code == EXIT_NO_SERVER
    assert "no consultation journal" in result.output
