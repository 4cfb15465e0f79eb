"""The consultation journal in PostgreSQL (`consultation_journal`, infra/migrations/0002).

Every read of the timeline leaves one record: appended under a transaction-scoped advisory
lock (so `seq` is previous + 1 and concurrent appends form one chain), never changed nor
removed (a trigger refuses it, and the API's role `API_ROLE` may only read and insert).
`verify` walks the chain (journal_chain.py); `read` pages through it for oversight.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from services.crisis_api.journal_chain import (
    COLUMNS,
    GENESIS_HASH,
    JOURNAL_ROLES,
    ChainVerifier,
    JournalEntry,
    JournalEntryError,
    JournalRecord,
    Verification,
    chained,
    check_entry,
)
from services.timeline.domain import canonical_json
from services.timeline.store import Conn

__all__ = [
    "API_ROLE",
    "GENESIS_HASH",
    "JOURNAL_ROLES",
    "JOURNAL_TABLE",
    "JournalEntry",
    "JournalEntryError",
    "JournalPage",
    "JournalRecord",
    "Verification",
    "append",
    "assume_api_role",
    "last",
    "read",
    "verify",
]

JOURNAL_TABLE: Final = "consultation_journal"
#: The role the crisis-cell API assumes: reads the timeline, reads and appends the journal.
API_ROLE: Final = "ifc_crisis_api"
#: Key of the advisory lock serialising appends (any fixed 64-bit number will do).
APPEND_LOCK_KEY: Final = 0x1F0_70C0_11A1
#: Most records one `read` returns.
MAX_PAGE: Final = 1000

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {JOURNAL_TABLE}"  # noqa: S608 - constants
_PLACEHOLDERS = ", ".join(
    f"${i}::jsonb" if column == "request" else f"${i}" for i, column in enumerate(COLUMNS, 1)
)
_INSERT = f"INSERT INTO {JOURNAL_TABLE} ({', '.join(COLUMNS)}) VALUES ({_PLACEHOLDERS})"  # noqa: S608


async def assume_api_role(conn: Conn) -> None:
    """Act as `API_ROLE` from now on (use as the asyncpg pool's `init`)."""
    await conn.execute(f"SET ROLE {API_ROLE}")


async def append(conn: Conn, entry: JournalEntry) -> JournalRecord:
    """Journal `entry` as the record after the current head; its record.

    Runs in its own transaction (a savepoint inside the caller's, whose commit then releases
    the lock): call it outside a transaction or in a READ COMMITTED one. Raises
    `JournalEntryError` for an entry the journal cannot hold."""
    entry = check_entry(entry)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK_KEY)
        head = await conn.fetchrow(
            f"SELECT seq, hash FROM {JOURNAL_TABLE} ORDER BY seq DESC LIMIT 1"  # noqa: S608
        )
        at: datetime = await conn.fetchval("SELECT clock_timestamp()")
        seq, prev_hash = (head["seq"] + 1, head["hash"]) if head else (1, GENESIS_HASH)
        record = chained(entry, seq=seq, at=at, prev_hash=prev_hash)
        await conn.execute(_INSERT, *_values(record))
    return record


async def verify(conn: Conn, *, expect_head: str | None = None) -> Verification:
    """Check the whole chain in `seq` order, from one snapshot; stops at the first break.

    `expect_head`: a head hash printed by an earlier verification, to detect a cut tail."""
    verifier = ChainVerifier(expect_head)
    async with _snapshot(conn):
        async for row in conn.cursor(f"{_SELECT} ORDER BY seq", prefetch=500):
            if not verifier.feed(_record(row)):
                break
    return verifier.result()


@dataclass(frozen=True, slots=True)
class JournalPage:
    """Records in `seq` order; `next_after_seq` asks for the next page (None: no more)."""

    records: tuple[JournalRecord, ...]
    next_after_seq: int | None


async def read(
    conn: Conn,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    who: str | None = None,
    role: str | None = None,
    operation: str | None = None,
    limit: int = 100,
    after_seq: int = 0,
) -> JournalPage:
    """Records after `after_seq` journaled in [since, until), by `who`, in `role`, about
    `operation` (each filter optional), at most `limit` (1 to `MAX_PAGE`)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    args: list[Any] = [after_seq]
    conditions = ["seq > $1"]
    for column, operator, value in (
        ("at", ">=", since),
        ("at", "<", until),
        ("who", "=", who),
        ("role", "=", role),
        ("operation", "=", operation),
    ):
        if value is not None:
            args.append(value)
            conditions.append(f"{column} {operator} ${len(args)}")
    args.append(limit + 1)
    rows = await conn.fetch(
        f"{_SELECT} WHERE {' AND '.join(conditions)} ORDER BY seq LIMIT ${len(args)}", *args
    )
    records = tuple(_record(r) for r in rows[:limit])
    return JournalPage(records, records[-1].seq if len(rows) > limit else None)


async def last(conn: Conn, limit: int = 20) -> list[JournalRecord]:
    """The last `limit` records (1 to `MAX_PAGE`), oldest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    rows = await conn.fetch(f"{_SELECT} ORDER BY seq DESC LIMIT $1", limit)
    return [_record(r) for r in reversed(rows)]


@asynccontextmanager
async def _snapshot(conn: Conn) -> AsyncIterator[None]:
    """One consistent view for a long read: the caller's transaction, or a read-only one."""
    if conn.is_in_transaction():
        yield
        return
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        yield


def _values(record: JournalRecord) -> list[Any]:
    return [
        canonical_json(record.request) if column == "request" else getattr(record, column)
        for column in COLUMNS
    ]


def _record(row: asyncpg.Record) -> JournalRecord:
    values = dict(row.items())
    if isinstance(values["request"], str):
        values["request"] = json.loads(values["request"])
    return JournalRecord(**values)
