"""A digest of what the timeline's database holds: SHA-256 over the events, the unreadable
notes and every projection table, for the whole database or one operation.

Two databases (or schemas) holding the same rows give the same digest whatever their
settings: PostgreSQL renders each row as JSON (timestamps in UTC, shortest exact floats, keys
in a fixed order) and rows go in primary-key order, text compared bytewise. Columns that say
when a row was written rather than what it holds are left out, so a projection and its
rebuild from the stream compare equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from contracts import subjects
from contracts.vocabulary import Mode
from services.timeline.store import DIGEST_TABLES, UNREADABLE_TABLE, Conn

#: Integer key columns (every other key column is text, ordered bytewise).
_NUMERIC_KEYS: Final = frozenset({"seq", "assignment_seq"})
#: Columns stamped when a row is written (not part of what the row says).
_WRITE_TIME_COLUMNS: Final = MappingProxyType({UNREADABLE_TABLE: ("noted_at",)})


@dataclass(frozen=True, slots=True)
class Digest:
    """A digest and the number of rows it covers in each table."""

    value: str
    rows: Mapping[str, int]


def timeline_prefixes(mode: Mode | None, operation: str) -> tuple[str, ...]:
    """Subject prefixes of an operation's timeline, in one mode or in both (raises
    `SubjectError` for an operation that is not a subject token)."""
    modes = (mode,) if mode is not None else tuple(Mode)
    return tuple(subjects.timeline_of(m, operation).removesuffix(">") for m in modes)


def digest_query(
    table: str, key: Sequence[str], *, mode: Mode | None = None, operation: str | None = None
) -> tuple[str, tuple[Any, ...]]:
    """The query rendering a table's rows in scope, in digest order, and its arguments.

    An operation's rows are those naming it, except the unreadable notes (which have no
    operation but the subject they were read from)."""
    conditions: list[str] = []
    args: list[Any] = []
    if mode is not None:
        args.append(mode.value)
        conditions.append(f"mode = ${len(args)}")
    if operation is not None:
        if table == UNREADABLE_TABLE:
            args.append(list(timeline_prefixes(mode, operation)))
            conditions.append(
                f"EXISTS (SELECT FROM unnest(${len(args)}::text[]) p WHERE starts_with(subject, p))"
            )
        else:
            args.append(operation)
            conditions.append(f"operation = ${len(args)}")
    row = "to_jsonb(t)" + "".join(f" - '{c}'" for c in _WRITE_TIME_COLUMNS.get(table, ()))
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = ", ".join(c if c in _NUMERIC_KEYS else f'{c} COLLATE "C"' for c in key)
    return f"SELECT ({row})::text FROM {table} t{where} ORDER BY {order}", tuple(args)  # noqa: S608


async def digest_rows(
    conn: Conn, *, mode: Mode | None = None, operation: str | None = None
) -> Digest:
    """The digest of every table's rows in scope (the whole database by default, or one mode,
    or one operation), read in one snapshot, with the row counts."""
    digest = hashlib.sha256()
    rows: dict[str, int] = {}
    # One snapshot for every table, unless the caller's transaction already is one.
    nested = conn.is_in_transaction()
    async with conn.transaction(
        isolation=None if nested else "repeatable_read", readonly=not nested
    ):
        await conn.execute("SET LOCAL TimeZone TO 'UTC'; SET LOCAL extra_float_digits TO 1")
        for table, key in DIGEST_TABLES:
            digest.update(f"# {table}\n".encode())
            sql, args = digest_query(table, key, mode=mode, operation=operation)
            rows[table] = 0
            async for record in conn.cursor(sql, *args):
                digest.update(record[0].encode())
                digest.update(b"\n")
                rows[table] += 1
    return Digest(digest.hexdigest(), MappingProxyType(rows))


async def projection_digest(
    conn: Conn, *, mode: Mode | None = None, operation: str | None = None
) -> str:
    """SHA-256 over the rows of the whole database, or of one mode, or of one operation."""
    return (await digest_rows(conn, mode=mode, operation=operation)).value
