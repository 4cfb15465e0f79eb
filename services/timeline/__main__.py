"""`python -m services.timeline`: run the timeline projector with settings from the
environment (`DATABASE_URL` is required)."""

from __future__ import annotations

import asyncio
import sys

import structlog

from services.runtime.logging import configure_logging
from services.runtime.tracing import configure_tracing
from services.timeline.app import SERVICE, build_app, trace_postgres
from services.timeline.errors import DatabaseNotConfiguredError
from services.timeline.settings import TimelineSettings


def main() -> None:
    """Configure logging and tracing, then run until SIGINT/SIGTERM."""
    settings = TimelineSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    provider = configure_tracing(SERVICE, settings.otlp_endpoint, settings.trace_file)
    if settings.otlp_endpoint or settings.trace_file:
        trace_postgres(provider)
    try:
        app, _ = build_app(settings, provider)
        asyncio.run(app.run())
    except DatabaseNotConfiguredError as exc:
        structlog.get_logger("services.timeline").error("timeline.not_configured", error=str(exc))
        sys.exit(2)
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
