"""The charter as frozen pydantic models, with every cross-reference checked.

A city security deputy writes it in YAML before the event (see `infra/charters/`).
Event types are written short (`incident.reported`) and stored full
(`fr.interforces.incident.reported`).
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Annotated, Literal, get_args

import shapely
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from contracts.events.base import EVENT_TYPE_PREFIX
from contracts.events.catalogue import EVENT_TYPES
from contracts.geo import Area, GeoPoint
from contracts.ids import OperationIdField, SectorIdField, UnitIdField
from contracts.text import FreeText, Reference, ShortText
from contracts.vocabulary import Agency, Capability, IncidentCategory, Mode, SectorKind

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def _full(value: str) -> str:
    """`incident.reported` → `fr.interforces.incident.reported`; full names stay."""
    return value if value.startswith(EVENT_TYPE_PREFIX) else EVENT_TYPE_PREFIX + value


def _full_event_type(value: str) -> str:
    full = _full(value)
    if full not in EVENT_TYPES:
        raise ValueError(f"unknown event type {value!r}")
    return full


EventTypeName = Annotated[
    str,
    AfterValidator(_full_event_type),
    Field(description="An event type of the catalogue, short (`incident.reported`) or full."),
]


def _type_pattern(value: str) -> str:
    full = _full(value)
    if not any(fnmatchcase(t, full) for t in EVENT_TYPES):
        raise ValueError(f"pattern {value!r} matches no event type")
    return full


EventTypePattern = Annotated[
    str,
    AfterValidator(_type_pattern),
    Field(description="An event type or a glob over types (`incident.*`, `*`)."),
]


class TimeWindow(BaseModel):
    """A half-open interval of time [start, end)."""

    model_config = _FROZEN

    start: AwareDatetime = Field(description="Start, RFC 3339 with offset.")
    end: AwareDatetime = Field(description="End (excluded), RFC 3339 with offset.")

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError("end must come after start")
        return self

    def contains(self, instant: datetime) -> bool:
        """Whether `instant` falls inside the window."""
        return self.start <= instant < self.end

    def covers(self, other: TimeWindow) -> bool:
        """Whether `other` lies entirely inside this window."""
        return self.start <= other.start and other.end <= self.end


class OperationHeader(BaseModel):
    """The operation this charter governs."""

    model_config = _FROZEN

    id: OperationIdField
    name: ShortText = Field(description="Name of the operation, as the crisis cell says it.")
    mode: Mode = Field(description="Live operation or exercise: the two never mix.")
    window: TimeWindow = Field(description="When the operation runs.")
    authority: ShortText = Field(description="Authority piloting it (prefect, mayor).")
    timezone: str = Field(default="Europe/Paris", description="Local time zone, for display.")
    description: FreeText = Field(default="", description="What the operation is about.")


class Sector(BaseModel):
    """A named area of the operation, as a GeoJSON polygon."""

    model_config = _FROZEN

    id: SectorIdField
    name: ShortText = Field(description="Name on the map.")
    kind: SectorKind = Field(description="What the sector is.")
    geometry: Area = Field(description="GeoJSON Polygon or MultiPolygon (WGS 84).")

    @model_validator(mode="after")
    def _valid_geometry(self) -> Sector:
        shape = shapely.geometry.shape(self.geometry.model_dump())
        if not shape.is_valid:
            raise ValueError(f"invalid geometry: {shapely.is_valid_reason(shape)}")
        if shape.area == 0:
            raise ValueError("geometry has no area")
        return self


class Unit(BaseModel):
    """A unit of an actor, authenticated by its agency's service."""

    model_config = _FROZEN

    id: UnitIdField
    name: ShortText | None = Field(default=None, description="Readable name of the unit.")
    armed: bool | None = Field(default=None, description="Armed; defaults to the actor's choice.")
    window: TimeWindow | None = Field(
        default=None, description="The unit's own service window (reinforcements)."
    )


class Competences(BaseModel):
    """What an actor may propose, and which incident categories it may handle."""

    model_config = _FROZEN

    events: tuple[EventTypeName, ...] = Field(description="Event types it may propose.")
    incident_categories: tuple[IncidentCategory, ...] = Field(
        default=(), description="Incident categories it handles: report, qualify, be assigned."
    )
    witness_categories: tuple[IncidentCategory, ...] = Field(
        default=(),
        description=(
            "Categories it may only report as a witness (a mediator signalling a fight), "
            "never handle nor be assigned."
        ),
    )


