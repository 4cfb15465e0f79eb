"""PostgreSQL side of the timeline (asyncpg): the events table, the projections, the
checkpoints and the rebuild of the projections from the events (`digest` proves the result).

Writes are batched: rows go by COPY into session-local staging tables, then one
`INSERT … SELECT … ON CONFLICT` per table moves them in. Every function that writes runs in
the caller's transaction, so a batch, its projection and its checkpoint commit together.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from contracts.cloudevents import envelope_from_mapping
from contracts.errors import EnvelopeError
from contracts.routing import decode_deliveries
from contracts.vocabulary import Mode
from services.timeline.domain import (
    AssignmentRow,
    BatchPlan,
    IncidentRow,
    Keys,
    PerimeterRow,
    Projection,
    RejectionRow,
    Row,
    TimelineRecord,
    UnitRow,
    Unreadable,
    canonical_json,
    changes,
    columns,
    fold,
    keys_of,
    values,
)
from services.timeline.errors import StoredEventError

#: A connection, bare or from a pool (generic only to the type checker, hence the string).
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

EVENTS_TABLE: Final = "timeline_events"
UNREADABLE_TABLE: Final = "timeline_unreadable"
CHECKPOINTS_TABLE: Final = "projection_checkpoints"
UNITS_TABLE: Final = "units"
INCIDENTS_TABLE: Final = "incidents"
ASSIGNMENTS_TABLE: Final = "incident_assignments"
PERIMETERS_TABLE: Final = "security_perimeters"
REJECTIONS_TABLE: Final = "rejections"
#: The tables `rebuild` empties and folds again from `timeline_events`.
PROJECTION_TABLES: Final = (
    UNITS_TABLE,
    INCIDENTS_TABLE,
    ASSIGNMENTS_TABLE,
    PERIMETERS_TABLE,
    REJECTIONS_TABLE,
)

EVENT_COLUMNS: Final = (
    "mode",
    "seq",
    "event_id",
    "operation",
    "type",
    "agency",
    "unit",
    "sector",
    "classification",
    "subject",
    "occurred_at",
    "recorded_at",
    "proposal_id",
    "deliveries",
    "envelope",
)
UNREADABLE_COLUMNS: Final = (
    "mode",
    "seq",
    "subject",
    "msg_id",
    "reason",
    "detail",
    "size",
    "sha256",
)


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    row_type: type[Row]
    key: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return columns(self.row_type)


_UNITS = _Table(UNITS_TABLE, UnitRow, ("mode", "operation", "unit"))
_INCIDENTS = _Table(INCIDENTS_TABLE, IncidentRow, ("mode", "operation", "incident"))
_ASSIGNMENTS = _Table(
    ASSIGNMENTS_TABLE, AssignmentRow, ("mode", "operation", "incident", "assignment_seq")
)
_PERIMETERS = _Table(PERIMETERS_TABLE, PerimeterRow, ("mode", "operation", "perimeter"))
_REJECTIONS = _Table(REJECTIONS_TABLE, RejectionRow, ("mode", "event_id"))

#: Every table the digest covers, with its primary key (the order rows are hashed in).
DIGEST_TABLES: Final = (
    (EVENTS_TABLE, ("mode", "seq")),
    (UNREADABLE_TABLE, ("mode", "seq")),
    *((t.name, t.key) for t in (_UNITS, _INCIDENTS, _ASSIGNMENTS, _PERIMETERS, _REJECTIONS)),
)


# --- connections ---------------------------------------------------------------------------


async def open_pool(url: str, max_size: int = 4) -> asyncpg.Pool[asyncpg.Record]:
    """A connection pool (one connection per mode's consumer, plus room for queries)."""
    return await asyncpg.create_pool(url, min_size=1, max_size=max_size)


# --- checkpoints ---------------------------------------------------------------------------


async def claim_checkpoint(conn: Conn, consumer: str) -> int:
    """Lock a consumer's checkpoint row for this transaction and read it (creating it at 0).

    The row lock serialises batches of the same consumer, should two instances share it."""
    value = await conn.fetchval(
        f"""INSERT INTO {CHECKPOINTS_TABLE} AS c (consumer) VALUES ($1)
            ON CONFLICT (consumer) DO UPDATE SET consumer = c.consumer
            RETURNING c.last_seq""",  # noqa: S608 (table names are constants of this module)
        consumer,
    )
    return int(value)


async def read_checkpoint(conn: Conn, consumer: str) -> int:
    """A consumer's last projected stream sequence (0 before its first batch)."""
    value = await conn.fetchval(
        f"SELECT last_seq FROM {CHECKPOINTS_TABLE} WHERE consumer = $1",  # noqa: S608
        consumer,
    )
    return int(value) if value is not None else 0


async def _advance_checkpoint(conn: Conn, consumer: str, last_seq: int) -> None:
    await conn.execute(
        f"""UPDATE {CHECKPOINTS_TABLE}
            SET last_seq = GREATEST(last_seq, $2), updated_at = now()
            WHERE consumer = $1""",  # noqa: S608
        consumer,
        last_seq,
    )


# --- appending a batch ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Appended:
    """What a batch wrote: records new to the events table, records whose event id was
    already there (projected once, at their first sequence), projection rows written."""

    inserted: tuple[TimelineRecord, ...]
    duplicates: tuple[TimelineRecord, ...]
    rows_written: int


async def append(conn: Conn, consumer: str, plan: BatchPlan) -> Appended:
    """Write a planned batch in the caller's transaction: events, unreadable notes, the
    projection of the new events, and the consumer's checkpoint."""
    inserted_seqs = await _insert_events(conn, plan.records)
    inserted = tuple(r for r in plan.records if r.seq in inserted_seqs)
    duplicates = tuple(r for r in plan.records if r.seq not in inserted_seqs)
    if plan.unreadable:
        await _merge(
            conn,
            UNREADABLE_TABLE,
            UNREADABLE_COLUMNS,
            [_unreadable_values(u) for u in plan.unreadable],
            conflict="ON CONFLICT DO NOTHING",
        )
    written = await project(conn, inserted)
    await _advance_checkpoint(conn, consumer, plan.checkpoint)
    return Appended(inserted, duplicates, written)


def event_values(record: TimelineRecord) -> tuple[Any, ...]:
    """A record as a `timeline_events` row, in `EVENT_COLUMNS` order."""
    env = record.envelope
    deliveries = (
        canonical_json([d.model_dump(mode="json") for d in record.deliveries])
        if record.deliveries is not None
        else None
    )
    return (
        record.mode.value,
        record.seq,
        env.id,
        env.operation,
        env.type,
        env.agency.value,
        env.unit,
        env.sector,
        env.classification.value,
        env.subject,
        env.time,
        env.recordedtime,
        record.proposal_id,
        deliveries,
        # A jsonb column: PostgreSQL orders the keys itself, pydantic's serialiser is enough.
        env.model_dump_json(exclude_none=True),
    )


def _unreadable_values(note: Unreadable) -> tuple[Any, ...]:
    return (
        note.mode.value,
        note.seq,
        note.subject,
        note.msg_id,
        note.reason,
        note.detail,
        note.size,
        note.sha256,
    )


async def _insert_events(conn: Conn, records: Sequence[TimelineRecord]) -> set[int]:
    """Insert records, first sequence of each event id winning; the sequences inserted."""
    if not records:
        return set()
    rows = await _merge(
        conn,
        EVENTS_TABLE,
        EVENT_COLUMNS,
        [event_values(r) for r in records],
        conflict="ON CONFLICT DO NOTHING",
        order="seq",
        returning="seq",
    )
    return {int(r["seq"]) for r in rows}


async def _merge(
    conn: Conn,
    table: str,
    cols: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    conflict: str,
    order: str | None = None,
    returning: str | None = None,
) -> list[asyncpg.Record]:
    """COPY rows into the session's staging twin of `table`, then move them into `table`.

    The staging table lives as long as the session and empties itself at each commit;
    moving with `DELETE … RETURNING` empties it within a transaction too (a rebuild merges
    many pages in one transaction)."""
    stage = f"stage_{table}"
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) "
        "ON COMMIT DELETE ROWS"
    )
    await conn.copy_records_to_table(stage, records=rows, columns=cols, schema_name="pg_temp")
    names = ", ".join(cols)
    sql = (
        f"WITH moved AS (DELETE FROM pg_temp.{stage} RETURNING {names}) "  # noqa: S608
        f"INSERT INTO {table} ({names}) SELECT {names} FROM moved"
        + (f" ORDER BY {order}" if order else "")
        + f" {conflict}"
        + (f" RETURNING {returning}" if returning else "")
    )
    return await conn.fetch(sql)


