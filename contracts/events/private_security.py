"""Private security: screening at the entrances and incidents inside its sites."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from contracts.events.base import EventPayload, EventTraits
from contracts.geo import GeoPoint
from contracts.ids import IncidentIdField
from contracts.text import FreeText
from contracts.vocabulary import Capability, IncidentCategory, Severity


class EntranceScreeningReported(EventPayload):
    """Screening figures of one entrance over a period."""

    TRAITS: ClassVar[EventTraits] = EventTraits(capability=Capability.SCREENING)

    type: Literal["fr.interforces.screening.reported"] = "fr.interforces.screening.reported"
    position: GeoPoint = Field(description="The entrance.")
    period_start: AwareDatetime = Field(description="Start of the counted period.")
    period_end: AwareDatetime = Field(description="End of the counted period.")
    persons_screened: int = Field(ge=0, le=1_000_000, description="Persons screened.")
    items_refused: int = Field(default=0, ge=0, le=1_000_000, description="Items refused.")
    entries_refused: int = Field(default=0, ge=0, le=1_000_000, description="Entries refused.")
    queue_minutes: int | None = Field(
        default=None, ge=0, le=600, description="Waiting time at the end of the period."
    )


class SiteIncidentReported(EventPayload):
    """An incident seen by private security inside its contracted site."""

    TRAITS: ClassVar[EventTraits] = EventTraits(capability=Capability.SITE_SURVEILLANCE)

    type: Literal["fr.interforces.site_incident.reported"] = "fr.interforces.site_incident.reported"
    incident: IncidentIdField
    category: IncidentCategory = Field(description="What was seen.")
    severity: Severity = Field(default=Severity.MODERATE, description="Severity as seen.")
    position: GeoPoint = Field(description="Where, inside the site.")
    armed_threat: bool = Field(default=False, description="A weapon is seen or reported.")
    description: FreeText = Field(default="", description="What was seen, without identities.")
