"""The NATS broker every service builds the same way: named connection, endless reconnect,
FastStream's OpenTelemetry middleware so one trace follows an event across services."""

from __future__ import annotations

from faststream.nats import NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider

from services.runtime.settings import RuntimeSettings


def make_broker(
    settings: RuntimeSettings, service: str, tracer_provider: TracerProvider | None = None
) -> NatsBroker:
    """A broker for `service`, connecting to `settings.nats_url`."""
    return NatsBroker(
        servers=[url.strip() for url in settings.nats_url.split(",")],
        name=f"interforces-{service}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        middlewares=[NatsTelemetryMiddleware(tracer_provider=tracer_provider)],
    )
