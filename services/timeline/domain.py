"""The timeline's functional core, without I/O.

1. `decode_record`: one stream message (mode, sequence, subject, headers, body) becomes a
   `TimelineRecord`, or an `Unreadable` note that says why (never the content).
2. `plan_batch`: a batch against the consumer's checkpoint: what is new, what was already
   projected, what must wait because an earlier sequence has not arrived yet.
3. `fold`: projection rows after records, in sequence order. The shell loads the rows the
   records touch (`keys_of`), folds, and writes `changes(before, after)`; rebuilding runs the
   same fold from sequence 1, so live projection and replay agree row for row.

Projection rows are plain values in their database form (strings, UTC datetimes, JSON text),
one dataclass per table whose fields are the table's columns.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, TypeVar

from pydantic import ValidationError

from contracts.cloudevents import from_structured
from contracts.envelope import Envelope
from contracts.errors import EnvelopeError
from contracts.events.incidents import (
    IncidentAcknowledged,
    IncidentAssigned,
    IncidentCorrected,
    IncidentDeclined,
    IncidentQualified,
    IncidentReported,
    IncidentResolved,
)
from contracts.events.private_security import SiteIncidentReported
from contracts.events.public_safety import SecurityPerimeterEstablished, SecurityPerimeterLifted
from contracts.events.units import (
    UnitCheckedIn,
    UnitCheckedOut,
    UnitPositionReported,
    UnitStatusChanged,
)
from contracts.events.violations import PerimeterViolated
from contracts.geo import GeoPoint
from contracts.reasons import ReasonCode
from contracts.routing import (
    DELIVERIES_HEADER,
    MSG_ID_HEADER,
    PROPOSAL_HEADER,
    RecordDelivery,
    decode_deliveries,
)
from contracts.vocabulary import Mode

#: Reason recorded when the `Ifc-Deliveries` header of a record does not parse.
INVALID_DELIVERIES: Final = "invalid_deliveries"
#: Longest `detail` kept for an unreadable message.
DETAIL_LIMIT: Final = 500


class UnitDuty(StrEnum):
    """A unit's status in the projection: its reported status, or off shift."""

    AVAILABLE = "available"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    UNAVAILABLE = "unavailable"
    CHECKED_OUT = "checked_out"


class IncidentStatus(StrEnum):
    """Where an incident stands."""

    OPEN = "open"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AssignmentAnswer(StrEnum):
    """What became of one assignment."""

    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    DECLINED = "declined"
    SUPERSEDED = "superseded"


class PerimeterStatus(StrEnum):
    """Whether a security perimeter holds."""

    ESTABLISHED = "established"
    LIFTED = "lifted"


