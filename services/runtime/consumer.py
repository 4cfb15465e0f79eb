"""A durable JetStream pull consumer that hands ordered batches to a handler.

Why not FastStream's batch pull subscriber: when nats-py's `fetch` ends in a plain
`asyncio.TimeoutError` (its deadline ran out between two requests), FastStream 0.7 lets it
escape its loop (it only catches nats' own `TimeoutError`) and drops the messages it had
already gathered for the batch; they come back only after `ack_wait`, behind later ones.
The coordinator decides in order and the projector folds in order: both need every batch
whole and in stream order. This loop makes one `fetch` per batch, acknowledges a batch only
after its handler returns, hands it back (`nak`) when the handler fails, and never dies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import structlog
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind, Tracer

log = structlog.get_logger("interforces.consumer")

#: Handles one batch; it may publish through the consumer's JetStream context.
BatchHandler = Callable[[JetStreamContext, Sequence[Msg]], Awaitable[None]]


class BatchConsumer:
    """One durable pull consumer, one batch at a time, in stream order."""

    def __init__(
        self,
        *,
        name: str,
        stream: str,
        subject: str,
        config: ConsumerConfig,
        handler: BatchHandler,
        batch_size: int,
        batch_timeout_s: float,
        retry_delay_s: float = 0.0,
        tracer: Tracer | None = None,
    ) -> None:
        self.name = name
        self.stream = stream
        self.subject = subject
        self.config = config
        self.handler = handler
        self.batch_size = batch_size
        self.batch_timeout_s = batch_timeout_s
        self.retry_delay_s = retry_delay_s
        self.tracer = tracer or trace.get_tracer("interforces.consumer")
        self.batches = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._stopping = asyncio.Event()

    def start(self, js: JetStreamContext) -> None:
        """Start consuming in the background."""
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(js), name=f"consumer:{self.name}")

    async def stop(self) -> None:
        """Stop after the batch in hand (its acknowledgements are sent or handed back)."""
        self._stopping.set()
        if self._task is not None:
            task, self._task = self._task, None
            if task.done():  # it died (a bug, or cancelled from outside): nothing to wait for
                if not task.cancelled() and task.exception() is not None:
                    log.error("consumer.died", consumer=self.name, error=repr(task.exception()))
                return
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=30.0)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # we are being cancelled ourselves
                return  # the consumer task was cancelled from outside while we waited
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run(self, js: JetStreamContext) -> None:
        subscription: JetStreamContext.PullSubscription | None = None
        try:
            await self._loop(js, subscription)
        finally:
            # A pull subscription left open would hold the connection's drain.
            if self._subscription is not None:
                with contextlib.suppress(NatsError):
                    await self._subscription.unsubscribe()
                self._subscription = None

    async def _loop(
        self, js: JetStreamContext, subscription: JetStreamContext.PullSubscription | None
    ) -> None:
        while not self._stopping.is_set():
            try:
                if subscription is None:
                    subscription = await js.pull_subscribe(
                        self.subject, durable=self.name, stream=self.stream, config=self.config
                    )
                    self._subscription = subscription
                try:
                    messages = await subscription.fetch(
                        self.batch_size, timeout=self.batch_timeout_s
                    )
                except TimeoutError:  # nats' own TimeoutError derives from it too
                    continue
                if messages:
                    await self._handle(js, messages)
            except asyncio.CancelledError:
                raise
            except (NatsError, OSError) as exc:  # broker unreachable: wait, then again
                log.warning("consumer.fetch_failed", consumer=self.name, error=repr(exc))
                subscription = None
                await self._pause(1.0)
            except Exception:  # a bug of ours must not stop the consumer for good
                log.exception("consumer.loop_failed", consumer=self.name)
                await self._pause(1.0)

    async def _handle(self, js: JetStreamContext, messages: Sequence[Msg]) -> None:
        first = propagate.extract(dict(messages[0].headers or {}))
        links = [
            Link(span_context)
            for m in messages[1:64]
            if (span_context := trace.get_current_span(
                propagate.extract(dict(m.headers or {}))
            ).get_span_context()).is_valid
        ]  # fmt: skip
        token = otel_context.attach(first)
        try:
            with self.tracer.start_as_current_span(
                f"{self.name} process",
                kind=SpanKind.CONSUMER,
                links=links,
                attributes={
                    "messaging.system": "nats",
                    "messaging.destination.name": self.stream,
                    "messaging.batch.message_count": len(messages),
                },
            ):
                await self.handler(js, messages)
        except Exception:
            self.failures += 1
            log.exception("consumer.batch_failed", consumer=self.name, size=len(messages))
            for message in messages:
                if not message._ackd:
                    with contextlib.suppress(NatsError):
                        await message.nak(delay=self.retry_delay_s or None)
            await self._pause(self.retry_delay_s)
            return
        finally:
            otel_context.detach(token)
        self.batches += 1
        for message in messages:
            if not message._ackd:
                await message.ack()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)


class ConsumerGroup:
    """A service's batch consumers, started once its broker is connected and stopped before
    it disconnects (FastStream `after_startup` / `on_shutdown` hooks)."""

    def __init__(self, broker: NatsBroker, consumers: Sequence[BatchConsumer]) -> None:
        self.broker = broker
        self.consumers = tuple(consumers)

    @property
    def failures(self) -> int:
        """Batches handed back since start, over all consumers."""
        return sum(c.failures for c in self.consumers)

    async def start(self) -> None:
        """Start every consumer on the broker's JetStream context."""
        js = self.broker.config.connection_state.stream
        for consumer in self.consumers:
            consumer.start(js)

    async def stop(self) -> None:
        """Stop every consumer (each finishes its batch in hand)."""
        for consumer in self.consumers:
            await consumer.stop()
