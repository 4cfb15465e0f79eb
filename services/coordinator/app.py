"""The coordinator's FastStream app: one durable batch consumer of proposals per mode."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from faststream import FastStream
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from opentelemetry.sdk.trace import TracerProvider

from contracts import subjects
from contracts.charter.loader import load_charter
from contracts.ids import OperationId
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from services.coordinator.domain import Coordinator, Engine
from services.coordinator.errors import PublishError
from services.coordinator.handlers import Pipeline
from services.coordinator.perimeter.compiled import CompiledCharter, compile_charter
from services.coordinator.perimeter.engine import decide
from services.coordinator.settings import CoordinatorSettings
from services.runtime.broker import app_logger, make_broker
from services.runtime.consumer import (
    TRANSIENT_ERRORS,
    BatchConsumer,
    BatchHandler,
    Exhausted,
    ExhaustedHandler,
)
from services.runtime.health import add_health
from services.runtime.lease import LeasedGroup

SERVICE = "coordinator"


def durable_name(mode: Mode) -> str:
    """Name of the coordinator's durable consumer of a mode's proposals."""
    return f"coordinator-{mode.value}"


def build_coordinator(settings: CoordinatorSettings, engine: Engine = decide) -> Coordinator:
    """The functional core, with every configured charter compiled (`engine` is the
    perimeter engine; tests put a failing one in its place)."""
    charters: dict[OperationId, CompiledCharter] = {}
    for path in settings.charter_files():
        charter = load_charter(path)
        charters[charter.operation.id] = compile_charter(charter)
    return Coordinator(
        charters,
        max_proposal_bytes=settings.coordinator_max_proposal_bytes,
        remembered=settings.coordinator_remembered_proposals,
        engine=engine,
    )


def build_app(
    settings: CoordinatorSettings,
    tracer_provider: TracerProvider | None = None,
    *,
    engine: Engine = decide,
) -> tuple[FastStream, Pipeline]:
    """The coordinator's app and its pipeline (tests read the pipeline's counters).

    Deliveries of a proposal are bounded (`coordinator_max_deliver`); a failed batch is
    decided again one proposal at a time, so that only the failing ones wait for their next
    delivery; a proposal JetStream gives up on is recorded as a dead letter."""
    tracer = tracer_provider.get_tracer("interforces.coordinator") if tracer_provider else None
    pipeline = Pipeline(
        build_coordinator(settings, engine),
        publish_timeout_s=settings.coordinator_publish_timeout_s,
        publish_window=settings.coordinator_publish_window,
        tracer=tracer,
    )
    broker = make_broker(settings, SERVICE, tracer_provider)
    consumers = []
    for mode in settings.coordinator_modes:
        consumers.append(
            BatchConsumer(
                name=durable_name(mode),
                stream=subjects.stream_name(mode, StreamRole.PROPOSALS),
                subject=subjects.proposals_of(mode),
                config=ConsumerConfig(
                    ack_wait=settings.coordinator_ack_wait_s,
                    max_ack_pending=max(4 * settings.coordinator_batch_size, 1024),
                    max_deliver=settings.coordinator_max_deliver,
                ),
                handler=_decide(pipeline, mode),
                batch_size=settings.coordinator_batch_size,
                batch_timeout_s=settings.coordinator_batch_timeout_s,
                retry_delay_s=settings.coordinator_redelivery_delays_s[0],
                isolate=True,
                redelivery_delays_s=settings.coordinator_redelivery_delays_s,
                transient=(*TRANSIENT_ERRORS, PublishError),
                on_exhausted=_record_exhausted(pipeline, mode),
                tracer=tracer,
            )
        )
    # One instance reads each mode's proposals (the holder of its lease); it folds the
    # timeline before its first decision there, since another instance may have decided.
    group = LeasedGroup(
        broker,
        consumers,
        on_acquired={
            durable_name(mode): partial(pipeline.mark_stale, mode)
            for mode in settings.coordinator_modes
        },
    )

    def details() -> dict[str, object]:
        return {**pipeline.counters.as_dict(), "failed_batches": group.failures}

    add_health(broker, SERVICE, details)
    app = FastStream(
        broker,
        logger=app_logger(SERVICE),
        after_startup=[group.start],
        on_shutdown=[group.stop],
    )
    return app, pipeline


def _decide(pipeline: Pipeline, mode: Mode) -> BatchHandler:
    async def handle(js: JetStreamContext, messages: Sequence[Msg]) -> None:
        await pipeline.handle(js, mode, messages)

    return handle


def _record_exhausted(pipeline: Pipeline, mode: Mode) -> ExhaustedHandler:
    async def record(js: JetStreamContext, exhausted: Exhausted) -> None:
        await pipeline.record_exhausted(js, mode, exhausted)

    return record
