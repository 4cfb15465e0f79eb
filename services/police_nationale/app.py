"""Police nationale's part of the agency kit: identity checks hand their receipt to the
checked person and propose only the record without the identity (doctrine point 5)."""

from __future__ import annotations

from faststream import FastStream
from opentelemetry.sdk.trace import TracerProvider

from contracts.vocabulary import Agency
from services.agency import app as kit
from services.agency.domain import AgencyProfile, issue_recepisse
from services.agency.settings import AgencySettings

PROFILE = AgencyProfile(Agency.POLICE_NATIONALE, transforms=(issue_recepisse,))


def build_app(
    settings: AgencySettings, tracer_provider: TracerProvider | None = None
) -> FastStream:
    """Police nationale's app."""
    return kit.build_app(PROFILE, settings, tracer_provider)