# --- decoding ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineRecord:
    """A decoded timeline record at its stream position.

    `envelope.sequence` is the stream sequence; `proposal_id` and `deliveries` come from the
    `Ifc-Proposal` and `Ifc-Deliveries` headers (None when absent)."""

    mode: Mode
    seq: int
    envelope: Envelope
    proposal_id: str | None = None
    deliveries: tuple[RecordDelivery, ...] | None = None

    @property
    def event_id(self) -> str:
        """The CloudEvents id."""
        return self.envelope.id


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A message that could not be decoded: where, why, and a fingerprint of its bytes."""

    mode: Mode
    seq: int
    subject: str
    msg_id: str | None
    reason: str
    detail: str
    size: int
    sha256: str

    @property
    def operation(self) -> str | None:
        """The operation its subject names (`ifc.<mode>.<operation>.timeline.…`), if any."""
        parts = self.subject.split(".")
        return parts[2] if len(parts) > 3 else None


Decoded = TimelineRecord | Unreadable


def decode_record(
    mode: Mode, seq: int, subject: str, headers: Mapping[str, str], body: bytes
) -> Decoded:
    """A stream message as a timeline record, or as an unreadable note (never raises)."""

    def unreadable(reason: str, detail: str) -> Unreadable:
        return Unreadable(
            mode=mode,
            seq=seq,
            subject=subject,
            msg_id=headers.get(MSG_ID_HEADER),
            reason=reason,
            detail=detail[:DETAIL_LIMIT],
            size=len(body),
            sha256=hashlib.sha256(body).hexdigest(),
        )

    try:
        envelope = from_structured(body)
    except EnvelopeError as exc:
        return unreadable(exc.code, exc.message)
    if envelope.mode is not mode:
        # Doctrine 8: what the other mode's timeline holds never enters this one's projection.
        return unreadable(
            ReasonCode.MODE_MISMATCH, f"a {envelope.mode.value} event in the {mode.value} stream"
        )
    deliveries: tuple[RecordDelivery, ...] | None = None
    routing = headers.get(DELIVERIES_HEADER)
    if routing is not None:
        try:
            deliveries = _routing(routing)
        except ValidationError as exc:
            # A record shown with the wrong routing would show an agency what it never got.
            return unreadable(INVALID_DELIVERIES, f"{exc.error_count()} invalid field(s)")
    return TimelineRecord(
        mode=mode,
        seq=seq,
        envelope=envelope.model_copy(update={"sequence": seq}),
        proposal_id=headers.get(PROPOSAL_HEADER),
        deliveries=deliveries,
    )


@functools.lru_cache(maxsize=4096)
def _routing(header: str) -> tuple[RecordDelivery, ...]:
    """`decode_deliveries`, remembered: a timeline carries few distinct routings (by type
    and proposer), and the decoded tuple of frozen models is shared safely."""
    return decode_deliveries(header)


# --- batches -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What to do with a batch, given the consumer's checkpoint.

    `records` and `unreadable` are the contiguous run after the checkpoint; `stale` are
    sequences already projected (redeliveries); `held` are sequences after a gap, to be
    redelivered once the missing ones are in; `checkpoint` is where the run ends.
    """

    records: tuple[TimelineRecord, ...]
    unreadable: tuple[Unreadable, ...]
    stale: tuple[int, ...]
    held: tuple[int, ...]
    checkpoint: int

    @property
    def advances(self) -> bool:
        """Whether anything new is written."""
        return bool(self.records or self.unreadable)


def plan_batch(checkpoint: int, items: Iterable[Decoded]) -> BatchPlan:
    """Plan a batch: skip what the checkpoint covers, take the contiguous run after it, hold
    the rest.

    The timeline stream captures only the timeline subjects of its mode, never deletes nor
    purges, so its sequences are contiguous and all ours: a gap means an earlier message is
    still on its way (redelivery after a failure, another instance's batch). Projecting past
    it would move the checkpoint over it and lose it.
    """
    records: list[TimelineRecord] = []
    unreadable: list[Unreadable] = []
    stale: list[int] = []
    held: list[int] = []
    expected = checkpoint + 1
    for item in sorted(items, key=lambda i: i.seq):
        if held or item.seq > expected:
            held.append(item.seq)
        elif item.seq < expected:
            stale.append(item.seq)
        else:
            if isinstance(item, TimelineRecord):
                records.append(item)
            else:
                unreadable.append(item)
            expected += 1
    return BatchPlan(tuple(records), tuple(unreadable), tuple(stale), tuple(held), expected - 1)


# --- projection rows -----------------------------------------------------------------------

UnitKey = tuple[str, str, str]
IncidentKey = tuple[str, str, str]
AssignmentKey = tuple[str, str, str, int]
PerimeterKey = tuple[str, str, str]
RejectionKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class UnitRow:
    """`units`: a unit's current status and last position."""

    mode: str
    operation: str
    unit: str
    agency: str
    status: str | None
    incident: str | None
    lon: float | None
    lat: float | None
    position_at: datetime | None
    armed: bool | None
    personnel: int | None
    vehicles: int | None
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    last_seq: int

    @property
    def key(self) -> UnitKey:
        """Primary key."""
        return (self.mode, self.operation, self.unit)


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """`incidents`: an incident's qualification, status and milestones."""

    mode: str
    operation: str
    incident: str
    category: str
    severity: str
    armed_threat: bool
    people_involved: int | None
    status: str
    reporter: str
    reporter_unit: str | None
    lon: float
    lat: float
    reported_at: datetime
    assignee: str | None
    assignee_unit: str | None
    current_assignment_seq: int | None
    first_assigned_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    outcome: str | None
    report_seq: int
    last_seq: int

    @property
    def key(self) -> IncidentKey:
        """Primary key."""
        return (self.mode, self.operation, self.incident)


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    """`incident_assignments`: one assignment and the assignee's answer."""

    mode: str
    operation: str
    incident: str
    assignment_seq: int
    assigned_by: str
    assignee: str
    assignee_unit: str | None
    instructions: str
    assigned_at: datetime
    answer: str
    answered_by: str | None
    answered_at: datetime | None
    answer_seq: int | None
    eta_minutes: int | None
    decline_reason: str | None

    @property
    def key(self) -> AssignmentKey:
        """Primary key."""
        return (self.mode, self.operation, self.incident, self.assignment_seq)


