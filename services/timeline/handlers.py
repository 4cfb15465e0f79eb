"""The projector's shell: a batch of timeline messages in, one PostgreSQL transaction out.

`project_batch` decodes, plans against the checkpoint and appends in one transaction.
`Projector` owns the connection pool and the counters, and answers the broker: what is
projected (or already was) is acknowledged, what waits behind a gap or meets a store failure
is handed back for redelivery; the consumer loop itself never fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats
import structlog
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from contracts import subjects
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from services.timeline import store
from services.timeline.domain import BatchPlan, Decoded, decode_record, plan_batch
from services.timeline.migrations import migrate
from services.timeline.settings import TimelineSettings

log = structlog.get_logger("services.timeline")

#: Failures of the database or the way to it: expected now and then, retried quietly.
_STORE_UNAVAILABLE = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def consumer_name(mode: Mode) -> str:
    """The durable consumer projecting a mode's timeline (also its checkpoint's name)."""
    return f"timeline-projector-{mode.value}"


def decode_messages(mode: Mode, messages: Sequence[Msg]) -> list[Decoded]:
    """Each JetStream message as a record or an unreadable note, at its stream sequence."""
    return [
        decode_record(mode, m.metadata.sequence.stream, m.subject, m.headers or {}, m.data)
        for m in messages
    ]


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What became of a batch."""

    plan: BatchPlan
    appended: store.Appended | None


async def project_batch(
    pool: asyncpg.Pool[asyncpg.Record], mode: Mode, decoded: Sequence[Decoded]
) -> BatchResult:
    """Append a decoded batch in one transaction, checkpoint included."""
    consumer = consumer_name(mode)
    async with pool.acquire() as conn, conn.transaction():
        checkpoint = await store.claim_checkpoint(conn, consumer)
        plan = plan_batch(checkpoint, decoded)
        appended = await store.append(conn, consumer, plan) if plan.advances else None
    return BatchResult(plan, appended)


@dataclass(slots=True)
class ModeCounters:
    """What one mode's projector has done since start."""

    batches: int = 0
    projected: int = 0
    duplicates: int = 0
    unreadable: int = 0
    stale: int = 0
    held: int = 0
    failures: int = 0
    checkpoint: int = 0


@dataclass(slots=True)
class Counters:
    """Counters of every mode, for the health answer."""

    modes: dict[Mode, ModeCounters] = field(default_factory=dict)

    def of(self, mode: Mode) -> ModeCounters:
        """The counters of a mode."""
        return self.modes.setdefault(mode, ModeCounters())

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `Health.details`."""
        return {
            mode.value: {name: getattr(c, name) for name in ModeCounters.__slots__}
            for mode, c in self.modes.items()
        }


class Projector:
    """The timeline projector of one process: pool, counters, batch handling."""

    def __init__(self, settings: TimelineSettings) -> None:
        self.settings = settings
        self.counters = Counters()
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        """The connection pool (after `open`)."""
        if self._pool is None:
            raise RuntimeError("the projector is not open")
        return self._pool

    async def open(self) -> None:
        """Connect, migrate, and make each durable consumer start from the checkpoint."""
        url = self.settings.require_database_url()
        self._pool = await store.open_pool(url, self.settings.timeline_pool_max_size)
        async with self._pool.acquire() as conn:
            applied = await migrate(conn)
        if applied:
            log.info("timeline.migrated", migrations=[m.filename for m in applied])
        checkpoints = await reset_consumers_ahead(
            self.settings.nats_url, self._pool, self.settings.timeline_modes
        )
        for mode, checkpoint in checkpoints.items():
            self.counters.of(mode).checkpoint = checkpoint

    async def close(self) -> None:
        """Close the pool (waits for a batch in flight)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def handle(self, mode: Mode, messages: Sequence[Msg]) -> None:
        """Project a batch; hand back for redelivery what cannot be projected now."""
        if not messages:
            return
        counters = self.counters.of(mode)
        counters.batches += 1
        decoded = decode_messages(mode, messages)
        where = {"first_seq": min(d.seq for d in decoded), "last_seq": max(d.seq for d in decoded)}
        try:
            result = await project_batch(self.pool, mode, decoded)
        except Exception as exc:
            # Nothing was written (one transaction): hand the batch back, keep consuming.
            counters.failures += 1
            if isinstance(exc, _STORE_UNAVAILABLE):
                log.warning("timeline.batch_failed", mode=mode.value, **where, error=repr(exc))
            else:  # a fault of ours: say so loudly, and still never drop the batch
                log.exception("timeline.batch_failed", mode=mode.value, **where)
            await _hand_back(messages, self.settings.timeline_retry_delay_s)
            return
        plan = result.plan
        counters.stale += len(plan.stale)
        counters.checkpoint = max(counters.checkpoint, plan.checkpoint)
        if plan.held:
            counters.held += len(plan.held)
            held = set(plan.held)
            log.info(
                "timeline.gap",
                mode=mode.value,
                checkpoint=plan.checkpoint,
                next_seq=min(held),
                held=len(held),
            )
            await _hand_back(
                [m for m, d in zip(messages, decoded, strict=True) if d.seq in held],
                self.settings.timeline_retry_delay_s,
            )
        for note in plan.unreadable:
            counters.unreadable += 1
            log.warning(
                "timeline.unreadable",
                mode=mode.value,
                seq=note.seq,
                operation=note.operation,
                event_id=note.msg_id,
                reason=note.reason,
                size=note.size,
            )
        if result.appended is not None:
            _log_appended(mode, result.appended, counters)


