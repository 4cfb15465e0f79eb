"""Rebuild one operation's projection from its timeline stream into an empty schema.

The stream is the log of record. A rebuild drops and recreates a schema of its own, applies
every migration into it, reads the operation's timeline subjects from the stream's first
message to the stream's last sequence at start (an ephemeral consumer, deleted afterwards),
decodes each message as the projector does (`decode_messages`) and appends pages through the
same store functions (`store.append`: events, unreadable notes, fold, checkpoint). The
schema then holds the operation's rows exactly as the live projection does, which
`digest.projection_digest` of both proves.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass
from typing import Final

import asyncpg
import nats.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts import subjects
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from services.timeline import store
from services.timeline.domain import BatchPlan, Decoded, TimelineRecord
from services.timeline.errors import TimelineError
from services.timeline.handlers import decode_messages
from services.timeline.migrations import migrate

log = structlog.get_logger("services.timeline")

#: Messages per fetch from the stream, and per transaction.
PAGE_SIZE: Final = 2000
#: Longest wait for a fetch while the consumer still has messages for us.
FETCH_TIMEOUT_S: Final = 10.0
#: Fetches in a row that may time out before the rebuild gives up.
FETCH_ATTEMPTS: Final = 3
#: The server deletes a reading consumer left behind (a rebuild that crashed) after this.
INACTIVE_THRESHOLD_S: Final = 60.0
#: The comment that marks a schema as a rebuild's, the only kind a rebuild drops.
SCHEMA_MARK: Final = "interforces timeline rebuild"
_Page = list[Msg]
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_RESERVED: Final = frozenset({"public", "information_schema"})


class RebuildError(TimelineError):
    """A rebuild could not run to its end (the schema is then incomplete)."""


class InvalidSchemaError(RebuildError):
    """A schema name a rebuild must not use."""

    def __init__(self, schema: str, reason: str) -> None:
        super().__init__(f"schema {schema!r}: {reason}")
        self.schema = schema
        self.reason = reason


class OperationNotFoundError(RebuildError):
    """The operation is neither in the database nor in either timeline stream."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"operation {operation!r} is on no timeline (live or exercise)")
        self.operation = operation


