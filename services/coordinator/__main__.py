"""`python -m services.coordinator`: run the coordinator with settings from the environment."""

from __future__ import annotations

import asyncio

from services.coordinator.app import SERVICE, build_app
from services.coordinator.settings import CoordinatorSettings
from services.runtime.logging import configure_logging
from services.runtime.tracing import configure_tracing


def main() -> None:
    """Configure logging and tracing, then run until SIGINT/SIGTERM."""
    settings = CoordinatorSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    provider = configure_tracing(SERVICE, settings.otlp_endpoint, settings.trace_file)
    try:
        app, _ = build_app(settings, provider)
        asyncio.run(app.run())
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