class Actor(BaseModel):
    """One agency's place and role in the operation, fixed before it."""

    model_config = _FROZEN

    agency: Agency = Field(description="The agency.")
    name: ShortText = Field(description="Who exactly (directorate, company, association).")
    units: tuple[Unit, ...] = Field(default=(), description="Its units.")
    sectors: tuple[SectorIdField, ...] = Field(description="Sectors where it may act.")
    competences: Competences = Field(description="What it may propose and handle.")
    window: TimeWindow | None = Field(
        default=None, description="Its service window; defaults to the operation's."
    )
    armed: bool = Field(
        default=False, description="Whether it is armed (municipal police: mayor's choice)."
    )
    capabilities: tuple[Capability, ...] = Field(default=(), description="Means it holds.")


class DroneAuthorisation(BaseModel):
    """A prefectoral authorisation of drone surveillance: event, sectors, window, order."""

    model_config = _FROZEN

    reference: Reference = Field(description="Order reference (arrêté préfectoral).")
    operator: Agency = Field(description="Agency allowed to fly.")
    sectors: tuple[SectorIdField, ...] = Field(min_length=1, description="Sectors flown over.")
    window: TimeWindow = Field(description="When flights are allowed.")
    max_altitude_m: int = Field(default=120, ge=1, le=120, description="Ceiling, metres.")
    purpose: ShortText = Field(description="Purpose stated in the order.")


class VideoExtractAuthorisation(BaseModel):
    """Who may request extracts of video-protection footage, and who grants them."""

    model_config = _FROZEN

    reference: Reference = Field(description="Reference of the authorisation.")
    requesters: tuple[Agency, ...] = Field(min_length=1, description="Agencies that may request.")
    granted_by: Agency = Field(description="Agency running the video-protection centre.")
    sectors: tuple[SectorIdField, ...] = Field(min_length=1, description="Sectors covered.")
    window: TimeWindow = Field(description="When requests are allowed.")


class VideoAnalyticsAuthorisation(BaseModel):
    """Algorithmic video analysis, for abandoned luggage only, in given sectors and window."""

    model_config = _FROZEN

    reference: Reference = Field(description="Reference of the authorisation.")
    operator: Agency = Field(description="Agency running the analysis.")
    categories: tuple[Literal["abandoned_luggage"], ...] = Field(
        default=("abandoned_luggage",), description="Detected categories: abandoned luggage only."
    )
    sectors: tuple[SectorIdField, ...] = Field(min_length=1, description="Sectors covered.")
    window: TimeWindow = Field(description="When the analysis may run.")


class Authorisations(BaseModel):
    """Legal authorisations of surveillance means for this operation."""

    model_config = _FROZEN

    drones: tuple[DroneAuthorisation, ...] = Field(default=(), description="Drone flights.")
    video_extracts: tuple[VideoExtractAuthorisation, ...] = Field(
        default=(), description="Video-protection extracts."
    )
    video_analytics: tuple[VideoAnalyticsAuthorisation, ...] = Field(
        default=(), description="Algorithmic video analysis."
    )


class Coarsening(BaseModel):
    """Coarsen a position field to a number of decimals (3 ≈ 100 m, 2 ≈ 1 km)."""

    model_config = _FROZEN

    field: str = Field(pattern=r"^[a-z_]+$", description="Payload field holding a position.")
    decimals: int = Field(ge=0, le=5, description="Decimals kept on lon and lat.")


class DistributionRule(BaseModel):
    """Who receives which accepted events, with which fields removed or coarsened.

    For each recipient, the first rule that names it and matches the type applies.
    Doctrine always wins over rules: private security only gets its own sectors and public
    alerts; restricted events only go to their agency and the crisis cell.
    """

    model_config = _FROZEN

    recipients: tuple[Agency, ...] = Field(min_length=1, description="Who receives.")
    types: tuple[EventTypePattern, ...] = Field(min_length=1, description="Which event types.")
    scope: Literal["all", "own_sectors"] = Field(
        default="all", description="All events, or only those in the recipient's sectors."
    )
    remove: tuple[Annotated[str, Field(pattern=r"^[a-z_]+$")], ...] = Field(
        default=(), description="Payload fields removed before delivery."
    )
    coarsen: tuple[Coarsening, ...] = Field(default=(), description="Positions coarsened.")


class Charter(BaseModel):
    """An operation charter: the perimeter of every actor, fixed before the event."""

    model_config = _FROZEN

    operation: OperationHeader = Field(description="The operation.")
    sectors: tuple[Sector, ...] = Field(min_length=1, description="Sectors of the operation.")
    actors: tuple[Actor, ...] = Field(min_length=1, description="Actors and their perimeters.")
    authorisations: Authorisations = Field(
        default_factory=Authorisations, description="Surveillance authorisations."
    )
    distribution: tuple[DistributionRule, ...] = Field(
        default=(), description="Who receives what, in which form (first match per recipient)."
    )
    future_tolerance_s: int = Field(
        default=120, ge=0, le=3600, description="Clock skew tolerated on event times, seconds."
    )

    @model_validator(mode="after")
    def _cross_references(self) -> Charter:
        problems = reference_problems(self)
        if problems:
            raise PydanticCustomError(
                CROSS_REFERENCE_ERROR,
                "{summary}",
                {"summary": "; ".join(m for _, m in problems), "problems": problems},
            )
        return self

    def actor(self, agency: Agency) -> Actor | None:
        """The actor of an agency, if the charter has one."""
        return next((a for a in self.actors if a.agency is agency), None)


