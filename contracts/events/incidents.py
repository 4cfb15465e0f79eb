"""Incidents: reported, qualified, assigned, acknowledged, declined, resolved, corrected."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from contracts.events.base import EventPayload
from contracts.geo import GeoPoint
from contracts.ids import EventIdField, IncidentIdField, UnitIdField
from contracts.text import FreeText, ShortText
from contracts.vocabulary import Agency, IncidentCategory, Severity


class IncidentReported(EventPayload):
    """Someone on the ground reports an incident.

    Version 2 replaced the flat `lon`/`lat` of version 1 by a `position` point.
    """

    SCHEMA_VERSION: ClassVar[int] = 2

    type: Literal["fr.interforces.incident.reported"] = "fr.interforces.incident.reported"
    incident: IncidentIdField
    category: IncidentCategory = Field(description="What the incident is, as first seen.")
    severity: Severity = Field(default=Severity.MODERATE, description="Severity as first seen.")
    position: GeoPoint = Field(description="Where the incident is.")
    armed_threat: bool = Field(default=False, description="A weapon is seen or reported.")
    people_involved: int | None = Field(
        default=None, ge=0, le=100_000, description="Number of people involved, if known."
    )
    description: FreeText = Field(default="", description="What was seen, without identities.")

    @staticmethod
    def upcast_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
        """v1 carried `lon` and `lat` at the top level."""
        data = dict(data)
        if "lon" in data or "lat" in data:
            data["position"] = {"lon": data.pop("lon", None), "lat": data.pop("lat", None)}
        return data


class IncidentQualified(EventPayload):
    """An incident is qualified: category, severity, armed threat, people involved."""

    type: Literal["fr.interforces.incident.qualified"] = "fr.interforces.incident.qualified"
    incident: IncidentIdField
    category: IncidentCategory = Field(description="The qualified category.")
    severity: Severity = Field(description="The qualified severity.")
    armed_threat: bool = Field(description="Whether an armed threat is established.")
    people_involved: int | None = Field(
        default=None, ge=0, le=100_000, description="Number of people involved, if known."
    )


class IncidentAssigned(EventPayload):
    """The incident is assigned to an agency (and optionally one of its units)."""

    type: Literal["fr.interforces.incident.assigned"] = "fr.interforces.incident.assigned"
    incident: IncidentIdField
    assignee: Agency = Field(description="The agency the incident is assigned to.")
    assignee_unit: UnitIdField | None = Field(default=None, description="A unit of the assignee.")
    instructions: FreeText = Field(default="", description="What the assignee is asked to do.")


class IncidentAcknowledged(EventPayload):
    """The assignee acknowledges the assignment."""

    type: Literal["fr.interforces.incident.acknowledged"] = "fr.interforces.incident.acknowledged"
    incident: IncidentIdField
    eta_minutes: int | None = Field(
        default=None, ge=0, le=600, description="Expected minutes before arriving on scene."
    )


class IncidentDeclined(EventPayload):
    """The assignee declines the assignment, with a reason."""

    type: Literal["fr.interforces.incident.declined"] = "fr.interforces.incident.declined"
    incident: IncidentIdField
    reason: ShortText = Field(description="Why the assignee declines.")


class IncidentResolved(EventPayload):
    """The incident is over."""

    type: Literal["fr.interforces.incident.resolved"] = "fr.interforces.incident.resolved"
    incident: IncidentIdField
    outcome: ShortText = Field(description="How it ended, in a line.")
    people_assisted: int | None = Field(
        default=None, ge=0, le=100_000, description="Number of people assisted, if any."
    )


class IncidentCorrected(EventPayload):
    """A correction of an earlier incident event: corrections are new events, never edits."""

    type: Literal["fr.interforces.incident.corrected"] = "fr.interforces.incident.corrected"
    incident: IncidentIdField
    corrects: EventIdField = Field(description="Id of the event this corrects.")
    category: IncidentCategory | None = Field(default=None, description="Corrected category.")
    severity: Severity | None = Field(default=None, description="Corrected severity.")
    position: GeoPoint | None = Field(default=None, description="Corrected position.")
    description: FreeText | None = Field(default=None, description="Corrected description.")
    reason: ShortText = Field(description="Why the correction is made.")
