"""`python -m services.crisis_api`: serve the crisis-cell API with settings from the
environment (`DATABASE_URL` is required; tokens from `IFC_API_TOKENS_FILE` or the secrets
directory)."""

from __future__ import annotations

import sys

import structlog
import uvicorn

from services.crisis_api.app import SERVICE, create_app
from services.crisis_api.settings import CrisisApiSettings
from services.runtime.logging import configure_logging
from services.runtime.tracing import configure_tracing


def main() -> None:
    """Configure logging and tracing, then serve until SIGINT/SIGTERM."""
    settings = CrisisApiSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    log = structlog.get_logger(SERVICE)
    if not settings.database_url:
        log.error("api.not_configured", error="DATABASE_URL is not set")
        sys.exit(2)
    if not settings.tokens_path().exists():
        log.error("api.not_configured", error=f"no tokens file at {settings.tokens_path()}")
        sys.exit(2)
    provider = configure_tracing(SERVICE, settings.otlp_endpoint, settings.trace_file)
    try:
        config = uvicorn.Config(
            create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,  # structlog owns the logs
            access_log=False,  # the consultation journal records every call
            lifespan="on",
        )
        uvicorn.Server(config).run()
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