#: Pydantic error type of cross-reference faults; its context lists (location, message).
CROSS_REFERENCE_ERROR = "charter_reference"

Location = tuple[str | int, ...]
_Authorisation = DroneAuthorisation | VideoExtractAuthorisation | VideoAnalyticsAuthorisation
Problem = tuple[Location, str]


def reference_problems(charter: Charter) -> list[Problem]:
    """Every broken cross-reference in a charter, each with where it is."""
    problems: list[Problem] = []
    sector_ids = [s.id for s in charter.sectors]
    _duplicates(problems, ("sectors",), "id", sector_ids)
    _duplicates(problems, ("actors",), "agency", [a.agency.value for a in charter.actors])
    known = set(sector_ids)
    seen_units: set[str] = set()
    for i, actor in enumerate(charter.actors):
        here: Location = ("actors", i)
        _unknown(problems, (*here, "sectors"), actor.sectors, known)
        for j, unit in enumerate(actor.units):
            if unit.id in seen_units:
                problems.append(((*here, "units", j, "id"), f"duplicate unit id {unit.id!r}"))
            seen_units.add(unit.id)
        for j, event_type in enumerate(actor.competences.events):
            traits = EVENT_TYPES[event_type].TRAITS
            if traits.coordinator_only or not traits.shareable:
                problems.append(
                    (
                        (*here, "competences", "events", j),
                        f"{event_type} cannot be proposed (coordinator-only or not shareable)",
                    )
                )
        if actor.agency is Agency.EXERCISE_CONTROL and charter.operation.mode is not Mode.EXERCISE:
            problems.append(((*here, "agency"), "exercise_control only exists in exercises"))
    auth = charter.authorisations
    grouped: tuple[tuple[str, Sequence[_Authorisation]], ...] = (
        ("drones", auth.drones),
        ("video_extracts", auth.video_extracts),
        ("video_analytics", auth.video_analytics),
    )
    for kind, items in grouped:
        for i, item in enumerate(items):
            _unknown(problems, ("authorisations", kind, i, "sectors"), item.sectors, known)
    every: list[_Authorisation] = [*auth.drones, *auth.video_extracts, *auth.video_analytics]
    references = [x.reference for x in every]
    _duplicates(problems, ("authorisations",), "reference", references)
    for i, rule in enumerate(charter.distribution):
        problems.extend((("distribution", i), m) for m in _rule_problems(rule))
    return problems


def _rule_problems(rule: DistributionRule) -> list[str]:
    """A removed field must have a default in every matched type (the redacted copy stays a
    valid event, with that field reset); a coarsened field must be a position."""
    matched = [cls for t, cls in EVENT_TYPES.items() if any(fnmatchcase(t, p) for p in rule.types)]
    problems: list[str] = []
    for name in rule.remove:
        carriers = [cls for cls in matched if name in cls.model_fields]
        if not carriers:
            problems.append(f"no type this rule matches has a field {name!r}")
        for cls in carriers:
            if cls.model_fields[name].is_required():
                problems.append(
                    f"{name!r} is required in {cls.model_fields['type'].default}: "
                    "it cannot be removed (coarsen it, or narrow the types)"
                )
    for coarsening in rule.coarsen:
        carriers = [cls for cls in matched if coarsening.field in cls.model_fields]
        if not carriers:
            problems.append(f"no type this rule matches has a field {coarsening.field!r}")
        for cls in carriers:
            if not _is_position(cls, coarsening.field):
                problems.append(f"{coarsening.field!r} of {cls.__name__} is not a position")
    return problems


def _is_position(cls: type[BaseModel], name: str) -> bool:
    annotation = cls.model_fields[name].annotation
    return annotation is GeoPoint or GeoPoint in get_args(annotation)


def _duplicates(problems: list[Problem], where: Location, what: str, values: Sequence[str]) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            problems.append(((*where, i), f"duplicate {what} {value!r}"))
        seen.add(value)


def _unknown(
    problems: list[Problem], where: Location, sectors: Sequence[str], known: AbstractSet[str]
) -> None:
    for i, sector in enumerate(sectors):
        if sector not in known:
            problems.append(((*where, i), f"unknown sector {sector!r}"))
