"""Replay and projection writes against their raw ceilings.

Replay: a timeline stream of N records, as the coordinator appends them, is rebuilt into an
empty schema by `services.timeline.rebuild.rebuild_from_stream`, against the raw ordered read
of the same stream (nothing decoded). Projection: the same records appended page by page by
`services.timeline.store.append` (events, projections, checkpoint, one transaction a page),
against raw asyncpg COPY of the very rows it wrote into twin tables without keys.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Final

import asyncpg
from nats.js import JetStreamContext

from contracts import subjects
from contracts.cloudevents import to_structured
from contracts.routing import (
    CLOUDEVENTS_JSON,
    CONTENT_TYPE_HEADER,
    DELIVERIES_HEADER,
    DIGEST_HEADER,
    MSG_ID_HEADER,
    PROPOSAL_HEADER,
    encode_deliveries,
)
from contracts.subjects import StreamRole
from services.coordinator.domain import Coordinator, Incoming
from services.coordinator.perimeter import compile_charter
from services.timeline import store
from services.timeline.domain import (
    AssignmentRow,
    IncidentRow,
    PerimeterRow,
    Projection,
    RejectionRow,
    Row,
    TimelineRecord,
    UnitRow,
    changes,
    columns,
    decode_record,
    fold,
    values,
)
from services.timeline.migrations import migrate
from services.timeline.rebuild import plan_page, rebuild_from_stream
from simulations.bench.load import Message, Scheduled, proposal_message
from simulations.bench.paths import MODE, Workspace
from simulations.bench.traffic import WINDOW, raw_ordered_read

PAGE: Final = 2000


def timeline_messages(workspace: Workspace, events: Sequence[Scheduled]) -> list[Message]:
    """The records the coordinator appends for these proposals, with its headers."""
    coordinator = Coordinator({workspace.charter.operation.id: compile_charter(workspace.charter)})
    out = []
    for event in events:
        proposal = proposal_message(event.proposal)
        outcome = coordinator.decide(
            MODE,
            Incoming(
                proposal.subject,
                proposal.headers,
                proposal.body,
                event.proposal.received_at.astimezone(UTC),
            ),
        )
        headers = {
            MSG_ID_HEADER: outcome.record.id,
            PROPOSAL_HEADER: outcome.proposal_id,
            DELIVERIES_HEADER: encode_deliveries(outcome.deliveries),
            CONTENT_TYPE_HEADER: CLOUDEVENTS_JSON,
        }
        if outcome.digest is not None:
            headers[DIGEST_HEADER] = outcome.digest
        out.append(Message(outcome.timeline_subject, headers, to_structured(outcome.record)))
    return out


def _fresh_id(index: int) -> str:
    return str(uuid.UUID(int=index + 1, version=4))


def repeated(pool: Sequence[Message], total: int) -> Iterator[Message]:
    """`total` records cycling through the pool, each under an id of its own (the id's
    bytes replaced in the body and the headers), so that none is a duplicate."""
    for index in range(total):
        message = pool[index % len(pool)]
        if index < len(pool):
            yield message
            continue
        old = message.headers[MSG_ID_HEADER]
        new = _fresh_id(index)
        headers = {
            k: (v.replace(old, new) if isinstance(v, str) else v)
            for k, v in message.headers.items()
            if k != DIGEST_HEADER
        }
        yield Message(message.subject, headers, message.body.replace(old.encode(), new.encode()))


async def append_stream(js: JetStreamContext, records: Iterator[Message]) -> tuple[int, float]:
    """Append records to the timeline stream; (records, records per second)."""
    stream = subjects.stream_name(MODE, StreamRole.TIMELINE)
    count = 0
    pending: list[asyncio.Future[Any]] = []
    started = time.perf_counter()
    for message in records:
        pending.append(
            await js.publish_async(
                message.subject, message.body, headers=dict(message.headers), stream=stream
            )
        )
        count += 1
        if len(pending) >= WINDOW:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return count, count / (time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Rebuild and raw read of the same stream."""

    records: int
    append_eps: float
    raw_read_eps: float
    replay_eps: float
    replay_s: float


async def replay(
    js: JetStreamContext,
    database_url: str,
    workspace: Workspace,
    pool: Sequence[Message],
    total: int,
) -> ReplayResult:
    """Append `total` records, read them raw, then rebuild the operation from them."""
    count, append_eps = await append_stream(js, repeated(pool, total))
    stream = subjects.stream_name(MODE, StreamRole.TIMELINE)
    subject = subjects.timeline_of(MODE, workspace.operation)
    raw = await raw_ordered_read(js, stream, subject, count)
    result = await rebuild_from_stream(
        js, database_url, mode=MODE, operation=workspace.operation, schema="bench_rebuild"
    )
    return ReplayResult(count, append_eps, raw, result.events_per_s, result.seconds)