# --- projections ---------------------------------------------------------------------------


async def project(conn: Conn, records: Sequence[TimelineRecord]) -> int:
    """Fold records (in sequence order) into the projection tables; rows written."""
    if not records:
        return 0
    before = await load_rows(conn, keys_of(records))
    delta = changes(before, fold(before, records))
    for table, rows in (
        (_UNITS, delta.units.values()),
        (_INCIDENTS, delta.incidents.values()),
        (_ASSIGNMENTS, delta.assignments.values()),
        (_PERIMETERS, delta.perimeters.values()),
        (_REJECTIONS, delta.rejections.values()),
    ):
        if rows:
            await _upsert(conn, table, rows)
    return len(delta)


async def _upsert(conn: Conn, table: _Table, rows: Iterable[Row]) -> None:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in table.columns if c not in table.key)
    await _merge(
        conn,
        table.name,
        table.columns,
        [values(r) for r in rows],
        conflict=f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}",
    )


async def load_rows(conn: Conn, keys: Keys) -> Projection:
    """The existing rows a fold of records with these keys reads, with the current
    assignment of each incident."""
    found: list[Row] = []
    # Planned for these very keys: a generic plan, made while the tables were small (a
    # rebuild, a new operation), would test each row against the whole key array.
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    for table, wanted in (
        (_UNITS, keys.units),
        (_INCIDENTS, keys.incidents),
        (_PERIMETERS, keys.perimeters),
    ):
        if wanted:
            found.extend(await _select(conn, table, wanted))
    if keys.incidents:
        names = ", ".join(f"a.{c}" for c in _ASSIGNMENTS.columns)
        for (mode, operation), incidents in _by_prefix(keys.incidents).items():
            records = await conn.fetch(
                f"""SELECT {names}
                    FROM {INCIDENTS_TABLE} i
                    JOIN {ASSIGNMENTS_TABLE} a
                      ON a.mode = i.mode AND a.operation = i.operation
                     AND a.incident = i.incident
                     AND a.assignment_seq = i.current_assignment_seq
                    WHERE i.mode = $1 AND i.operation = $2
                      AND i.incident = ANY($3::text[])""",  # noqa: S608
                mode,
                operation,
                incidents,
            )
            found.extend(_row(AssignmentRow, r) for r in records)
    return Projection.of(found)


