"""Mediation's part of the agency kit: case notes stay in the mediators' own store; the
proposal only says that a mediation is under way or closed (doctrine point 4)."""

from __future__ import annotations

from faststream import FastStream
from opentelemetry.sdk.trace import TracerProvider

from contracts.vocabulary import Agency
from services.agency import app as kit
from services.agency.domain import AgencyProfile, keep_case_notes
from services.agency.settings import AgencySettings

PROFILE = AgencyProfile(Agency.MEDIATION, transforms=(keep_case_notes,))


def build_app(
    settings: AgencySettings, tracer_provider: TracerProvider | None = None
) -> FastStream:
    """Mediation's app."""
    return kit.build_app(PROFILE, settings, tracer_provider)
