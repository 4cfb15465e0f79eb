"""Security perimeters, evacuations, crowd density, public alerts and crisis-cell decisions."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from contracts.events.base import EventPayload, EventTraits
from contracts.geo import Area, GeoPoint
from contracts.ids import IncidentIdField
from contracts.text import FreeText, Reference, ShortText
from contracts.vocabulary import Capability, Classification


class SecurityPerimeterEstablished(EventPayload):
    """A security perimeter is set up around a danger."""

    type: Literal["fr.interforces.security_perimeter.established"] = (
        "fr.interforces.security_perimeter.established"
    )
    perimeter: Reference = Field(description="Id of the perimeter, unique in the operation.")
    area: Area = Field(description="The closed area (GeoJSON polygon).")
    position: GeoPoint = Field(description="Centre of the perimeter (the danger).")
    reason: ShortText = Field(description="Why the perimeter is set up.")
    incident: IncidentIdField | None = Field(default=None, description="Related incident.")


class SecurityPerimeterLifted(EventPayload):
    """A security perimeter is lifted."""

    type: Literal["fr.interforces.security_perimeter.lifted"] = (
        "fr.interforces.security_perimeter.lifted"
    )
    perimeter: Reference = Field(description="Id of the perimeter lifted.")
    reason: ShortText = Field(description="Why it is lifted (all clear, …).")


class EvacuationOrdered(EventPayload):
    """An authority orders the evacuation of an area."""

    TRAITS: ClassVar[EventTraits] = EventTraits(capability=Capability.EVACUATION)

    type: Literal["fr.interforces.evacuation.ordered"] = "fr.interforces.evacuation.ordered"
    area: Area = Field(description="Area to evacuate.")
    position: GeoPoint = Field(description="Reference point of the area.")
    assembly_point: ShortText | None = Field(default=None, description="Where people gather.")
    authority: ShortText = Field(description="Authority ordering it (prefect, mayor).")
    order_reference: Reference = Field(description="Reference of the order.")


class DensityTrend(StrEnum):
    """Whether the crowd grows or thins."""

    RISING = "rising"
    STABLE = "stable"
    FALLING = "falling"


class CrowdDensityReported(EventPayload):
    """A crowd density measurement in a sector."""

    type: Literal["fr.interforces.crowd.density_reported"] = "fr.interforces.crowd.density_reported"
    position: GeoPoint = Field(description="Where the density was measured.")
    persons_per_m2: float = Field(
        ge=0, le=12, allow_inf_nan=False, description="Persons per square metre."
    )
    trend: DensityTrend = Field(default=DensityTrend.STABLE, description="Trend of the density.")


class CapStatus(StrEnum):
    """CAP 1.2 `status`."""

    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class CapMsgType(StrEnum):
    """CAP 1.2 `msgType`."""

    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class CapScope(StrEnum):
    """CAP 1.2 `scope`."""

    PUBLIC = "Public"
    RESTRICTED = "Restricted"
    PRIVATE = "Private"


class CapCategory(StrEnum):
    """CAP 1.2 `category`."""

    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class CapUrgency(StrEnum):
    """CAP 1.2 `urgency`."""

    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class CapSeverity(StrEnum):
    """CAP 1.2 `severity`."""

    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class CapCertainty(StrEnum):
    """CAP 1.2 `certainty`."""

    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class PublicAlertIssued(EventPayload):
    """A public alert, mappable field for field to a CAP 1.2 alert with one info block."""

    TRAITS: ClassVar[EventTraits] = EventTraits(
        capability=Capability.PUBLIC_ALERTING, classification=Classification.PUBLIC
    )

    type: Literal["fr.interforces.public_alert.issued"] = "fr.interforces.public_alert.issued"
    status: CapStatus = Field(description="CAP status; `Exercise` in exercises, never live.")
    msg_type: CapMsgType = Field(description="CAP msgType.")
    scope: CapScope = Field(default=CapScope.PUBLIC, description="CAP scope.")
    category: CapCategory = Field(description="CAP info category.")
    event: ShortText = Field(description="CAP info event: what the alert is about.")
    urgency: CapUrgency = Field(description="CAP info urgency.")
    severity: CapSeverity = Field(description="CAP info severity.")
    certainty: CapCertainty = Field(description="CAP info certainty.")
    headline: ShortText = Field(description="CAP info headline.")
    instruction: FreeText = Field(description="CAP info instruction: what people must do.")
    area_desc: ShortText = Field(description="CAP area areaDesc.")
    area: Area = Field(description="CAP area polygon(s).")
    position: GeoPoint = Field(description="Reference point of the area.")
    references: Reference | None = Field(
        default=None, description="CAP references: the alert this one updates or cancels."
    )


class CrisisCellDecisionLogged(EventPayload):
    """A decision of the crisis cell, logged for the record."""

    type: Literal["fr.interforces.crisis_cell.decision_logged"] = (
        "fr.interforces.crisis_cell.decision_logged"
    )
    decision: FreeText = Field(min_length=1, description="The decision as taken.")
    authority: ShortText = Field(description="Who took it (prefect, mayor, their deputy).")
    rationale: FreeText = Field(default="", description="Why it was taken.")
    incidents: tuple[IncidentIdField, ...] = Field(
        default=(), max_length=100, description="Incidents it concerns."
    )