async def _select(conn: Conn, table: _Table, wanted: Iterable[tuple[str, ...]]) -> list[Row]:
    """The rows of `table` with these keys: one query per (mode, operation), the last key
    column matched with `= ANY(array)`, which PostgreSQL hashes when it plans for the
    array's values (a row-valued `IN` planned on an empty table scanned the whole table
    once per key)."""
    names = ", ".join(table.columns)
    *prefix, last = table.key
    where = " AND ".join(f"{c} = ${i + 1}" for i, c in enumerate(prefix))
    sql = (
        f"SELECT {names} FROM {table.name} "  # noqa: S608
        f"WHERE {where} AND {last} = ANY(${len(prefix) + 1}::text[])"
    )
    rows: list[Row] = []
    for head, tails in _by_prefix(wanted).items():
        records = await conn.fetch(sql, *head, tails)
        rows.extend(_row(table.row_type, r) for r in records)
    return rows


def _by_prefix(keys: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], list[str]]:
    """Keys grouped by all but their last part (mode, operation): the last parts of each."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for key in keys:
        groups.setdefault(key[:-1], []).append(key[-1])
    return groups


def _row(row_type: type[Row], record: asyncpg.Record) -> Row:
    # Array columns come back as lists; rows hold tuples (hashable, immutable).
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in record.items()}
    return row_type(**fields)


# --- rebuild -------------------------------------------------------------------------------


async def rebuild(conn: Conn, page: int = 2000) -> int:
    """Empty the projections and fold them again from `timeline_events`, in one transaction;
    returns the number of events folded.

    Live projection folds each new event once, in sequence order, over the rows it touches;
    this folds the same events in the same order through the same code, so the result is
    identical (`digest.projection_digest` proves it)."""
    folded = 0
    async with conn.transaction():
        # Holds off the projectors (they claim their checkpoint first) until it commits.
        await conn.execute(f"LOCK TABLE {CHECKPOINTS_TABLE} IN EXCLUSIVE MODE")
        await conn.execute(f"TRUNCATE {', '.join(PROJECTION_TABLES)}")
        after: tuple[str, int] = ("", 0)
        while True:
            rows = await conn.fetch(
                f"""SELECT mode, seq, envelope, proposal_id, deliveries FROM {EVENTS_TABLE}
                    WHERE (mode, seq) > ($1, $2)
                    ORDER BY mode, seq LIMIT $3""",  # noqa: S608
                after[0],
                after[1],
                page,
            )
            if not rows:
                return folded
            records = [stored_record(r) for r in rows]
            await project(conn, records)
            folded += len(records)
            after = (rows[-1]["mode"], rows[-1]["seq"])


def stored_record(row: asyncpg.Record) -> TimelineRecord:
    """A `timeline_events` row as the record it was appended from."""
    mode, seq = str(row["mode"]), int(row["seq"])
    try:
        envelope = envelope_from_mapping(json.loads(row["envelope"]))
    except (EnvelopeError, ValueError) as exc:
        raise StoredEventError(mode, seq, str(exc)) from exc
    deliveries = row["deliveries"]
    return TimelineRecord(
        mode=Mode(mode),
        seq=seq,
        envelope=envelope,
        proposal_id=row["proposal_id"],
        deliveries=decode_deliveries(deliveries) if deliveries is not None else None,
    )