@dataclass(frozen=True, slots=True)
class PerimeterRow:
    """`security_perimeters`: a perimeter, established or lifted."""

    mode: str
    operation: str
    perimeter: str
    status: str
    incident: str | None
    reason: str | None
    area: str | None
    lon: float | None
    lat: float | None
    established_by: str | None
    established_at: datetime | None
    lifted_by: str | None
    lifted_at: datetime | None
    lift_reason: str | None
    last_seq: int

    @property
    def key(self) -> PerimeterKey:
        """Primary key."""
        return (self.mode, self.operation, self.perimeter)


@dataclass(frozen=True, slots=True)
class RejectionRow:
    """`rejections`: a refused proposal, with every reason."""

    mode: str
    event_id: str
    seq: int
    operation: str
    proposal_id: str
    proposal_type: str
    proposer: str | None
    credentials_agency: str | None
    proposal_subject: str | None
    reason_codes: tuple[str, ...]
    reasons: str
    competent_agencies: tuple[str, ...]
    rejected_at: datetime

    @property
    def key(self) -> RejectionKey:
        """Primary key."""
        return (self.mode, self.event_id)


Row = UnitRow | IncidentRow | AssignmentRow | PerimeterRow | RejectionRow


def columns(row_type: type[Row]) -> tuple[str, ...]:
    """The table columns of a row type, in order."""
    return tuple(f.name for f in fields(row_type))


def values(row: Row) -> tuple[Any, ...]:
    """A row's values in column order (lists for array columns)."""
    raw = (getattr(row, name) for name in columns(type(row)))
    return tuple(list(v) if isinstance(v, tuple) else v for v in raw)


_K = TypeVar("_K")
_V = TypeVar("_V")


def _frozen(rows: Mapping[_K, _V] | None = None) -> Mapping[_K, _V]:
    return MappingProxyType(dict(rows or {}))


@dataclass(frozen=True, slots=True)
class Projection:
    """Projection rows by key: the rows a fold reads, or the rows it writes."""

    units: Mapping[UnitKey, UnitRow] = field(default_factory=_frozen)
    incidents: Mapping[IncidentKey, IncidentRow] = field(default_factory=_frozen)
    assignments: Mapping[AssignmentKey, AssignmentRow] = field(default_factory=_frozen)
    perimeters: Mapping[PerimeterKey, PerimeterRow] = field(default_factory=_frozen)
    rejections: Mapping[RejectionKey, RejectionRow] = field(default_factory=_frozen)

    def __len__(self) -> int:
        return (
            len(self.units)
            + len(self.incidents)
            + len(self.assignments)
            + len(self.perimeters)
            + len(self.rejections)
        )

    @classmethod
    def of(cls, rows: Iterable[Row]) -> Projection:
        """A projection holding these rows."""
        state = _State(cls())
        for row in rows:
            state.put(row)
        return state.freeze()


@dataclass(frozen=True, slots=True)
class Keys:
    """The rows a fold of some records may read (assignments follow their incident)."""

    units: frozenset[UnitKey]
    incidents: frozenset[IncidentKey]
    perimeters: frozenset[PerimeterKey]


def keys_of(records: Iterable[TimelineRecord]) -> Keys:
    """Keys of the existing rows that folding these records may read."""
    units: set[UnitKey] = set()
    incidents: set[IncidentKey] = set()
    perimeters: set[PerimeterKey] = set()
    for record in records:
        env = record.envelope
        base = (record.mode.value, env.operation)
        data = env.data
        if isinstance(data, _UNIT_EVENTS):
            units.add((*base, data.unit))
        elif isinstance(data, _INCIDENT_KEYED):
            incidents.add((*base, data.incident))
        elif isinstance(data, SecurityPerimeterEstablished | SecurityPerimeterLifted):
            perimeters.add((*base, data.perimeter))
    return Keys(frozenset(units), frozenset(incidents), frozenset(perimeters))


