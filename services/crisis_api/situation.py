"""The situation of an operation at an instant: the timeline's records up to that instant,
folded by the projector's own fold, plus the drone flights under way, as GeoJSON.

Computed from the records PostgreSQL holds (`timeline_events`) or from the stream itself
(the same records decoded from JetStream): one fold, so both give the same answer."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from contracts.charter.model import Sector
from contracts.events.surveillance import DroneFlightEnded, DroneFlightStarted
from contracts.vocabulary import Mode
from services.timeline.domain import (
    AssignmentRow,
    IncidentRow,
    IncidentStatus,
    PerimeterRow,
    PerimeterStatus,
    Projection,
    TimelineRecord,
    UnitRow,
    fold,
)


class Basis(StrEnum):
    """Which clock "at T" reads: when things happened, or when the system recorded them
    ("what did we know at T")."""

    OCCURRED = "occurred"
    RECORDED = "recorded"


def instant_of(record: TimelineRecord, basis: Basis) -> datetime:
    """The record's time on the chosen clock (recorded falls back to occurred)."""
    env = record.envelope
    moment = env.recordedtime if basis is Basis.RECORDED and env.recordedtime else env.time
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DroneFlight:
    """A flight started and not yet ended."""

    flight: str
    agency: str
    authorisation: str
    purpose: str
    max_altitude_m: int
    lon: float
    lat: float
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Situation:
    """What the timeline says of an operation at `at`."""

    mode: Mode
    operation: str
    at: datetime
    basis: Basis
    records: int
    last_seq: int | None
    projection: Projection
    drones: tuple[DroneFlight, ...]


def situation_of(
    records: Iterable[TimelineRecord],
    *,
    mode: Mode,
    operation: str,
    at: datetime,
    basis: Basis = Basis.OCCURRED,
) -> Situation:
    """Fold the operation's records (in sequence order) that are at or before `at`."""
    kept = sorted(
        (
            r
            for r in records
            if r.mode is mode and r.envelope.operation == operation and instant_of(r, basis) <= at
        ),
        key=lambda r: r.seq,
    )
    flights: dict[str, DroneFlight] = {}
    for record in kept:
        data = record.envelope.data
        if isinstance(data, DroneFlightStarted):
            flights[data.flight] = DroneFlight(
                flight=data.flight,
                agency=record.envelope.agency.value,
                authorisation=data.authorisation,
                purpose=data.purpose,
                max_altitude_m=data.max_altitude_m,
                lon=data.position.lon,
                lat=data.position.lat,
                started_at=record.envelope.time.astimezone(UTC),
            )
        elif isinstance(data, DroneFlightEnded):
            flights.pop(data.flight, None)
    return Situation(
        mode=mode,
        operation=operation,
        at=at.astimezone(UTC),
        basis=basis,
        records=len(kept),
        last_seq=kept[-1].seq if kept else None,
        projection=fold(Projection(), kept),
        drones=tuple(sorted(flights.values(), key=lambda f: f.flight)),
    )


# --- GeoJSON -------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _point(lon: float | None, lat: float | None) -> dict[str, Any] | None:
    return (
        {"type": "Point", "coordinates": [lon, lat]}
        if lon is not None and lat is not None
        else None
    )


def _feature(fid: str, geometry: dict[str, Any] | None, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": props}


def _sector(sector: Sector) -> dict[str, Any]:
    return _feature(
        f"sector:{sector.id}",
        sector.geometry.model_dump(mode="json"),
        {"kind": "sector", "sector": sector.id, "name": sector.name, "sector_kind": sector.kind},
    )


def _unit(row: UnitRow) -> dict[str, Any]:
    return _feature(
        f"unit:{row.unit}",
        _point(row.lon, row.lat),
        {
            "kind": "unit",
            "unit": row.unit,
            "agency": row.agency,
            "status": row.status,
            "incident": row.incident,
            "position_at": _iso(row.position_at),
            "armed": row.armed,
            "personnel": row.personnel,
            "vehicles": row.vehicles,
        },
    )


def _assignment(row: AssignmentRow) -> dict[str, Any]:
    return {
        "assignment_seq": row.assignment_seq,
        "assigned_by": row.assigned_by,
        "assignee": row.assignee,
        "assignee_unit": row.assignee_unit,
        "instructions": row.instructions,
        "assigned_at": _iso(row.assigned_at),
        "answer": row.answer,
        "answered_by": row.answered_by,
        "answered_at": _iso(row.answered_at),
        "eta_minutes": row.eta_minutes,
        "decline_reason": row.decline_reason,
    }


def _incident(row: IncidentRow, assignments: Sequence[AssignmentRow]) -> dict[str, Any]:
    return _feature(
        f"incident:{row.incident}",
        _point(row.lon, row.lat),
        {
            "kind": "incident",
            "incident": row.incident,
            "category": row.category,
            "severity": row.severity,
            "armed_threat": row.armed_threat,
            "people_involved": row.people_involved,
            "status": row.status,
            "reporter": row.reporter,
            "reported_at": _iso(row.reported_at),
            "assignee": row.assignee,
            "assignee_unit": row.assignee_unit,
            "first_assigned_at": _iso(row.first_assigned_at),
            "acknowledged_at": _iso(row.acknowledged_at),
            "assignments": [_assignment(a) for a in assignments],
        },
    )


def _perimeter(row: PerimeterRow) -> dict[str, Any]:
    geometry = json.loads(row.area) if row.area is not None else None
    return _feature(
        f"perimeter:{row.perimeter}",
        geometry or _point(row.lon, row.lat),
        {
            "kind": "security_perimeter",
            "perimeter": row.perimeter,
            "incident": row.incident,
            "reason": row.reason,
            "established_by": row.established_by,
            "established_at": _iso(row.established_at),
        },
    )


def _drone(flight: DroneFlight) -> dict[str, Any]:
    return _feature(
        f"drone:{flight.flight}",
        _point(flight.lon, flight.lat),
        {
            "kind": "drone_flight",
            "flight": flight.flight,
            "agency": flight.agency,
            "authorisation": flight.authorisation,
            "purpose": flight.purpose,
            "max_altitude_m": flight.max_altitude_m,
            "started_at": _iso(flight.started_at),
        },
    )


def feature_collection(situation: Situation, sectors: Sequence[Sector] = ()) -> dict[str, Any]:
    """The situation as a GeoJSON FeatureCollection: sectors, units with their status and
    position, open incidents with their assignments, established security perimeters and
    drone flights under way (checked-out units, resolved incidents and lifted perimeters
    are history, not situation)."""
    proj = situation.projection
    by_incident: dict[str, list[AssignmentRow]] = {}
    for key in sorted(proj.assignments):
        row = proj.assignments[key]
        by_incident.setdefault(row.incident, []).append(row)
    features = [_sector(s) for s in sectors]
    features += [
        _unit(proj.units[k])
        for k in sorted(proj.units)
        if proj.units[k].checked_out_at is None and proj.units[k].status != "checked_out"
    ]
    features += [
        _incident(proj.incidents[k], by_incident.get(proj.incidents[k].incident, []))
        for k in sorted(proj.incidents)
        if proj.incidents[k].status != IncidentStatus.RESOLVED
    ]
    features += [
        _perimeter(proj.perimeters[k])
        for k in sorted(proj.perimeters)
        if proj.perimeters[k].status == PerimeterStatus.ESTABLISHED
    ]
    features += [_drone(f) for f in situation.drones]
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "operation": situation.operation,
            "mode": situation.mode.value,
            "at": _iso(situation.at),
            "basis": situation.basis.value,
            "records": situation.records,
            "last_seq": situation.last_seq,
        },
    }
