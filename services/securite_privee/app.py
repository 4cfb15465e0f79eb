"""Private security's part of the agency kit: none beyond the kit itself. What it may see is
decided upstream: its feed only carries its own site and public alerts (doctrine point 3)."""

from __future__ import annotations

from faststream import FastStream
from opentelemetry.sdk.trace import TracerProvider

from contracts.vocabulary import Agency
from services.agency import app as kit
from services.agency.domain import AgencyProfile
from services.agency.settings import AgencySettings

PROFILE = AgencyProfile(Agency.SECURITE_PRIVEE)


def build_app(
    settings: AgencySettings, tracer_provider: TracerProvider | None = None
) -> FastStream:
    """Private security's app."""
    return kit.build_app(PROFILE, settings, tracer_provider)
