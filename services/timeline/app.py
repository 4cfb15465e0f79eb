"""The timeline's FastStream app: one durable batch consumer of the timeline per mode."""

from __future__ import annotations

from typing import Annotated, Any

from faststream import AckPolicy, Context, FastStream
from faststream.message import StreamMessage
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.js.api import DeliverPolicy
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from contracts import subjects
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from services.runtime.broker import make_broker
from services.runtime.health import add_health
from services.timeline.handlers import Projector, consumer_name
from services.timeline.settings import TimelineSettings

SERVICE = "timeline"


def build_app(
    settings: TimelineSettings, tracer_provider: TracerProvider | None = None
) -> tuple[FastStream, Projector]:
    """The timeline's app and its projector (tests read its pool and counters).

    The projector opens (pool, migrations) before the broker connects and closes after it
    stops. Raises `DatabaseNotConfiguredError` without a database URL."""
    settings.require_database_url()
    projector = Projector(settings)
    broker = make_broker(settings, SERVICE, tracer_provider)
    for mode in settings.timeline_modes:
        _subscribe(broker, projector, mode, settings)
    add_health(broker, SERVICE, projector.counters.as_dict)
    app = FastStream(broker, on_startup=[projector.open], after_shutdown=[projector.close])
    return app, projector


def trace_postgres(tracer_provider: TracerProvider) -> None:
    """Trace every asyncpg statement of the process: each becomes a child span of the
    consumer span of its batch (process-wide; call once, at start)."""
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]  # untyped library
    instrumentor.instrument(tracer_provider=tracer_provider)


async def _raw_bodies(message: StreamMessage[Any]) -> Any:
    # Decoding is the projector's: a body FastStream cannot parse must become a recorded
    # unreadable message, not a failed batch.
    return message.body


def _subscribe(
    broker: NatsBroker, projector: Projector, mode: Mode, settings: TimelineSettings
) -> None:
    @broker.subscriber(
        subjects.timeline_of(mode),
        stream=JStream(subjects.stream_name(mode, StreamRole.TIMELINE), declare=False),
        durable=consumer_name(mode),
        pull_sub=PullSub(
            batch_size=settings.timeline_batch_size,
            timeout=settings.timeline_batch_timeout_s,
            batch=True,
        ),
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=settings.timeline_ack_wait_s,
            max_ack_pending=4 * settings.timeline_batch_size,
        ),
        decoder=_raw_bodies,
        # The projector answers each message itself; an escaping error still redelivers.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"timeline/{mode.value}",
        description="Projects the timeline into PostgreSQL.",
    )
    async def on_timeline(message: Annotated[NatsBatchMessage, Context("message")]) -> None:
        await projector.handle(mode, message.raw_message)
