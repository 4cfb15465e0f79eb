"""An agency service's FastStream app, built from its profile: per mode, a queue-group
responder to unit reports and a durable pull consumer of the agency's own feed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from faststream import AckPolicy, FastStream
from faststream.message import StreamMessage
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from opentelemetry.sdk.trace import TracerProvider

from contracts import subjects
from contracts.charter.loader import load_charter
from contracts.credentials import CredentialError, read_unit_key
from contracts.reports import ReportAck
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from services.agency.domain import AgencyProfile, Engagements
from services.agency.errors import ConfigurationError
from services.agency.handlers import AgencyService, BrokerOutbox
from services.agency.private_store import PrivateStore, SqlitePrivateStore
from services.agency.settings import AgencySettings
from services.runtime.broker import app_logger, make_broker
from services.runtime.health import add_health
from services.runtime.logging import configure_logging
from services.runtime.tracing import configure_tracing


def report_queue(agency: Agency) -> str:
    """Queue group of an agency's report responders: instances share the reports."""
    return f"reports-{agency.value}"


def feed_durable(agency: Agency, mode: Mode) -> str:
    """Name of an agency's durable consumer of its feed in one mode."""
    return f"feed-{agency.value}-{mode.value}"


@dataclass(frozen=True, slots=True)
class AgencyApp:
    """A built agency service: the app to run, and its parts (tests read them)."""

    app: FastStream
    broker: NatsBroker
    service: AgencyService
    store: PrivateStore


def build_service(
    agency: AgencyProfile,
    settings: AgencySettings,
    tracer_provider: TracerProvider | None = None,
) -> AgencyApp:
    """Load the charters and the unit key, open the private store, wire the broker."""
    charters = [load_charter(path) for path in settings.charter_files()]
    engagements = Engagements.from_charters(agency.agency, charters)
    try:
        key = read_unit_key(settings.secrets_dir, agency.agency)
    except CredentialError as exc:
        raise ConfigurationError(str(exc)) from exc
    store = SqlitePrivateStore(settings.private_store_path(agency.agency))
    broker = make_broker(settings, agency.agency.value, tracer_provider)
    service = AgencyService(
        agency,
        engagements,
        key,
        store,
        BrokerOutbox(broker, settings.agency_publish_timeout_s),
        max_report_bytes=settings.agency_max_report_bytes,
    )
    for mode in settings.agency_modes:
        _subscribe_reports(broker, service, mode, settings)
        _subscribe_feed(broker, service, mode, settings)
    add_health(broker, agency.agency.value, service.health)

    async def close_store() -> None:
        await store.close()

    app = FastStream(broker, logger=app_logger(agency.agency.value), after_shutdown=[close_store])
    return AgencyApp(app=app, broker=broker, service=service, store=store)


def build_app(
    agency: AgencyProfile,
    settings: AgencySettings,
    tracer_provider: TracerProvider | None = None,
) -> FastStream:
    """The FastStream app of one agency service."""
    return build_service(agency, settings, tracer_provider).app


def main(agency: AgencyProfile) -> None:
    """`python -m services.<agency>`: configure logging and tracing, run until a signal."""
    settings = AgencySettings()
    name = agency.agency.value
    configure_logging(name, settings.log_level, settings.log_format)
    provider = configure_tracing(name, settings.otlp_endpoint, settings.trace_file)
    try:
        asyncio.run(build_app(agency, settings, provider).run())
    finally:
        provider.shutdown()


async def _raw_body(message: StreamMessage[object]) -> bytes:
    """The body as sent: the handlers read it themselves, so that even bytes that are not
    JSON reach them (and get a refusal) instead of failing in the framework's decoder."""
    return message.body


def _subscribe_reports(
    broker: NatsBroker, service: AgencyService, mode: Mode, settings: AgencySettings
) -> None:
    @broker.subscriber(
        subjects.reports_of(mode, service.agency),
        queue=report_queue(service.agency),
        max_workers=settings.agency_report_workers,
        decoder=_raw_body,
        title=f"{service.agency.value}/reports/{mode.value}",
        description="Unit reports (request/reply): authenticated, validated, proposed.",
    )
    async def on_report(message: NatsMessage) -> ReportAck:
        return await service.handle_report(message.raw_message.subject, message.body)


def _subscribe_feed(
    broker: NatsBroker, service: AgencyService, mode: Mode, settings: AgencySettings
) -> None:
    @broker.subscriber(
        subjects.feed_of(mode, service.agency),
        # Streams are declared by the project, never by a service.
        stream=JStream(subjects.stream_name(mode, StreamRole.FEEDS), declare=False),
        durable=feed_durable(service.agency, mode),
        pull_sub=PullSub(
            batch_size=settings.agency_feed_batch_size,
            timeout=settings.agency_feed_fetch_timeout_s,
        ),
        config=ConsumerConfig(ack_wait=settings.agency_feed_ack_wait_s),
        # An unreadable copy returns normally (acked); a dispatch not sent is redelivered.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_raw_body,
        title=f"{service.agency.value}/feed/{mode.value}",
        description="The agency's own feed: counted, assignments dispatched to units.",
    )
    async def on_feed(message: NatsMessage) -> None:
        await service.handle_feed(mode, message.body)