def _log_appended(mode: Mode, appended: store.Appended, counters: ModeCounters) -> None:
    counters.projected += len(appended.inserted)
    counters.duplicates += len(appended.duplicates)
    for record in appended.inserted:
        log.debug(
            "timeline.projected",
            mode=mode.value,
            seq=record.seq,
            operation=record.envelope.operation,
            event_id=record.event_id,
            type=record.envelope.type,
        )
    for record in appended.duplicates:
        log.info(
            "timeline.duplicate_event",
            mode=mode.value,
            seq=record.seq,
            operation=record.envelope.operation,
            event_id=record.event_id,
        )


async def _hand_back(messages: Sequence[Msg], delay: float) -> None:
    """Negative-acknowledge with a delay: redelivered later, never lost (the broker's own
    acknowledgement then skips these messages)."""
    for message in messages:
        await message.nak(delay=delay)


async def reset_consumers_ahead(
    nats_url: str, pool: asyncpg.Pool[asyncpg.Record], modes: Sequence[Mode]
) -> dict[Mode, int]:
    """Delete a durable consumer that acknowledged past the database's checkpoint; returns
    each mode's checkpoint.

    The database is the truth of what is projected. A consumer ahead of it (a database
    restored from a backup, or emptied) would never deliver the missing records again;
    recreated, it delivers the stream from the start and the checkpoint skips the rest.
    The consumer is read before the checkpoint: acknowledgements follow commits, so a
    projector running elsewhere meanwhile cannot make the consumer look ahead."""
    servers = [url.strip() for url in nats_url.split(",")]
    checkpoints: dict[Mode, int] = {}
    nc = await nats.connect(servers, name="interforces-timeline-setup")
    try:
        js = nc.jetstream()
        for mode in modes:
            stream, durable = subjects.stream_name(mode, StreamRole.TIMELINE), consumer_name(mode)
            try:
                info = await js.consumer_info(stream, durable)
            except NotFoundError:
                info = None
            async with pool.acquire() as conn:
                checkpoints[mode] = await store.read_checkpoint(conn, durable)
            acked = info.ack_floor.stream_seq if info is not None and info.ack_floor else 0
            if acked > checkpoints[mode]:
                log.warning(
                    "timeline.consumer_reset",
                    mode=mode.value,
                    acknowledged=acked,
                    checkpoint=checkpoints[mode],
                )
                await js.delete_consumer(stream, durable)
    finally:
        await nc.close()
    return checkpoints
