"""Concise builders of proposals against the doctrine charter (tests/data/charters/doctrine.yaml).

    p = propose(payload("incident.reported", category="theft", position=POINTS["fest"]),
                Agency.POLICE_MUNICIPALE)
    decision = decide(p, live(), Situation())

`payload` fills every required field of a catalogue type with a plausible value, so a test
only writes what it is about. Event ids are random per call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any, Final, cast

from contracts import subjects
from contracts.charter import Actor, Charter, load_charter
from contracts.charter.model import Competences
from contracts.envelope import Envelope
from contracts.events.base import EVENT_TYPE_PREFIX, EventPayload
from contracts.events.catalogue import EVENT_TYPES, Event
from contracts.geo import GeoPoint
from contracts.ids import EventId, OperationId, SectorId, UnitId
from contracts.vocabulary import Agency, Classification, Mode
from services.coordinator.perimeter import (
    CompiledCharter,
    Decision,
    Proposal,
    Situation,
    compile_charter,
    decide,
    record_of,
)

CHARTER_PATH: Final = Path(__file__).resolve().parents[2] / "data" / "charters" / "doctrine.yaml"
OPERATION: Final = OperationId("doctrine-test")
PARIS: Final = timezone(timedelta(hours=2))
OPENING: Final = datetime(2026, 6, 21, 18, 0, tzinfo=PARIS)
CLOSING: Final = datetime(2026, 6, 22, 4, 0, tzinfo=PARIS)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A Paris time of the operation night: 18–23 h on the 21st, 0–17 h on the 22nd."""
    day = 21 if hour >= 18 else 22
    return datetime(2026, 6, day, hour, minute, second, tzinfo=PARIS)


#: Default event time: the middle of the night, inside every window but the drone's edge.
T0: Final = at(21)

#: One point well inside each sector, and one outside the whole map.
POINTS: Final[Mapping[str, GeoPoint]] = {
    "fest": GeoPoint(lon=4.83213, lat=45.76187),
    "venue-in": GeoPoint(lon=4.83512, lat=45.76088),
    "venue-gate": GeoPoint(lon=4.83508, lat=45.76311),
    "station": GeoPoint(lon=4.83791, lat=45.76207),
    "police-zone": GeoPoint(lon=4.83544, lat=45.76512),
    "outside": GeoPoint(lon=4.85000, lat=45.77000),
}
SECTORS: Final = ("fest", "venue-in", "venue-gate", "station", "police-zone")
UNITS: Final[Mapping[Agency, tuple[str, ...]]] = {
    Agency.POLICE_NATIONALE: ("PN-1", "PN-2"),
    Agency.POLICE_MUNICIPALE: ("PM-1",),
    Agency.SECURITE_PRIVEE: ("SP-1",),
    Agency.MEDIATION: ("MED-1", "MED-R"),
}
DRONE_REF: Final = "AP-2026-DRONE-01"
EXTRACT_REF: Final = "VE-2026-01"
ANALYTICS_REF: Final = "VA-2026-01"


# --- charters ------------------------------------------------------------------------------


@cache
def live_charter() -> Charter:
    """The doctrine charter, as written (live)."""
    return load_charter(CHARTER_PATH)


@cache
def exercise_charter() -> Charter:
    """The exercise twin: same operation id and perimeters, mode exercise, plus a direction
    d'exercice that may inject anywhere."""
    charter = live_charter()
    control = Actor(
        agency=Agency.EXERCISE_CONTROL,
        name="Direction d'exercice",
        sectors=tuple(SectorId(s) for s in SECTORS),
        competences=Competences(events=("exercise.injected",)),
    )
    twin = charter.model_copy(
        update={
            "operation": charter.operation.model_copy(update={"mode": Mode.EXERCISE}),
            "actors": (*charter.actors, control),
        }
    )
    # model_copy does not validate: validate the twin as a deputy's file would be.
    return Charter.model_validate(twin.model_dump())


@cache
def live() -> CompiledCharter:
    """The compiled live charter."""
    return compile_charter(live_charter())


@cache
def exercise() -> CompiledCharter:
    """The compiled exercise twin."""
    return compile_charter(exercise_charter())


# --- payloads ------------------------------------------------------------------------------


def square(center: GeoPoint, half: float = 0.0003) -> dict[str, Any]:
    """A small GeoJSON square around a point."""
    lo_x, hi_x, lo_y, hi_y = (
        center.lon - half,
        center.lon + half,
        center.lat - half,
        center.lat + half,
    )
    ring = [[lo_x, lo_y], [hi_x, lo_y], [hi_x, hi_y], [lo_x, hi_y], [lo_x, lo_y]]
    return {"type": "Polygon", "coordinates": [ring]}