# --- projection writes ---------------------------------------------------------------------


def decoded_records(pool: Sequence[Message], total: int) -> list[TimelineRecord]:
    """`total` records as the projector decodes them, at sequences 1…total."""
    records = []
    for seq, message in enumerate(repeated(pool, total), start=1):
        decoded = decode_record(MODE, seq, message.subject, message.headers, message.body)
        if isinstance(decoded, TimelineRecord):
            records.append(decoded)
    return records


def _pages(records: Sequence[TimelineRecord]) -> list[Sequence[TimelineRecord]]:
    return [records[i : i + PAGE] for i in range(0, len(records), PAGE)]


@dataclass(frozen=True, slots=True)
class ProjectionResult:
    """Rows written per second by the projector's store and by raw COPY of the same rows."""

    rows: int
    projection_rows_s: float
    raw_copy_rows_s: float


_ROW_TYPES: Final[dict[str, type[Row]]] = {
    store.UNITS_TABLE: UnitRow,
    store.INCIDENTS_TABLE: IncidentRow,
    store.ASSIGNMENTS_TABLE: AssignmentRow,
    store.PERIMETERS_TABLE: PerimeterRow,
    store.REJECTIONS_TABLE: RejectionRow,
}
_TWINS: Final = (
    (store.UNITS_TABLE, "units"),
    (store.INCIDENTS_TABLE, "incidents"),
    (store.ASSIGNMENTS_TABLE, "assignments"),
    (store.PERIMETERS_TABLE, "perimeters"),
    (store.REJECTIONS_TABLE, "rejections"),
)


def _rows_by_page(records: Sequence[TimelineRecord]) -> list[dict[str, list[tuple[Any, ...]]]]:
    """The rows the projector writes for each page: its events, then what the fold changed."""
    state = Projection()
    out = []
    for page in _pages(records):
        after = fold(state, page)
        delta = changes(state, after)
        state = after
        rows: dict[str, list[tuple[Any, ...]]] = {
            store.EVENTS_TABLE: [store.event_values(r) for r in page]
        }
        for table, attribute in _TWINS:
            rows[table] = [values(row) for row in getattr(delta, attribute).values()]
        out.append(rows)
    return out


async def projection(database_url: str, records: Sequence[TimelineRecord]) -> ProjectionResult:
    """Append the records page by page through the store, then COPY the same rows raw."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        written = 0
        started = time.perf_counter()
        for page in _pages(records):
            plan = plan_page(page)
            async with conn.transaction():
                await store.claim_checkpoint(conn, "bench-projection")
                appended = await store.append(conn, "bench-projection", plan)
            written += len(appended.inserted) + appended.rows_written
        ours = written / (time.perf_counter() - started)
        pages = _rows_by_page(records)
        await conn.execute("CREATE SCHEMA raw_copy")
        for table in (store.EVENTS_TABLE, *(t for t, _ in _TWINS)):
            await conn.execute(
                f"CREATE TABLE raw_copy.{table} (LIKE public.{table} INCLUDING DEFAULTS)"
            )
        copied = 0
        started = time.perf_counter()
        for rows in pages:
            async with conn.transaction():
                for table, table_rows in rows.items():
                    if table_rows:
                        await conn.copy_records_to_table(
                            table,
                            records=table_rows,
                            columns=_columns(table),
                            schema_name="raw_copy",
                        )
                        copied += len(table_rows)
        raw = copied / (time.perf_counter() - started)
    finally:
        await conn.close()
    return ProjectionResult(written, ours, raw)


def _columns(table: str) -> Sequence[str]:
    if table == store.EVENTS_TABLE:
        return store.EVENT_COLUMNS
    return columns(_ROW_TYPES[table])


class Databases:
    """Fresh databases of one run on a PostgreSQL server, named `<prefix>_<name>`."""

    def __init__(self, postgres_url: str, prefix: str) -> None:
        self.postgres_url = postgres_url
        self.prefix = prefix
        self.names: list[str] = []

    def _url(self, name: str) -> str:
        base, _, query = self.postgres_url.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")

    async def new(self, name: str) -> str:
        """A new, empty database; its URL."""
        full = f"{self.prefix}_{name}"
        admin = await asyncpg.connect(self.postgres_url)
        try:
            await admin.execute(f'CREATE DATABASE "{full}"')
        finally:
            await admin.close()
        self.names.append(full)
        return self._url(full)

    async def drop(self) -> None:
        """Drop every database made."""
        admin = await asyncpg.connect(self.postgres_url)
        try:
            for name in self.names:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        self.names.clear()
