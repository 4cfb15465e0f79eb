"""One active instance among several: a lease held in a JetStream key-value bucket.

Several coordinator (or projector) processes may run for the same mode; only the one holding
the mode's lease reads the shared durable consumer, the others stand by. The holder renews
the lease every `ttl / 3`; the bucket's TTL removes a lease nobody renews, so a standby takes
over within `ttl` of a holder's death (at once when the holder stops cleanly and releases
it). A holder that cannot renew stops consuming before its lease can have expired.

The bucket is declared with the streams (`infra/streams.py`), never by a service.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence

import structlog
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from infra.streams import LEASE_BUCKET, LEASE_TTL_S
from services.runtime.consumer import BatchConsumer

log = structlog.get_logger("lease")

Callback = Callable[[], Awaitable[None]]


def holder_id() -> str:
    """This process, as a lease names its holder."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease:
    """Holds `key` in the lease bucket while it can, calling `on_acquired` when it becomes
    the active instance and `on_lost` when it stops being one."""

    def __init__(
        self,
        key: str,
        *,
        on_acquired: Callback,
        on_lost: Callback,
        holder: str | None = None,
        ttl_s: float = LEASE_TTL_S,
    ) -> None:
        self.key = key
        self.holder = holder or holder_id()
        self.ttl_s = ttl_s
        self._on_acquired, self._on_lost = on_acquired, on_lost
        self._revision: int | None = None
        self._task: asyncio.Task[None] | None = None
        self.acquisitions = 0

    @property
    def held(self) -> bool:
        """Whether this instance is the active one."""
        return self._revision is not None

    def start(self, js: JetStreamContext) -> None:
        """Compete for the lease in the background."""
        self._task = asyncio.create_task(self._run(js), name=f"lease:{self.key}")

    async def stop(self) -> None:
        """Stop competing; if held, stop the work (`on_lost`) and release the lease so a
        standby takes over at once."""
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, js: JetStreamContext) -> None:
        kv: KeyValue | None = None
        try:
            while True:
                try:
                    kv = kv or await js.key_value(LEASE_BUCKET)
                    await self._step(kv)
                except (NatsError, OSError, TimeoutError) as exc:
                    log.warning("lease.unreachable", key=self.key, error=type(exc).__name__)
                    await self._lose("unreachable")
                await asyncio.sleep(self.ttl_s / 3)
        finally:
            if self.held:
                await self._lose("stopping")
                if kv is not None:
                    with contextlib.suppress(NatsError, OSError, TimeoutError):
                        await kv.delete(self.key)

    async def _step(self, kv: KeyValue) -> None:
        value = self.holder.encode()
        if self._revision is not None:
            try:
                self._revision = await kv.update(self.key, value, last=self._revision)
            except KeyWrongLastSequenceError:
                await self._lose("taken")
            return
        try:
            self._revision = await kv.create(self.key, value)
        except KeyWrongLastSequenceError:
            return  # another instance holds it: stand by
        self.acquisitions += 1
        log.info("lease.acquired", key=self.key, holder=self.holder)
        try:
            await self._on_acquired()
        except Exception:
            log.exception("lease.start_failed", key=self.key)
            await self._lose("start_failed")
            with contextlib.suppress(NatsError, OSError, TimeoutError):
                await kv.delete(self.key)

    async def _lose(self, why: str) -> None:
        if self._revision is None:
            return
        self._revision = None
        log.warning("lease.lost", key=self.key, holder=self.holder, why=why)
        await self._on_lost()


class LeasedGroup:
    """A service's batch consumers, each read only while this instance holds its lease
    (named after the durable consumer): any number of instances may run, one reads each
    consumer. Same hooks as `ConsumerGroup` (FastStream `after_startup` / `on_shutdown`).

    `on_acquired[name]` runs before a consumer starts on this instance — the coordinator
    folds the timeline again there, since another instance may have decided meanwhile."""

    def __init__(
        self,
        broker: NatsBroker,
        consumers: Sequence[BatchConsumer],
        on_acquired: Mapping[str, Callable[[], None]] | None = None,
    ) -> None:
        self.broker = broker
        self.consumers = tuple(consumers)
        self._on_acquired = dict(on_acquired or {})
        self.leases: list[Lease] = []

    @property
    def failures(self) -> int:
        """Batches handed back since start, over all consumers."""
        return sum(c.failures for c in self.consumers)

    @property
    def exhausted(self) -> int:
        """Messages JetStream gave up on, recorded since start, over all consumers."""
        return sum(c.exhausted for c in self.consumers)

    def active(self) -> list[str]:
        """The consumers this instance reads now."""
        return [lease.key for lease in self.leases if lease.held]

    async def start(self) -> None:
        """Compete for every consumer's lease."""
        state = self.broker.config.connection_state
        for consumer in self.consumers:
            lease = Lease(
                consumer.name,
                on_acquired=self._starter(consumer, state.stream, state.connection),
                on_lost=consumer.stop,
            )
            lease.start(state.stream)
            self.leases.append(lease)

    def _starter(self, consumer: BatchConsumer, js: JetStreamContext, nc: Client) -> Callback:
        async def start() -> None:
            before = self._on_acquired.get(consumer.name)
            if before is not None:
                before()
            consumer.start(js, nc)

        return start

    async def stop(self) -> None:
        """Stop every consumer this instance reads (each finishes its batch in hand) and
        release its leases."""
        for lease in self.leases:
            await lease.stop()
        self.leases.clear()
