"""The coordinator's FastStream app: one durable batch consumer of proposals per mode."""

from __future__ import annotations

from typing import Annotated

from faststream import AckPolicy, Context, FastStream
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.message import NatsBatchMessage
from opentelemetry.sdk.trace import TracerProvider

from contracts import subjects
from contracts.charter.loader import load_charter
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from services.coordinator.domain import Coordinator
from services.coordinator.handlers import Pipeline
from services.coordinator.perimeter.compiled import compile_charter
from services.coordinator.settings import CoordinatorSettings
from services.runtime.broker import make_broker
from services.runtime.health import add_health

SERVICE = "coordinator"


def durable_name(mode: Mode) -> str:
    """Name of the coordinator's durable consumer of a mode's proposals."""
    return f"coordinator-{mode.value}"


def build_coordinator(settings: CoordinatorSettings) -> Coordinator:
    """The functional core, with every configured charter compiled."""
    charters = {}
    for path in settings.charter_files():
        charter = load_charter(path)
        charters[charter.operation.id] = compile_charter(charter)
    return Coordinator(
        charters,
        max_proposal_bytes=settings.coordinator_max_proposal_bytes,
        remembered=settings.coordinator_remembered_proposals,
    )


def build_app(
    settings: CoordinatorSettings, tracer_provider: TracerProvider | None = None
) -> tuple[FastStream, Pipeline]:
    """The coordinator's app and its pipeline (tests read the pipeline's counters)."""
    pipeline = Pipeline(
        build_coordinator(settings),
        publish_timeout_s=settings.coordinator_publish_timeout_s,
        tracer=tracer_provider.get_tracer("interforces.coordinator") if tracer_provider else None,
    )
    broker = make_broker(settings, SERVICE, tracer_provider)
    for mode in settings.coordinator_modes:
        _subscribe(broker, pipeline, mode, settings)
        # Fold the timeline before the first decision of the mode (and after any failure).
        pipeline.mark_stale(mode)
    add_health(broker, SERVICE, pipeline.counters.as_dict)
    return FastStream(broker), pipeline


def _subscribe(
    broker: NatsBroker, pipeline: Pipeline, mode: Mode, settings: CoordinatorSettings
) -> None:
    @broker.subscriber(
        subjects.proposals_of(mode),
        stream=JStream(subjects.stream_name(mode, StreamRole.PROPOSALS), declare=False),
        durable=durable_name(mode),
        pull_sub=PullSub(
            batch_size=settings.coordinator_batch_size,
            timeout=settings.coordinator_batch_timeout_s,
            batch=True,
        ),
        config=ConsumerConfig(
            ack_wait=settings.coordinator_ack_wait_s,
            max_ack_pending=max(4 * settings.coordinator_batch_size, 1024),
        ),
        # A failed batch is redelivered, never dropped: nothing accepted is lost.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"coordinator/{mode.value}",
        description="Decides every proposal against the operation charter.",
    )
    async def on_proposals(message: Annotated[NatsBatchMessage, Context("message")]) -> None:
        js = broker.config.connection_state.stream
        await pipeline.handle(js, mode, message.raw_message)
