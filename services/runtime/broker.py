"""The NATS broker every service builds the same way: named connection, endless reconnect,
its own broker credentials when configured, FastStream's OpenTelemetry middleware so one
trace follows an event across services."""

from __future__ import annotations

import logging
from typing import Any

from faststream.nats import NatsBroker, NatsUserPassword
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider

from infra.nats.users import inbox_prefix
from services.runtime.settings import RuntimeSettings


def nats_options(settings: RuntimeSettings) -> dict[str, Any]:
    """What `nats.connect` needs besides the servers: the process's broker credentials and
    its own inbox prefix, or nothing when no broker user is configured."""
    login = settings.nats_login()
    return {} if login is None else login.connect_options()


def make_broker(
    settings: RuntimeSettings, service: str, tracer_provider: TracerProvider | None = None
) -> NatsBroker:
    """A broker for `service`, connecting to `settings.nats_url` (as its broker user, with
    the JetStream API prefix of that user's account, when one is configured)."""
    login = settings.nats_login()
    credentials: dict[str, Any] = {}
    if login is not None:
        credentials = {
            "security": NatsUserPassword(login.user, login.password),
            "inbox_prefix": inbox_prefix(login.user),
            "js_options": {"prefix": login.jetstream_api},
        }
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
        **credentials,
    )


def app_logger(service: str) -> logging.Logger:
    """The logger a service's FastStream app writes its start and stop lines to."""
    return logging.getLogger(f"interforces.{service}.app")