def _check_facts(position: GeoPoint) -> dict[str, Any]:
    return {
        "check": "RC-0001",
        "legal_basis": "cpp_78_2_al1",
        "motives": ["comportement suspect près de la gare"],
        "possible_consequences": "vérification au poste",
        "place": "parvis",
        "position": position,
        "checked_at": T0,
        "officer_number": "1234567",
        "grade": "gardien de la paix",
        "service": "DDSP 69",
    }


def _alert(position: GeoPoint) -> dict[str, Any]:
    return {
        "status": "Actual",
        "msg_type": "Alert",
        "category": "Safety",
        "event": "Mouvement de foule",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Observed",
        "headline": "Évitez la zone festive",
        "instruction": "Éloignez-vous calmement vers la gare.",
        "area_desc": "Zone festive",
        "area": square(position),
        "position": position,
    }


_Defaults = Callable[[GeoPoint], dict[str, Any]]

#: Required fields of every proposable (and the coordinator-only) type, around a position.
_DEFAULTS: Final[Mapping[str, _Defaults]] = {
    "unit.checked_in": lambda p: {"unit": "PN-1", "position": p, "personnel": 4, "armed": False},
    "unit.checked_out": lambda p: {"unit": "PN-1", "position": p},
    "unit.status_changed": lambda p: {"unit": "PN-1", "status": "on_scene", "position": p},
    "unit.position_reported": lambda p: {"unit": "PN-1", "position": p},
    "incident.reported": lambda p: {"incident": "INC-1", "category": "theft", "position": p},
    "incident.qualified": lambda p: {
        "incident": "INC-1",
        "category": "theft",
        "severity": "moderate",
        "armed_threat": False,
    },
    "incident.assigned": lambda p: {"incident": "INC-1", "assignee": "police_nationale"},
    "incident.acknowledged": lambda p: {"incident": "INC-1", "eta_minutes": 5},
    "incident.declined": lambda p: {"incident": "INC-1", "reason": "équipage engagé"},
    "incident.resolved": lambda p: {"incident": "INC-1", "outcome": "auteur interpellé"},
    "incident.corrected": lambda p: {
        "incident": "INC-1",
        "corrects": "evt-1",
        "reason": "position erronée",
        "position": p,
    },
    "security_perimeter.established": lambda p: {
        "perimeter": "PER-1",
        "area": square(p),
        "position": p,
        "reason": "colis suspect",
    },
    "security_perimeter.lifted": lambda p: {"perimeter": "PER-1", "reason": "levée de doute"},
    "evacuation.ordered": lambda p: {
        "area": square(p),
        "position": p,
        "authority": "Préfet du Rhône",
        "order_reference": "AP-EVAC-1",
    },
    "crowd.density_reported": lambda p: {"position": p, "persons_per_m2": 3.5},
    "public_alert.issued": _alert,
    "crisis_cell.decision_logged": lambda p: {
        "decision": "Renfort de la gare",
        "authority": "Directeur de cabinet",
    },
    "screening.reported": lambda p: {
        "position": p,
        "period_start": at(20),
        "period_end": at(20, 30),
        "persons_screened": 420,
    },
    "site_incident.reported": lambda p: {
        "incident": "INC-1",
        "category": "entrance_incident",
        "position": p,
    },
    "mediation.started": lambda p: {"mediation": "MED-CASE-1", "topic": "noise", "position": p},
    "mediation.closed": lambda p: {"mediation": "MED-CASE-1", "outcome": "apaisement"},
    "help.requested": lambda p: {"request": "HR-1", "situation": "harassment", "position": p},
    "identity_check.recorded": _check_facts,
    "identity_check.recepisse_issued": lambda p: {
        **_check_facts(p),
        "person": {"surname": "Martin", "given_names": "Claire"},
    },
    "drone.flight_started": lambda p: {
        "flight": "FL-1",
        "authorisation": DRONE_REF,
        "position": p,
        "max_altitude_m": 80,
        "purpose": "Surveillance des flux gare",
    },
    "drone.flight_ended": lambda p: {"flight": "FL-1", "authorisation": DRONE_REF, "position": p},
    "video_extract.requested": lambda p: {
        "request": "VX-1",
        "authorisation": EXTRACT_REF,
        "camera": "CAM-12",
        "position": p,
        "window_start": at(20),
        "window_end": at(20, 15),
        "motive": "vol à l'arraché",
    },
    "video_extract.granted": lambda p: {
        "request": "VX-1",
        "authorisation": EXTRACT_REF,
        "position": p,
        "retention_days": 10,
    },
    "video_analytics.alerted": lambda p: {
        "alert": "VA-ALERT-1",
        "category": "abandoned_luggage",
        "camera": "CAM-3",
        "position": p,
        "confidence": 0.91,
    },
    "exercise.injected": lambda p: {
        "inject": "INJ-1",
        "target": "police_nationale",
        "message": "Rixe signalée devant la gare",
        "position": p,
    },
    "perimeter.violated": lambda p: {
        "proposal_id": "evt-0",
        "proposal_type": "fr.interforces.incident.reported",
        "proposer": "police_nationale",
        "reasons": [{"code": "outside_territory", "message": "Hors secteur"}],
    },
}

