"""Surveillance means bounded by law: drones inside an authorisation, video extracts,
and video analytics for abandoned luggage only. No biometric field exists anywhere."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from contracts.events.base import EventPayload, EventTraits
from contracts.geo import GeoPoint
from contracts.text import FreeText, Reference, ShortText
from contracts.vocabulary import Capability, Classification


class DroneFlightStarted(EventPayload):
    """A drone takes off under a prefectoral authorisation."""

    TRAITS: ClassVar[EventTraits] = EventTraits(
        capability=Capability.DRONE, classification=Classification.RESTRICTED
    )

    type: Literal["fr.interforces.drone.flight_started"] = "fr.interforces.drone.flight_started"
    flight: ShortText = Field(description="Id of the flight.")
    authorisation: Reference = Field(description="Order reference of the authorisation.")
    position: GeoPoint = Field(description="Take-off position.")
    max_altitude_m: int = Field(ge=1, le=120, description="Maximum altitude, metres.")
    purpose: ShortText = Field(description="Purpose of the flight, within the authorisation.")


class DroneFlightEnded(EventPayload):
    """A drone lands."""

    TRAITS: ClassVar[EventTraits] = EventTraits(
        capability=Capability.DRONE, classification=Classification.RESTRICTED
    )

    type: Literal["fr.interforces.drone.flight_ended"] = "fr.interforces.drone.flight_ended"
    flight: ShortText = Field(description="Id of the flight.")
    authorisation: Reference = Field(description="Order reference of the authorisation.")
    position: GeoPoint = Field(description="Landing position.")


class VideoExtractRequested(EventPayload):
    """An agency asks for an extract of video-protection recordings."""

    TRAITS: ClassVar[EventTraits] = EventTraits(classification=Classification.RESTRICTED)

    type: Literal["fr.interforces.video_extract.requested"] = (
        "fr.interforces.video_extract.requested"
    )
    request: ShortText = Field(description="Id of the request.")
    authorisation: Reference = Field(description="Reference of the extract authorisation.")
    camera: ShortText = Field(description="Camera id.")
    position: GeoPoint = Field(description="Where the camera is.")
    window_start: AwareDatetime = Field(description="Start of the requested footage.")
    window_end: AwareDatetime = Field(description="End of the requested footage.")
    motive: FreeText = Field(min_length=1, description="Why the extract is needed.")


class VideoExtractGranted(EventPayload):
    """The video-protection centre grants a requested extract."""

    TRAITS: ClassVar[EventTraits] = EventTraits(
        capability=Capability.VIDEO_PROTECTION, classification=Classification.RESTRICTED
    )

    type: Literal["fr.interforces.video_extract.granted"] = "fr.interforces.video_extract.granted"
    request: ShortText = Field(description="Id of the request granted.")
    authorisation: Reference = Field(description="Reference of the extract authorisation.")
    position: GeoPoint = Field(description="Where the camera is.")
    retention_days: int = Field(ge=1, le=30, description="Days the extract may be kept.")


class VideoAnalyticsAlerted(EventPayload):
    """An algorithmic video-analysis alert. The only lawful category is abandoned luggage:
    no other category can be expressed."""

    TRAITS: ClassVar[EventTraits] = EventTraits(capability=Capability.VIDEO_ANALYTICS)

    type: Literal["fr.interforces.video_analytics.alerted"] = (
        "fr.interforces.video_analytics.alerted"
    )
    alert: ShortText = Field(description="Id of the alert.")
    category: Literal["abandoned_luggage"] = Field(description="Detected situation.")
    camera: ShortText = Field(description="Camera id.")
    position: GeoPoint = Field(description="Where the object is.")
    confidence: float = Field(ge=0, le=1, allow_inf_nan=False, description="Detector confidence.")
