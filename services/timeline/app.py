"""The timeline's FastStream app: one durable batch consumer of the timeline per mode."""

from __future__ import annotations

from collections.abc import Sequence

from faststream import FastStream
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from contracts import subjects
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from services.runtime.broker import app_logger, make_broker
from services.runtime.consumer import BatchConsumer, BatchHandler
from services.runtime.health import add_health
from services.runtime.lease import LeasedGroup
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
    tracer = tracer_provider.get_tracer("interforces.timeline") if tracer_provider else None
    consumers = [
        BatchConsumer(
            name=consumer_name(mode),
            stream=subjects.stream_name(mode, StreamRole.TIMELINE),
            subject=subjects.timeline_of(mode),
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=settings.timeline_ack_wait_s,
                # One batch outstanding at a time: a batch handed back is redelivered before
                # any later record, so the fold sees the timeline in order.
                max_ack_pending=settings.timeline_batch_size,
            ),
            handler=_project(projector, mode),
            batch_size=settings.timeline_batch_size,
            batch_timeout_s=settings.timeline_batch_timeout_s,
            retry_delay_s=settings.timeline_retry_delay_s,
            tracer=tracer,
        )
        for mode in settings.timeline_modes
    ]
    # One instance projects each mode (the holder of its lease); the others stand by.
    group = LeasedGroup(broker, consumers)
    add_health(broker, SERVICE, projector.counters.as_dict)
    app = FastStream(
        broker,
        logger=app_logger(SERVICE),
        on_startup=[projector.open],
        after_startup=[group.start],
        on_shutdown=[group.stop],
        after_shutdown=[projector.close],
    )
    return app, projector


def _project(projector: Projector, mode: Mode) -> BatchHandler:
    async def handle(js: JetStreamContext, messages: Sequence[Msg]) -> None:
        del js  # the projector only reads
        await projector.handle(mode, messages)

    return handle


def trace_postgres(tracer_provider: TracerProvider) -> None:
    """Trace every asyncpg statement of the process: each becomes a child span of the
    consumer span of its batch (process-wide; call once, at start)."""
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]  # untyped library
    instrumentor.instrument(tracer_provider=tracer_provider)
