"""The catalogue of every event type: one discriminated union on `type`."""

from __future__ import annotations

from typing import Annotated, get_args

from pydantic import Field, TypeAdapter

from contracts.events.base import EVENT_TYPE_PREFIX, EventPayload
from contracts.events.exercise import ExerciseInjected
from contracts.events.identity_checks import IdentityCheckRecorded, RecepisseIssued
from contracts.events.incidents import (
    IncidentAcknowledged,
    IncidentAssigned,
    IncidentCorrected,
    IncidentDeclined,
    IncidentQualified,
    IncidentReported,
    IncidentResolved,
)
from contracts.events.mediation import HelpRequested, MediationClosed, MediationStarted
from contracts.events.private_security import EntranceScreeningReported, SiteIncidentReported
from contracts.events.public_safety import (
    CrisisCellDecisionLogged,
    CrowdDensityReported,
    EvacuationOrdered,
    PublicAlertIssued,
    SecurityPerimeterEstablished,
    SecurityPerimeterLifted,
)
from contracts.events.surveillance import (
    DroneFlightEnded,
    DroneFlightStarted,
    VideoAnalyticsAlerted,
    VideoExtractGranted,
    VideoExtractRequested,
)
from contracts.events.units import (
    UnitCheckedIn,
    UnitCheckedOut,
    UnitPositionReported,
    UnitStatusChanged,
)
from contracts.events.violations import PerimeterViolated

Event = Annotated[
    UnitCheckedIn
    | UnitCheckedOut
    | UnitStatusChanged
    | UnitPositionReported
    | IncidentReported
    | IncidentQualified
    | IncidentAssigned
    | IncidentAcknowledged
    | IncidentDeclined
    | IncidentResolved
    | IncidentCorrected
    | SecurityPerimeterEstablished
    | SecurityPerimeterLifted
    | EvacuationOrdered
    | CrowdDensityReported
    | PublicAlertIssued
    | CrisisCellDecisionLogged
    | EntranceScreeningReported
    | SiteIncidentReported
    | MediationStarted
    | MediationClosed
    | HelpRequested
    | IdentityCheckRecorded
    | RecepisseIssued
    | DroneFlightStarted
    | DroneFlightEnded
    | VideoExtractRequested
    | VideoExtractGranted
    | VideoAnalyticsAlerted
    | ExerciseInjected
    | PerimeterViolated,
    Field(discriminator="type"),
]

EVENT_CLASSES: tuple[type[EventPayload], ...] = get_args(get_args(Event)[0])

#: Every event class by its CloudEvents `type`.
EVENT_TYPES: dict[str, type[EventPayload]] = {
    cls.model_fields["type"].default: cls for cls in EVENT_CLASSES
}

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def event_class(event_type: str) -> type[EventPayload] | None:
    """The class of an event type, or None when the catalogue does not know it."""
    return EVENT_TYPES.get(event_type)


def short_type(event_type: str) -> str:
    """`fr.interforces.incident.reported` → `incident.reported` (two subject tokens)."""
    return event_type.removeprefix(EVENT_TYPE_PREFIX)
