"""Police municipale's part of the agency kit: none beyond the kit itself (it keeps no
private data and hands no receipts: municipal police do not carry out identity checks)."""

from __future__ import annotations

from faststream import FastStream
from opentelemetry.sdk.trace import TracerProvider

from contracts.vocabulary import Agency
from services.agency import app as kit
from services.agency.domain import AgencyProfile
from services.agency.settings import AgencySettings

PROFILE = AgencyProfile(Agency.POLICE_MUNICIPALE)


def build_app(
    settings: AgencySettings, tracer_provider: TracerProvider | None = None
) -> FastStream:
    """Police municipale's app."""
    return kit.build_app(PROFILE, settings, tracer_provider)