def fold(before: Projection, records: Iterable[TimelineRecord]) -> Projection:
    """The rows after the records, applied in the order given (sequence order).

    `before` must hold every existing row `keys_of(records)` names, plus the current
    assignment of each of those incidents; other rows may be absent.
    """
    state = _State(before)
    for record in records:
        _apply(state, record)
    return state.freeze()


def changes(before: Projection, after: Projection) -> Projection:
    """The rows of `after` that are new or differ from `before` (what to write)."""

    def changed(old: Mapping[_K, _V], new: Mapping[_K, _V]) -> dict[_K, _V]:
        return {k: v for k, v in new.items() if old.get(k) != v}

    return Projection(
        units=_frozen(changed(before.units, after.units)),
        incidents=_frozen(changed(before.incidents, after.incidents)),
        assignments=_frozen(changed(before.assignments, after.assignments)),
        perimeters=_frozen(changed(before.perimeters, after.perimeters)),
        rejections=_frozen(changed(before.rejections, after.rejections)),
    )


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- the fold ------------------------------------------------------------------------------

_UnitEvent = UnitCheckedIn | UnitCheckedOut | UnitStatusChanged | UnitPositionReported
_IncidentEvent = (
    IncidentQualified
    | IncidentCorrected
    | IncidentAssigned
    | IncidentAcknowledged
    | IncidentDeclined
    | IncidentResolved
)
_UNIT_EVENTS = (UnitCheckedIn, UnitCheckedOut, UnitStatusChanged, UnitPositionReported)
_INCIDENT_EVENTS = (
    IncidentQualified,
    IncidentCorrected,
    IncidentAssigned,
    IncidentAcknowledged,
    IncidentDeclined,
    IncidentResolved,
)
_INCIDENT_KEYED = (IncidentReported, SiteIncidentReported, *_INCIDENT_EVENTS)


class _State:
    """Mutable working copy of a projection during one fold (never escapes `fold`)."""

    __slots__ = ("assignments", "incidents", "perimeters", "rejections", "units")

    def __init__(self, start: Projection) -> None:
        self.units = dict(start.units)
        self.incidents = dict(start.incidents)
        self.assignments = dict(start.assignments)
        self.perimeters = dict(start.perimeters)
        self.rejections = dict(start.rejections)

    def put(self, row: Row) -> None:
        match row:
            case UnitRow():
                self.units[row.key] = row
            case IncidentRow():
                self.incidents[row.key] = row
            case AssignmentRow():
                self.assignments[row.key] = row
            case PerimeterRow():
                self.perimeters[row.key] = row
            case RejectionRow():
                self.rejections[row.key] = row

    def freeze(self) -> Projection:
        return Projection(
            units=_frozen(self.units),
            incidents=_frozen(self.incidents),
            assignments=_frozen(self.assignments),
            perimeters=_frozen(self.perimeters),
            rejections=_frozen(self.rejections),
        )


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _apply(state: _State, record: TimelineRecord) -> None:
    data = record.envelope.data
    if isinstance(data, _UNIT_EVENTS):
        _apply_unit(state, record, data)
    elif isinstance(data, IncidentReported | SiteIncidentReported):
        _report_incident(state, record, data)
    elif isinstance(data, _INCIDENT_EVENTS):
        _apply_incident(state, record, data)
    elif isinstance(data, SecurityPerimeterEstablished | SecurityPerimeterLifted):
        _apply_perimeter(state, record, data)
    elif isinstance(data, PerimeterViolated):
        _reject(state, record, data)