class AmbiguousOperationError(RebuildError):
    """The operation id exists in both modes: the mode must be given."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"operation {operation!r} is in both modes: give the mode")
        self.operation = operation


class StreamReadError(RebuildError):
    """The stream stopped delivering before the rebuild reached its end."""


# --- schema --------------------------------------------------------------------------------


def check_identifier(schema: str) -> str:
    """`schema` if it is a plain lowercase PostgreSQL identifier (raises otherwise)."""
    if not _IDENTIFIER.fullmatch(schema):
        raise InvalidSchemaError(schema, "use 1 to 63 characters among a-z, 0-9 and _")
    return schema


def check_rebuild_schema(schema: str) -> str:
    """`schema` if a rebuild may drop and recreate it: never `public` nor a system schema."""
    check_identifier(schema)
    if schema in _RESERVED or schema.startswith("pg_"):
        raise InvalidSchemaError(schema, "a rebuild never writes into this schema")
    return schema


def default_schema(operation: str) -> str:
    """`rebuild_<operation>` with dashes as underscores (shortened with a hash if too long)."""
    name = f"rebuild_{operation.replace('-', '_')}"
    if len(name) > 63:
        name = f"{name[:54]}_{hashlib.sha256(operation.encode()).hexdigest()[:8]}"
    return check_rebuild_schema(name)


def rebuild_consumer(mode: Mode, operation: str) -> str:
    """The checkpoint name of a rebuild (never the live projector's)."""
    return f"timeline-rebuild-{mode.value}-{operation}"


async def connect(
    database_url: str, schema: str | None = None
) -> asyncpg.Connection[asyncpg.Record]:
    """A connection whose tables are those of `schema` (the database's default when None)."""
    settings = {"search_path": check_identifier(schema)} if schema is not None else None
    return await asyncpg.connect(database_url, server_settings=settings)


async def _prepare_schema(
    conn: asyncpg.Connection[asyncpg.Record], schema: str, mode: Mode, operation: str
) -> None:
    """Drop the schema if an earlier rebuild made it, create it empty, migrate it.

    `conn` must search `schema` (see `connect`). A schema not made by a rebuild is refused."""
    check_rebuild_schema(schema)
    mark = await conn.fetchval(
        "SELECT coalesce(obj_description(oid, 'pg_namespace'), '') "
        "FROM pg_namespace WHERE nspname = $1",
        schema,
    )
    if mark is not None and not str(mark).startswith(SCHEMA_MARK):
        raise InvalidSchemaError(schema, "it exists and was not made by a rebuild")
    async with conn.transaction():
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        mark_text = f"{SCHEMA_MARK} of {mode.value} {operation}".replace("'", "''")
        await conn.execute(f"COMMENT ON SCHEMA \"{schema}\" IS '{mark_text}'")
    await migrate(conn)


# --- the mode of an operation --------------------------------------------------------------


async def mode_in_database(database_url: str, operation: str) -> Mode | None:
    """The mode of the operation's records in the (live) database, if it has any."""
    conn = await asyncpg.connect(database_url)
    try:
        if not await conn.fetchval(f"SELECT to_regclass('{store.EVENTS_TABLE}') IS NOT NULL"):
            return None
        rows = await conn.fetch(
            f"SELECT DISTINCT mode FROM {store.EVENTS_TABLE} WHERE operation = $1",  # noqa: S608
            operation,
        )
    finally:
        await conn.close()
    return _one_mode(operation, [Mode(r["mode"]) for r in rows])


async def mode_in_streams(js: JetStreamContext, operation: str) -> Mode | None:
    """The mode whose timeline stream holds messages of the operation, if one does."""
    found: list[Mode] = []
    for mode in Mode:
        stream = subjects.stream_name(mode, StreamRole.TIMELINE)
        try:
            info = await js.stream_info(
                stream, subjects_filter=subjects.timeline_of(mode, operation)
            )
        except NotFoundError:
            continue
        if info.state.subjects:
            found.append(mode)
    return _one_mode(operation, found)


def _one_mode(operation: str, modes: Sequence[Mode]) -> Mode | None:
    if len(modes) > 1:
        raise AmbiguousOperationError(operation)
    return modes[0] if modes else None


async def find_mode(js: JetStreamContext, database_url: str, operation: str) -> Mode:
    """The operation's mode: from the live database, else from the timeline streams."""
    mode = await mode_in_database(database_url, operation) or await mode_in_streams(js, operation)
    if mode is None:
        raise OperationNotFoundError(operation)
    return mode


# --- reading the stream --------------------------------------------------------------------


async def read_operation(
    js: JetStreamContext, mode: Mode, operation: str, page_size: int = PAGE_SIZE
) -> AsyncGenerator[list[Msg], None]:
    """The operation's timeline messages in stream order, in pages, up to the stream's last
    sequence when called (later messages belong to the next rebuild).

    The consumer is ephemeral, unacknowledged and in memory; each page is checked against the
    consumer sequence, and a lost message makes a new consumer resume after the last one
    received. Every consumer is deleted when done (close the iterator: `aclosing`)."""
    stream = subjects.stream_name(mode, StreamRole.TIMELINE)
    subject = subjects.timeline_of(mode, operation)
    end = (await js.stream_info(stream)).state.last_seq
    after, done = 0, end == 0
    while not done:
        name = f"timeline-rebuild-{secrets.token_hex(8)}"
        info = await js.add_consumer(
            stream,
            ConsumerConfig(
                name=name,
                filter_subject=subject,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=after + 1,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=INACTIVE_THRESHOLD_S,
                mem_storage=True,
                num_replicas=1,
            ),
        )
        sub = await js.pull_subscribe_bind(consumer=name, stream=stream)
        try:
            done = not info.num_pending
            expected, stalls = 1, 0
            while not done:
                try:
                    messages = await sub.fetch(page_size, timeout=FETCH_TIMEOUT_S)
                except nats.errors.TimeoutError as exc:
                    stalls += 1
                    if stalls >= FETCH_ATTEMPTS:
                        raise StreamReadError(
                            f"{stream} stopped delivering {subject} after sequence {after}"
                        ) from exc
                    continue
                stalls = 0
                page: list[Msg] = []
                lost = False
                for message in messages:
                    meta = message.metadata
                    if meta.sequence.consumer < expected:
                        continue  # a late copy of what an earlier fetch already had
                    if meta.sequence.consumer > expected:
                        lost = True  # resume after the last message received
                        break
                    expected += 1
                    if meta.sequence.stream > end:
                        done = True
                        break
                    page.append(message)
                    after = meta.sequence.stream
                    if after == end or meta.num_pending == 0:
                        done = True
                        break
                if page:
                    yield page
                if lost:
                    log.warning("timeline.rebuild_resumed", mode=mode.value, after=after)
                    break
        finally:
            # Left behind if the server is gone: it expires after its inactive threshold.
            with suppress(nats.errors.Error):
                await sub.unsubscribe()
                await js.delete_consumer(stream, name)


async def _read_ahead(
    pages: AsyncGenerator[_Page, None], mode: Mode
) -> AsyncGenerator[BatchPlan, None]:
    """The pages decoded and planned, the next one already being fetched and decoded while
    the caller writes the current one (decoding runs while the writer awaits PostgreSQL);
    closing this closes `pages`."""

    async def planned() -> BatchPlan | None:
        page = await anext(pages, None)
        return None if page is None else plan_page(decode_messages(mode, page))

    upcoming = asyncio.ensure_future(planned())
    try:
        while (plan := await upcoming) is not None:
            upcoming = asyncio.ensure_future(planned())
            yield plan
    finally:
        upcoming.cancel()
        await asyncio.wait({upcoming})  # the reader's own cleanup runs; nothing is raised
        if not upcoming.cancelled():
            upcoming.exception()  # retrieved: what failed first is what propagates
        await pages.aclose()


def plan_page(decoded: Sequence[Decoded]) -> BatchPlan:
    """A page read from an operation's subjects, planned for `store.append`.

    The operation's sequences are a subsequence of the stream's, never contiguous, so the
    live projector's gap rule does not apply: the reader guarantees order and completeness."""
    ordered = sorted(decoded, key=lambda d: d.seq)
    return BatchPlan(
        records=tuple(d for d in ordered if isinstance(d, TimelineRecord)),
        unreadable=tuple(d for d in ordered if not isinstance(d, TimelineRecord)),
        stale=(),
        held=(),
        checkpoint=ordered[-1].seq if ordered else 0,
    )


# --- the rebuild ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RebuildResult:
    """What a rebuild read and wrote, and how fast."""

    mode: Mode
    operation: str
    schema: str
    records: int
    duplicates: int
    unreadable: int
    last_seq: int
    seconds: float

    @property
    def messages(self) -> int:
        """Messages read from the stream."""
        return self.records + self.unreadable

    @property
    def events_per_s(self) -> float:
        """Messages read and appended per second."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0


async def rebuild_from_stream(
    source: Client | JetStreamContext,
    database_url: str,
    *,
    mode: Mode,
    operation: str,
    schema: str | None = None,
    page_size: int = PAGE_SIZE,
) -> RebuildResult:
    """Replay an operation's timeline stream into an empty schema (default
    `rebuild_<operation>`); the database's other schemas are never written."""
    js = source.jetstream() if isinstance(source, Client) else source
    subjects.timeline_of(mode, operation)  # an operation id is a subject token, or refused
    target = check_rebuild_schema(schema) if schema is not None else default_schema(operation)
    consumer = rebuild_consumer(mode, operation)
    started = time.perf_counter()
    records = duplicates = unreadable = last_seq = 0
    conn = await connect(database_url, target)
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", target):
            raise RebuildError(f"another rebuild is writing schema {target!r}")
        await _prepare_schema(conn, target, mode, operation)
        reading = _read_ahead(read_operation(js, mode, operation, page_size), mode)
        async with aclosing(reading) as plans:
            async for plan in plans:
                async with conn.transaction():
                    await store.claim_checkpoint(conn, consumer)
                    appended = await store.append(conn, consumer, plan)
                records += len(plan.records)
                duplicates += len(appended.duplicates)
                unreadable += len(plan.unreadable)
                last_seq = plan.checkpoint
    finally:
        await conn.close()  # the advisory lock goes with the session
    return RebuildResult(
        mode=mode,
        operation=operation,
        schema=target,
        records=records,
        duplicates=duplicates,
        unreadable=unreadable,
        last_seq=last_seq,
        seconds=time.perf_counter() - started,
    )
