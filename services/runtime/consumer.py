"""A durable JetStream pull consumer that hands ordered batches to a handler.

Why not FastStream's batch pull subscriber: when nats-py's `fetch` ends in a plain
`asyncio.TimeoutError` (its deadline ran out between two requests), FastStream 0.7 lets it
escape its loop (it only catches nats' own `TimeoutError`) and drops the messages it had
already gathered for the batch; they come back only after `ack_wait`, behind later ones.
The coordinator decides in order and the projector folds in order: both need every batch
whole and in stream order. This loop makes one `fetch` per batch, acknowledges a batch only
after its handler returns, hands it back (`nak`) when the handler fails, and never dies.

Poison messages (a consumer with `isolate=True` and a bounded `max_deliver`): when a batch
fails, its messages are handled again one at a time, so that one message that always fails
holds nothing else back; only the failing ones are handed back, each after a delay that grows
with its deliveries. Once JetStream has delivered a message `max_deliver` times it stops and
publishes a max-deliveries advisory; the consumer listens for it, reads the message back by
its stream sequence and gives it to `on_exhausted`, retried until it succeeds. JetStream has
by then dropped the message from the consumer's pending set (the ack floor passes it with the
next acknowledgement), so there is nothing left to acknowledge.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import APIError, NotFoundError
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind, Tracer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

log = structlog.get_logger("interforces.consumer")

#: Handles one batch; it may publish through the consumer's JetStream context.
BatchHandler = Callable[[JetStreamContext, Sequence[Msg]], Awaitable[None]]

#: Failures of the surroundings rather than of a message (broker, network, timeouts).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (NatsError, OSError, TimeoutError)

#: Subject prefix of JetStream's advisory that a consumer gave up on a message.
MAX_DELIVERIES_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"


def max_deliveries_subject(stream: str, consumer: str) -> str:
    """Where JetStream announces that `consumer` of `stream` gave up on a message."""
    return f"{MAX_DELIVERIES_ADVISORY}.{stream}.{consumer}"


class MaxDeliveries(BaseModel):
    """The fields of a max-deliveries advisory this consumer reads (others are ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    stream: str = Field(min_length=1, description="Stream of the message.")
    consumer: str = Field(min_length=1, description="Consumer that gave up.")
    stream_seq: int = Field(ge=1, description="Stream sequence of the message.")
    deliveries: int = Field(ge=0, description="Deliveries made before giving up.")
    timestamp: AwareDatetime | None = Field(default=None, description="When it gave up.")


@dataclass(frozen=True, slots=True)
class Exhausted:
    """A message JetStream stopped delivering, as far as it could be read back.

    `subject`, `data` and `stored_at` are None when the message could not be read back;
    `problem` then says why (never the message's content).
    """

    stream: str
    consumer: str
    sequence: int
    deliveries: int
    noticed_at: datetime
    subject: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    data: bytes | None = None
    stored_at: datetime | None = None
    problem: str | None = None


#: Records a message JetStream gave up on; raising makes the consumer try again later.
ExhaustedHandler = Callable[[JetStreamContext, Exhausted], Awaitable[None]]


async def read_back(js: JetStreamContext, advisory: MaxDeliveries) -> Exhausted:
    """The message an advisory names, fetched by its stream sequence; what can be known of
    it when the fetch fails (gone from the stream, broker unreachable)."""
    noticed_at = advisory.timestamp or datetime.now(UTC)
    known = Exhausted(
        stream=advisory.stream,
        consumer=advisory.consumer,
        sequence=advisory.stream_seq,
        deliveries=advisory.deliveries,
        noticed_at=noticed_at,
    )
    try:
        raw = await js.get_msg(advisory.stream, advisory.stream_seq)
    except NotFoundError:
        return dataclasses.replace(known, problem="message absent from the stream")
    except Exception as exc:  # record what is known rather than nothing
        return dataclasses.replace(known, problem=f"message not read back: {type(exc).__name__}")
    return dataclasses.replace(
        known,
        subject=raw.subject,
        headers={str(k): str(v) for k, v in (raw.headers or {}).items()},
        data=raw.data or b"",
        stored_at=raw.time,
    )


class BatchConsumer:
    """One durable pull consumer, one batch at a time, in stream order.

    With `isolate`, a failed batch is retried message by message (see the module's
    docstring); `redelivery_delays_s[n - 1]` is the delay before the (n + 1)th delivery of a
    failed message (the last one repeats; `retry_delay_s` when empty). `on_exhausted`
    receives every message JetStream gave up on (the config's `max_deliver`)."""

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
        isolate: bool = False,
        redelivery_delays_s: Sequence[float] = (),
        transient: tuple[type[BaseException], ...] = TRANSIENT_ERRORS,
        on_exhausted: ExhaustedHandler | None = None,
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
        self.isolate = isolate
        self.redelivery_delays_s = tuple(redelivery_delays_s)
        self.transient = transient
        self.on_exhausted = on_exhausted
        self.tracer = tracer or trace.get_tracer("interforces.consumer")
        self.batches = 0
        self.failures = 0
        self.failed_messages = 0
        self.exhausted = 0
        self._task: asyncio.Task[None] | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._advisories: Subscription | None = None
        self._stopping = asyncio.Event()

    def start(self, js: JetStreamContext, nc: Client | None = None) -> None:
        """Start consuming in the background (`nc` is needed to hear advisories)."""
        if self.on_exhausted is not None and nc is None:
            raise ValueError(f"consumer {self.name}: on_exhausted needs the NATS client")
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(js, nc), name=f"consumer:{self.name}")

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

    async def _run(self, js: JetStreamContext, nc: Client | None) -> None:
        try:
            await self._loop(js, nc)
        finally:
            # A pull subscription left open would hold the connection's drain.
            for subscription in (self._subscription, self._advisories):
                if subscription is not None:
                    with contextlib.suppress(NatsError):
                        await subscription.unsubscribe()
            self._subscription = self._advisories = None

    async def _loop(self, js: JetStreamContext, nc: Client | None) -> None:
        subscription: JetStreamContext.PullSubscription | None = None
        while not self._stopping.is_set():
            try:
                if nc is not None and self.on_exhausted is not None and self._advisories is None:
                    self._advisories = await nc.subscribe(
                        max_deliveries_subject(self.stream, self.name),
                        cb=self._advisory_handler(js),
                    )
                if subscription is None:
                    subscription = await self._subscribe(js)
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

    async def _subscribe(self, js: JetStreamContext) -> JetStreamContext.PullSubscription:
        """Create the durable consumer, or bring an existing one to this configuration (so
        that a changed `max_deliver` or `ack_wait` applies), then bind to it."""
        config = dataclasses.replace(
            self.config, name=self.name, durable_name=self.name, filter_subject=self.subject
        )
        try:
            await js.add_consumer(self.stream, config=config)
        except APIError as exc:  # e.g. a setting JetStream cannot change: keep the existing
            if exc.code is None or exc.code >= 500:
                raise
            log.warning("consumer.config_kept", consumer=self.name, error=exc.description)
        return await js.pull_subscribe_bind(durable=self.name, stream=self.stream)

    # --- a batch ---------------------------------------------------------------------------

    async def _handle(self, js: JetStreamContext, messages: Sequence[Msg]) -> None:
        try:
            await self._call_handler(js, messages)
        except Exception as exc:
            self.failures += 1
            log.error(
                "consumer.batch_failed",
                consumer=self.name,
                size=len(messages),
                error=type(exc).__name__,
                where=_where(exc),
            )
            if self.isolate and len(messages) > 1 and not self._stopping.is_set():
                await self._isolate(js, messages)
                return
            self.failed_messages += len(messages)
            await self._hand_back(messages)
            await self._pause(self.retry_delay_s)
            return
        self.batches += 1
        for message in messages:
            if not message._ackd:
                await message.ack()

    async def _isolate(self, js: JetStreamContext, messages: Sequence[Msg]) -> None:
        """Handle a failed batch one message at a time: acknowledge each that succeeds, hand
        back each that fails. Two failures in a row from the surroundings (not from the
        messages) hand back the rest of the batch at once: nothing would succeed now."""
        for message in messages:  # the batch may take a while longer than planned
            with contextlib.suppress(NatsError):
                await message.in_progress()
        transient_in_a_row = 0
        for index, message in enumerate(messages):
            try:
                await self._call_handler(js, [message])
            except Exception as exc:
                self.failed_messages += 1
                metadata = message.metadata
                log.warning(
                    "consumer.message_failed",
                    consumer=self.name,
                    sequence=metadata.sequence.stream,
                    deliveries=metadata.num_delivered,
                    error=type(exc).__name__,
                    where=_where(exc),
                )
                await self._hand_back([message])
                transient_in_a_row = transient_in_a_row + 1 if self._transient(exc) else 0
                if transient_in_a_row >= 2:
                    rest = messages[index + 1 :]
                    self.failed_messages += len(rest)
                    await self._hand_back(rest)
                    await self._pause(self.retry_delay_s)
                    return
                continue
            transient_in_a_row = 0
            if not message._ackd:
                await message.ack()

    def _transient(self, exc: BaseException) -> bool:
        return isinstance(exc, self.transient) or isinstance(exc.__cause__, self.transient)

    async def _call_handler(self, js: JetStreamContext, messages: Sequence[Msg]) -> None:
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
        finally:
            otel_context.detach(token)

    async def _hand_back(self, messages: Sequence[Msg]) -> None:
        for message in messages:
            if not message._ackd:
                with contextlib.suppress(NatsError):
                    await message.nak(delay=self._redelivery_delay(message) or None)

    def _redelivery_delay(self, message: Msg) -> float:
        delays = self.redelivery_delays_s
        if not delays:
            return self.retry_delay_s
        return delays[min(max(message.metadata.num_delivered, 1), len(delays)) - 1]

    # --- messages JetStream gave up on -----------------------------------------------------

    def _advisory_handler(self, js: JetStreamContext) -> Callable[[Msg], Awaitable[None]]:
        async def on_advisory(msg: Msg) -> None:
            try:
                advisory = MaxDeliveries.model_validate_json(msg.data)
            except ValidationError:
                log.warning("consumer.advisory_unreadable", consumer=self.name)
                return
            if (advisory.stream, advisory.consumer) != (self.stream, self.name):
                return
            await self._give_up(js, await read_back(js, advisory))

        return on_advisory

    async def _give_up(self, js: JetStreamContext, exhausted: Exhausted) -> None:
        """Hand an exhausted message to `on_exhausted` until it succeeds (or the consumer
        stops: the message then stays unrecorded, which the log says)."""
        handler = self.on_exhausted
        if handler is None:
            return
        attempt = 0
        while True:
            try:
                await handler(js, exhausted)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempt += 1
                log.error(
                    "consumer.exhausted_not_recorded",
                    consumer=self.name,
                    sequence=exhausted.sequence,
                    attempt=attempt,
                    error=type(exc).__name__,
                    where=_where(exc),
                )
                if self._stopping.is_set():
                    return
                await self._pause(min(30.0, 0.5 * 2**attempt))
                continue
            self.exhausted += 1
            log.warning(
                "consumer.exhausted",
                consumer=self.name,
                stream=exhausted.stream,
                sequence=exhausted.sequence,
                deliveries=exhausted.deliveries,
                problem=exhausted.problem,
            )
            return

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)


def _where(exc: BaseException) -> str:
    """Where an exception was raised (file, line, function) without its message, which may
    quote the input."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} {last.name}"


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

    @property
    def exhausted(self) -> int:
        """Messages JetStream gave up on, recorded since start, over all consumers."""
        return sum(c.exhausted for c in self.consumers)

    async def start(self) -> None:
        """Start every consumer on the broker's JetStream context."""
        state = self.broker.config.connection_state
        for consumer in self.consumers:
            consumer.start(state.stream, state.connection)

    async def stop(self) -> None:
        """Stop every consumer (each finishes its batch in hand)."""
        for consumer in self.consumers:
            await consumer.stop()