def _apply_unit(state: _State, record: TimelineRecord, data: _UnitEvent) -> None:
    env = record.envelope
    key = (record.mode.value, env.operation, data.unit)
    at = _utc(env.time)
    row = state.units.get(key) or UnitRow(
        mode=key[0],
        operation=key[1],
        unit=key[2],
        agency=env.agency.value,
        status=None,
        incident=None,
        lon=None,
        lat=None,
        position_at=None,
        armed=None,
        personnel=None,
        vehicles=None,
        checked_in_at=None,
        checked_out_at=None,
        last_seq=record.seq,
    )
    match data:
        case UnitCheckedIn():
            row = replace(
                row,
                status=UnitDuty.AVAILABLE.value,
                incident=None,
                armed=data.armed,
                personnel=data.personnel,
                vehicles=data.vehicles,
                checked_in_at=at,
                checked_out_at=None,
            )
        case UnitCheckedOut():
            row = replace(row, status=UnitDuty.CHECKED_OUT.value, incident=None, checked_out_at=at)
        case UnitStatusChanged():
            row = replace(row, status=data.status.value, incident=data.incident)
        case UnitPositionReported():
            pass
    row = _moved(row, data.position, at)
    state.units[key] = replace(row, last_seq=record.seq)


def _moved(row: UnitRow, position: GeoPoint | None, at: datetime) -> UnitRow:
    """The unit at `position` unless it already has a later one (a report that arrives late
    must not move the unit back)."""
    if position is None or (row.position_at is not None and at < row.position_at):
        return row
    return replace(row, lon=position.lon, lat=position.lat, position_at=at)


def _report_incident(
    state: _State, record: TimelineRecord, data: IncidentReported | SiteIncidentReported
) -> None:
    env = record.envelope
    key = (record.mode.value, env.operation, data.incident)
    if key in state.incidents:
        return  # the first report names the incident; later ones are in the timeline only
    state.incidents[key] = IncidentRow(
        mode=key[0],
        operation=key[1],
        incident=key[2],
        category=data.category.value,
        severity=data.severity.value,
        armed_threat=data.armed_threat,
        people_involved=getattr(data, "people_involved", None),
        status=IncidentStatus.OPEN.value,
        reporter=env.agency.value,
        reporter_unit=env.unit,
        lon=data.position.lon,
        lat=data.position.lat,
        reported_at=_utc(env.time),
        assignee=None,
        assignee_unit=None,
        current_assignment_seq=None,
        first_assigned_at=None,
        acknowledged_at=None,
        resolved_at=None,
        outcome=None,
        report_seq=record.seq,
        last_seq=record.seq,
    )


def _apply_incident(state: _State, record: TimelineRecord, data: _IncidentEvent) -> None:
    env = record.envelope
    key = (record.mode.value, env.operation, data.incident)
    incident = state.incidents.get(key)
    if incident is None:
        return  # nothing to qualify, assign or close: the coordinator refuses these anyway
    at = _utc(env.time)
    current = (
        state.assignments.get((*key, incident.current_assignment_seq))
        if incident.current_assignment_seq is not None
        else None
    )
    pending = current if current and current.answer == AssignmentAnswer.PENDING else None
    resolved = incident.status == IncidentStatus.RESOLVED
    match data:
        case IncidentQualified():
            incident = replace(
                incident,
                category=data.category.value,
                severity=data.severity.value,
                armed_threat=data.armed_threat,
                people_involved=(
                    data.people_involved
                    if data.people_involved is not None
                    else incident.people_involved
                ),
            )
        case IncidentCorrected():
            incident = replace(
                incident,
                category=data.category.value if data.category else incident.category,
                severity=data.severity.value if data.severity else incident.severity,
                lon=data.position.lon if data.position else incident.lon,
                lat=data.position.lat if data.position else incident.lat,
            )
        case IncidentAssigned():
            if pending is not None:
                state.assignments[pending.key] = replace(
                    pending, answer=AssignmentAnswer.SUPERSEDED.value, answer_seq=record.seq
                )
            assignment = AssignmentRow(
                mode=key[0],
                operation=key[1],
                incident=key[2],
                assignment_seq=record.seq,
                assigned_by=env.agency.value,
                assignee=data.assignee.value,
                assignee_unit=data.assignee_unit,
                instructions=data.instructions,
                assigned_at=at,
                answer=AssignmentAnswer.PENDING.value,
                answered_by=None,
                answered_at=None,
                answer_seq=None,
                eta_minutes=None,
                decline_reason=None,
            )
            state.assignments[assignment.key] = assignment
            incident = replace(
                incident,
                status=incident.status if resolved else IncidentStatus.ASSIGNED.value,
                assignee=data.assignee.value,
                assignee_unit=data.assignee_unit,
                current_assignment_seq=record.seq,
                first_assigned_at=incident.first_assigned_at or at,
                acknowledged_at=None,
            )
        case IncidentAcknowledged():
            if pending is None:
                return  # nothing awaits an answer
            state.assignments[pending.key] = replace(
                pending,
                answer=AssignmentAnswer.ACKNOWLEDGED.value,
                answered_by=env.agency.value,
                answered_at=at,
                answer_seq=record.seq,
                eta_minutes=data.eta_minutes,
            )
            incident = replace(
                incident,
                status=incident.status if resolved else IncidentStatus.ACKNOWLEDGED.value,
                acknowledged_at=at,
            )
        case IncidentDeclined():
            if current is None or current.answer not in _DECLINABLE:
                return
            state.assignments[current.key] = replace(
                current,
                answer=AssignmentAnswer.DECLINED.value,
                answered_by=env.agency.value,
                answered_at=at,
                answer_seq=record.seq,
                decline_reason=data.reason,
            )
            # Back to the crisis cell to reassign, as the coordinator sees it.
            incident = replace(
                incident,
                status=incident.status if resolved else IncidentStatus.OPEN.value,
                assignee=None,
                assignee_unit=None,
                acknowledged_at=None,
            )
        case IncidentResolved():
            if resolved:
                return  # the first resolution closes it
            incident = replace(
                incident,
                status=IncidentStatus.RESOLVED.value,
                resolved_at=at,
                outcome=data.outcome,
            )
    state.incidents[key] = replace(incident, last_seq=record.seq)