#: Short names of every type of the catalogue (`incident.reported`).
SHORT_TYPES: Final = tuple(sorted(t.removeprefix(EVENT_TYPE_PREFIX) for t in EVENT_TYPES))
assert set(SHORT_TYPES) == set(_DEFAULTS), "a catalogue type has no builder defaults"


def defaults(short_type: str, position: GeoPoint) -> dict[str, Any]:
    """Plausible values of every required field of a type (and its position), as a document."""
    return {"type": EVENT_TYPE_PREFIX + short_type, **_DEFAULTS[short_type](position)}


def payload(short_type: str, **fields: Any) -> EventPayload:
    """A valid payload of a catalogue type: defaults around `position` (fest), then `fields`.

    `position=None` removes the position of types where it is optional."""
    cls = EVENT_TYPES[EVENT_TYPE_PREFIX + short_type]
    around = fields.get("position") or POINTS["fest"]
    return cls.model_validate({**defaults(short_type, around), **fields})


# --- envelopes and proposals ---------------------------------------------------------------

#: Marker for "the credentials of the envelope's own agency".
SAME: Final = "same"


def envelope(
    data: EventPayload,
    agency: Agency,
    *,
    time: datetime = T0,
    mode: Mode = Mode.LIVE,
    operation: str = OPERATION,
    unit: str | None = None,
    sector: str | None = None,
    classification: Classification = Classification.INTERNAL,
    event_id: str | None = None,
) -> Envelope:
    """An envelope around a payload, as the agency's service would publish it."""
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
        classification=classification,
        data=cast("Event", data),
    )


def proposal_of(
    env: Envelope,
    *,
    credentials: Agency | str | None = SAME,
    subject: str | None = None,
    subject_agency: Agency | None = None,
    subject_mode: Mode | None = None,
    subject_operation: str | None = None,
    received_at: datetime | None = None,
) -> Proposal:
    """How the coordinator receives an envelope: by default on its own agency's subject,
    with that agency's credentials, at the event's time."""
    if subject is None:
        subject = subjects.proposal(
            subject_mode or env.mode,
            subject_operation or env.operation,
            subject_agency or env.agency,
            env.type,
        )
    creds = env.agency if credentials == SAME else credentials
    assert creds is None or isinstance(creds, Agency)
    return Proposal(env, subject, creds, received_at or env.time)


def propose(
    data: EventPayload,
    agency: Agency,
    *,
    time: datetime = T0,
    mode: Mode = Mode.LIVE,
    operation: str = OPERATION,
    unit: str | None = None,
    sector: str | None = None,
    classification: Classification = Classification.INTERNAL,
    credentials: Agency | str | None = SAME,
    subject: str | None = None,
    subject_agency: Agency | None = None,
    subject_mode: Mode | None = None,
    subject_operation: str | None = None,
    received_at: datetime | None = None,
) -> Proposal:
    """A proposal in one call: envelope attributes, then how it arrived."""
    env = envelope(
        data,
        agency,
        time=time,
        mode=mode,
        operation=operation,
        unit=unit,
        sector=sector,
        classification=classification,
    )
    return proposal_of(
        env,
        credentials=credentials,
        subject=subject,
        subject_agency=subject_agency,
        subject_mode=subject_mode,
        subject_operation=subject_operation,
        received_at=received_at,
    )


def fold(compiled: CompiledCharter, *proposals: Proposal) -> Situation:
    """The situation after proposals that must all be accepted (the test's "given")."""
    situation = Situation()
    for p in proposals:
        decision = decide(p, compiled, situation)
        assert decision.accepted, f"given step refused: {decision.reasons}"
        situation = situation.apply(record_of(decision))
    return situation


def judge(
    p: Proposal, compiled: CompiledCharter | None = None, situation: Situation | None = None
) -> Decision:
    """Decide against the live charter by default, from an empty situation by default."""
    return decide(p, compiled or live(), situation or Situation())
