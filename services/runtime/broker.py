"""The NATS broker every service builds the same way: named connection, endless reconnect,
FastStream's OpenTelemetry middleware so one trace follows an event across services."""

from __future__ import annotations

import logging

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
        # FastStream's own lines go through the process's JSON logging; one line per
        # message is debug detail, not something to write at thousands per second.
        logger=logging.getLogger(f"interforces.{service}.broker"),
        log_level=logging.DEBUG,
    )


def app_logger(service: str) -> logging.Logger:
    """The logger a service's FastStream app writes its start and stop lines to."""
    return logging.getLogger(f"interforces.{service}.app")