_DECLINABLE: Final = frozenset(
    {AssignmentAnswer.PENDING.value, AssignmentAnswer.ACKNOWLEDGED.value}
)


def _apply_perimeter(
    state: _State,
    record: TimelineRecord,
    data: SecurityPerimeterEstablished | SecurityPerimeterLifted,
) -> None:
    env = record.envelope
    key = (record.mode.value, env.operation, data.perimeter)
    at = _utc(env.time)
    row = state.perimeters.get(key)
    if isinstance(data, SecurityPerimeterEstablished):
        state.perimeters[key] = PerimeterRow(
            mode=key[0],
            operation=key[1],
            perimeter=key[2],
            status=PerimeterStatus.ESTABLISHED.value,
            incident=data.incident,
            reason=data.reason,
            area=canonical_json(data.area.model_dump(mode="json")),
            lon=data.position.lon,
            lat=data.position.lat,
            established_by=env.agency.value,
            established_at=at,
            lifted_by=None,
            lifted_at=None,
            lift_reason=None,
            last_seq=record.seq,
        )
        return
    if row is None:
        # Lifted without a known establishment: keep the fact, the rest is unknown.
        row = PerimeterRow(
            mode=key[0],
            operation=key[1],
            perimeter=key[2],
            status=PerimeterStatus.LIFTED.value,
            incident=None,
            reason=None,
            area=None,
            lon=None,
            lat=None,
            established_by=None,
            established_at=None,
            lifted_by=None,
            lifted_at=None,
            lift_reason=None,
            last_seq=record.seq,
        )
    state.perimeters[key] = replace(
        row,
        status=PerimeterStatus.LIFTED.value,
        lifted_by=env.agency.value,
        lifted_at=at,
        lift_reason=data.reason,
        last_seq=record.seq,
    )


def _reject(state: _State, record: TimelineRecord, data: PerimeterViolated) -> None:
    env = record.envelope
    row = RejectionRow(
        mode=record.mode.value,
        event_id=env.id,
        seq=record.seq,
        operation=env.operation,
        proposal_id=data.proposal_id,
        proposal_type=data.proposal_type,
        proposer=data.proposer.value if data.proposer else None,
        credentials_agency=data.credentials_agency.value if data.credentials_agency else None,
        proposal_subject=data.proposal_subject,
        reason_codes=tuple(r.code.value for r in data.reasons),
        reasons=canonical_json([r.model_dump(mode="json") for r in data.reasons]),
        competent_agencies=tuple(a.value for a in data.competent_agencies),
        rejected_at=_utc(env.time),
    )
    state.rejections[row.key] = row
