"""Units on the ground: check-in, check-out, status and position."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.events.base import EventPayload
from contracts.geo import GeoPoint
from contracts.ids import UnitIdField
from contracts.text import ShortText
from contracts.vocabulary import UnitStatus


class UnitCheckedIn(EventPayload):
    """A unit started its shift inside the operation."""

    type: Literal["fr.interforces.unit.checked_in"] = "fr.interforces.unit.checked_in"
    unit: UnitIdField
    position: GeoPoint = Field(description="Where the unit checked in.")
    personnel: int = Field(ge=1, le=500, description="Number of agents in the unit.")
    vehicles: int = Field(default=0, ge=0, le=100, description="Number of vehicles engaged.")
    armed: bool = Field(description="Whether the unit carries weapons (as the charter allows).")


class UnitCheckedOut(EventPayload):
    """A unit ended its shift."""

    type: Literal["fr.interforces.unit.checked_out"] = "fr.interforces.unit.checked_out"
    unit: UnitIdField
    position: GeoPoint | None = Field(default=None, description="Where the unit checked out.")
    reason: ShortText | None = Field(default=None, description="Why, when earlier than planned.")


class UnitStatusChanged(EventPayload):
    """A unit changed status (available, en route, on scene, unavailable)."""

    type: Literal["fr.interforces.unit.status_changed"] = "fr.interforces.unit.status_changed"
    unit: UnitIdField
    status: UnitStatus = Field(description="The new status.")
    position: GeoPoint | None = Field(default=None, description="Position at the change.")
    incident: str | None = Field(
        default=None, max_length=128, description="Incident the unit is engaged on, if any."
    )


class UnitPositionReported(EventPayload):
    """A periodic position report of a unit."""

    type: Literal["fr.interforces.unit.position_reported"] = "fr.interforces.unit.position_reported"
    unit: UnitIdField
    position: GeoPoint = Field(description="Current position.")
    heading: float | None = Field(
        default=None, ge=0, lt=360, allow_inf_nan=False, description="Heading, degrees from north."
    )
    speed_kmh: float | None = Field(
        default=None, ge=0, le=300, allow_inf_nan=False, description="Ground speed, km/h."
    )
