"""Concise builders of timeline records for the timeline tests.

    rec = record(1, event("incident.reported", incident="INC-1"), Agency.POLICE_MUNICIPALE)

`event` fills every required field of the types the projections read with a plausible
value, so a test writes only what it is about. Event ids are random per call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final, cast

from contracts.envelope import Envelope
from contracts.events.base import EVENT_TYPE_PREFIX, EventPayload
from contracts.events.catalogue import EVENT_TYPES, Event
from contracts.ids import EventId, OperationId, SectorId, UnitId
from contracts.routing import RecordDelivery
from contracts.vocabulary import Agency, Classification, Mode
from services.timeline.domain import TimelineRecord

OPERATION: Final = "timeline-test"
PARIS: Final = timezone(timedelta(hours=2))
#: 21:00 Paris on the night of the operation; `at(m)` is m minutes later.
T0: Final = datetime(2026, 6, 21, 21, 0, tzinfo=PARIS)
FEST: Final = {"lon": 4.83213, "lat": 45.76187}
STATION: Final = {"lon": 4.83791, "lat": 45.76207}


def at(minutes: float) -> datetime:
    """`minutes` after T0."""
    return T0 + timedelta(minutes=minutes)


def square(center: Mapping[str, float], half: float = 0.0003) -> dict[str, Any]:
    """A small GeoJSON square around a point."""
    x, y = center["lon"], center["lat"]
    ring = [[x - half, y - half], [x + half, y - half], [x + half, y + half], [x - half, y + half]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


_DEFAULTS: Final[Mapping[str, Callable[[], dict[str, Any]]]] = {
    "unit.checked_in": lambda: {"unit": "PN-1", "position": FEST, "personnel": 4, "armed": True},
    "unit.checked_out": lambda: {"unit": "PN-1"},
    "unit.status_changed": lambda: {"unit": "PN-1", "status": "en_route"},
    "unit.position_reported": lambda: {"unit": "PN-1", "position": STATION},
    "incident.reported": lambda: {"incident": "INC-1", "category": "theft", "position": FEST},
    "site_incident.reported": lambda: {
        "incident": "INC-S",
        "category": "entrance_incident",
        "position": FEST,
    },
    "incident.qualified": lambda: {
        "incident": "INC-1",
        "category": "fight",
        "severity": "serious",
        "armed_threat": False,
    },
    "incident.corrected": lambda: {
        "incident": "INC-1",
        "corrects": "evt-0",
        "reason": "position erronée",
        "position": STATION,
    },
    "incident.assigned": lambda: {"incident": "INC-1", "assignee": "police_nationale"},
    "incident.acknowledged": lambda: {"incident": "INC-1", "eta_minutes": 5},
    "incident.declined": lambda: {"incident": "INC-1", "reason": "équipage engagé"},
    "incident.resolved": lambda: {"incident": "INC-1", "outcome": "auteur interpellé"},
    "security_perimeter.established": lambda: {
        "perimeter": "PER-1",
        "area": square(FEST),
        "position": FEST,
        "reason": "colis suspect",
    },
    "security_perimeter.lifted": lambda: {"perimeter": "PER-1", "reason": "levée de doute"},
    "drone.flight_started": lambda: {
        "flight": "D-1",
        "authorisation": "AP-2026-001",
        "position": FEST,
        "max_altitude_m": 80,
        "purpose": "surveillance des quais",
    },
    "drone.flight_ended": lambda: {
        "flight": "D-1",
        "authorisation": "AP-2026-001",
        "position": FEST,
    },
    "crowd.density_reported": lambda: {"position": FEST, "persons_per_m2": 3.5},
    "perimeter.violated": lambda: {
        "proposal_id": "evt-refused",
        "proposal_type": "fr.interforces.incident.reported",
        "proposer": "securite_privee",
        "credentials_agency": "securite_privee",
        "reasons": [
            {"code": "outside_territory", "message": "Hors secteur"},
            {"code": "not_competent_category", "message": "Catégorie hors compétence"},
        ],
        "competent_agencies": ["police_nationale", "gendarmerie"],
    },
}


def event(short_type: str, **fields: Any) -> EventPayload:
    """A valid payload of a catalogue type: defaults, then `fields`."""
    cls = EVENT_TYPES[EVENT_TYPE_PREFIX + short_type]
    return cls.model_validate({**_DEFAULTS[short_type](), **fields})


def envelope(
    data: EventPayload,
    agency: Agency = Agency.POLICE_NATIONALE,
    *,
    time: datetime = T0,
    mode: Mode = Mode.LIVE,
    operation: str = OPERATION,
    unit: str | None = None,
    sector: str | None = None,
    event_id: str | None = None,
) -> Envelope:
    """An envelope as the coordinator appends it to the timeline (recorded a second later)."""
    return Envelope(
        id=EventId(event_id or f"evt-{uuid.uuid4()}"),
        source=f"/interforces/{agency.value}",
        type=data.type,
        time=time,
        operation=OperationId(operation),
        mode=mode,
        agency=agency,
        unit=UnitId(unit) if unit is not None else None,
        sector=SectorId(sector) if sector is not None else None,
        classification=Classification.INTERNAL,
        recordedtime=time + timedelta(seconds=1),
        data=cast("Event", data),
    )


def record(
    seq: int,
    data: EventPayload,
    agency: Agency = Agency.POLICE_NATIONALE,
    *,
    time: datetime | None = None,
    mode: Mode = Mode.LIVE,
    operation: str = OPERATION,
    unit: str | None = None,
    event_id: str | None = None,
    deliveries: tuple[RecordDelivery, ...] | None = (RecordDelivery(to=Agency.CRISIS_CELL),),
) -> TimelineRecord:
    """A record at stream sequence `seq`, by default `seq` minutes after T0."""
    env = envelope(
        data,
        agency,
        time=time if time is not None else at(seq),
        mode=mode,
        operation=operation,
        unit=unit,
        event_id=event_id,
    )
    return TimelineRecord(
        mode=mode,
        seq=seq,
        envelope=env.model_copy(update={"sequence": seq}),
        proposal_id=env.id,
        deliveries=deliveries,
    )


def records(*items: tuple[EventPayload, Agency] | EventPayload) -> list[TimelineRecord]:
    """Records at sequences 1, 2, … (an item is a payload, or a payload and its agency)."""
    out = []
    for seq, item in enumerate(items, start=1):
        data, agency = item if isinstance(item, tuple) else (item, Agency.POLICE_NATIONALE)
        out.append(record(seq, data, agency))
    return out
