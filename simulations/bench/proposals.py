"""Realistic proposals drawn from a charter, for the perimeter benchmark.

Most proposals are what an event night is made of: the units of every actor reporting their
position and status from inside their own sectors, incidents in the categories each actor
handles, screening figures from private security at the entrances, drone take-offs inside
the prefectoral authorisation, crowd densities, mediations. A share (15 % by default) is
deliberately out of the perimeter — wrong sector, wrong category, out of window, missing
capability, identity mismatch — so that both outcomes are measured.

Every proposal is built (and validated by pydantic) here, before any timing: the benchmark
measures `decide`, not parsing. The same seed gives the same proposals.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import accumulate
from typing import Any, Literal

import shapely
from shapely.geometry import shape

from contracts import subjects
from contracts.charter import Actor, Charter, DroneAuthorisation, TimeWindow, Unit
from contracts.envelope import Envelope
from contracts.events.catalogue import EVENT_TYPES, Event
from contracts.events.incidents import IncidentReported
from contracts.events.mediation import (
    HelpRequested,
    HelpSituation,
    MediationStarted,
    MediationTopic,
)
from contracts.events.private_security import EntranceScreeningReported, SiteIncidentReported
from contracts.events.public_safety import (
    CrowdDensityReported,
    DensityTrend,
    SecurityPerimeterEstablished,
)
from contracts.events.surveillance import DroneFlightStarted
from contracts.events.units import UnitPositionReported, UnitStatusChanged
from contracts.geo import GeoPoint, Polygon
from contracts.ids import EventId, IncidentId, SectorId, UnitId
from contracts.vocabulary import (
    Agency,
    Capability,
    IncidentCategory,
    SectorKind,
    Severity,
    UnitStatus,
)
from services.coordinator.perimeter.decision import Proposal

Geometry = Any  # shapely geometries are untyped


class CaseKind(StrEnum):
    """What a generated proposal is meant to be."""

    IN_PERIMETER = "in_perimeter"
    WRONG_SECTOR = "wrong_sector"
    WRONG_CATEGORY = "wrong_category"
    OUT_OF_WINDOW = "out_of_window"
    MISSING_CAPABILITY = "missing_capability"
    IDENTITY_MISMATCH = "identity_mismatch"


#: The deliberate faults, drawn uniformly among those the charter makes possible.
OUT_OF_PERIMETER: tuple[CaseKind, ...] = tuple(
    k for k in CaseKind if k is not CaseKind.IN_PERIMETER
)


@dataclass(frozen=True, slots=True)
class Case:
    """A proposal ready for `decide`, with what it was generated to be."""

    proposal: Proposal
    kind: CaseKind


def generate(
    charter: Charter, count: int, *, seed: int = 0, out_of_perimeter: float = 0.15
) -> list[Case]:
    """`count` proposals against `charter`, a share `out_of_perimeter` of them faulty."""
    if not 0.0 <= out_of_perimeter <= 1.0:
        raise ValueError("out_of_perimeter must lie in [0, 1]")
    generator = ProposalGenerator(charter, random.Random(seed))  # noqa: S311 (reproducible data)
    faults = list(OUT_OF_PERIMETER)
    cases: list[Case] = []
    while len(cases) < count:
        rng = generator.rng
        kind = CaseKind.IN_PERIMETER
        if faults and rng.random() < out_of_perimeter:
            kind = rng.choice(faults)
        case = generator.attempt(kind)
        if case is not None:
            cases.append(case)
        elif kind is CaseKind.IN_PERIMETER:
            raise ValueError("this charter lets no actor propose any generated event type")
        else:
            faults.remove(kind)  # this charter makes that fault impossible
    return cases


# --- the draft of one event ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Draft:
    """What an event builder needs: who, where, when, and the case's particulars."""

    rng: random.Random
    serial: int
    unit: Unit | None
    position: GeoPoint
    instant: datetime
    category: IncidentCategory | None
    authorisation: DroneAuthorisation | None

    def unit_id(self) -> UnitId:
        if self.unit is None:
            raise ValueError("this event type needs a unit")
        return self.unit.id

    def category_or(self, fallback: IncidentCategory) -> IncidentCategory:
        return self.category if self.category is not None else fallback


def _position_reported(d: _Draft) -> Event:
    return UnitPositionReported(
        unit=d.unit_id(),
        position=d.position,
        heading=round(d.rng.uniform(0, 359.9), 1),
        speed_kmh=round(d.rng.uniform(0, 8), 1),
    )


def _status_changed(d: _Draft) -> Event:
    return UnitStatusChanged(
        unit=d.unit_id(), status=d.rng.choice(tuple(UnitStatus)), position=d.position
    )


def _incident_reported(d: _Draft) -> Event:
    return IncidentReported(
        incident=IncidentId(f"INC-{d.serial:06d}"),
        category=d.category_or(IncidentCategory.INCIVILITY),
        severity=d.rng.choice(tuple(Severity)),
        position=d.position,
        people_involved=d.rng.randint(1, 30),
        description="Signalé par une patrouille.",
    )


def _site_incident_reported(d: _Draft) -> Event:
    return SiteIncidentReported(
        incident=IncidentId(f"SITE-{d.serial:06d}"),
        category=d.category_or(IncidentCategory.ENTRANCE_INCIDENT),
        severity=d.rng.choice(tuple(Severity)),
        position=d.position,
        description="Constaté par un agent de sécurité.",
    )


def _screening_reported(d: _Draft) -> Event:
    screened = d.rng.randint(200, 4000)
    return EntranceScreeningReported(
        position=d.position,
        period_start=d.instant - timedelta(minutes=15),
        period_end=d.instant,
        persons_screened=screened,
        items_refused=d.rng.randint(0, screened // 50),
        entries_refused=d.rng.randint(0, 12),
        queue_minutes=d.rng.randint(0, 45),
    )


def _density_reported(d: _Draft) -> Event:
    return CrowdDensityReported(
        position=d.position,
        persons_per_m2=round(d.rng.uniform(0.3, 4.5), 1),
        trend=d.rng.choice(tuple(DensityTrend)),
    )


def _mediation_started(d: _Draft) -> Event:
    return MediationStarted(
        mediation=f"MED-{d.serial:06d}",
        topic=d.rng.choice(tuple(MediationTopic)),
        position=d.position,
        case_notes="Échange apaisé, orientation vers le poste de secours.",
    )


def _help_requested(d: _Draft) -> Event:
    return HelpRequested(
        request=f"AIDE-{d.serial:06d}",
        situation=d.rng.choice(tuple(HelpSituation)),
        position=d.position,
        relayed_by="Buvette du parvis",
    )


def _drone_flight_started(d: _Draft) -> Event:
    auth = d.authorisation
    return DroneFlightStarted(
        flight=f"VOL-{d.serial:06d}",
        authorisation=auth.reference if auth else "Arrêté inexistant",
        position=d.position,
        max_altitude_m=d.rng.randint(30, auth.max_altitude_m if auth else 120),
        purpose=auth.purpose if auth else "Surveillance des flux",
    )


def _perimeter_established(d: _Draft) -> Event:
    lon, lat, r = d.position.lon, d.position.lat, 0.0003
    ring = [(lon - r, lat - r), (lon + r, lat - r), (lon + r, lat + r), (lon - r, lat + r)]
    return SecurityPerimeterEstablished(
        perimeter=f"PS-{d.serial:06d}",
        area=Polygon(type="Polygon", coordinates=[[*ring, ring[0]]]),
        position=d.position,
        reason="Colis suspect : levée de doute en cours",
    )


@dataclass(frozen=True, slots=True)
class _Spec:
    """How to generate one event type, and how often an event night sees it."""

    type: str
    weight: int
    build: Callable[[_Draft], Event]
    needs_unit: bool = False
    categorised: bool = False
    drone: bool = False
    kinds: frozenset[SectorKind] = frozenset()  # preferred sector kinds, if the actor has any


def _spec(cls: type[Any], weight: int, build: Callable[[_Draft], Event], **kw: Any) -> _Spec:
    return _Spec(str(cls.model_fields["type"].default), weight, build, **kw)


_VENUE = frozenset({SectorKind.VENUE_INTERIOR, SectorKind.VENUE_ENTRANCE})
_SPECS: tuple[_Spec, ...] = (
    _spec(UnitPositionReported, 50, _position_reported, needs_unit=True),
    _spec(UnitStatusChanged, 20, _status_changed, needs_unit=True),
    _spec(IncidentReported, 8, _incident_reported, categorised=True),
    _spec(SiteIncidentReported, 4, _site_incident_reported, categorised=True, kinds=_VENUE),
    _spec(
        EntranceScreeningReported,
        6,
        _screening_reported,
        kinds=frozenset({SectorKind.VENUE_ENTRANCE}),
    ),
    _spec(CrowdDensityReported, 4, _density_reported),
    _spec(MediationStarted, 3, _mediation_started),
    _spec(HelpRequested, 2, _help_requested),
    _spec(DroneFlightStarted, 2, _drone_flight_started, drone=True),
    _spec(SecurityPerimeterEstablished, 1, _perimeter_established),
)


# --- the generator ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ActorInfo:
    actor: Actor
    events: frozenset[str]
    allowed_categories: tuple[IncidentCategory, ...]
    territory: Geometry


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where and when an event may be placed for one actor, unit and type."""

    sectors: tuple[str, ...]
    window: tuple[datetime, datetime]
    authorisation: DroneAuthorisation | None


class ProposalGenerator:
    """Draws proposals from a charter: whole cases (`attempt`), or the next event of a given
    unit slot at a given instant (`unit_event`, `incident`), as a load generator schedules
    them."""

    def __init__(self, charter: Charter, rng: random.Random) -> None:
        self.charter = charter
        self.rng = rng
        self.serial = 0
        self.operation = charter.operation
        self.geometries: dict[str, Geometry] = {}
        self.kinds: dict[str, SectorKind] = {}
        for sector in charter.sectors:
            geometry = shape(sector.geometry.model_dump())
            shapely.prepare(geometry)
            self.geometries[sector.id] = geometry
            self.kinds[sector.id] = sector.kind
        self.actors: list[_ActorInfo] = []
        for actor in charter.actors:
            territory = shapely.union_all([self.geometries[s] for s in actor.sectors])
            shapely.prepare(territory)
            competences = actor.competences
            allowed = {*competences.incident_categories, *competences.witness_categories}
            self.actors.append(
                _ActorInfo(
                    actor,
                    frozenset(competences.events),
                    tuple(sorted(allowed)),
                    territory,
                )
            )
        # Agencies with more units report more: one slot per unit (one per unit-less actor).
        self.slots: list[tuple[_ActorInfo, Unit | None]] = [
            (info, unit) for info in self.actors for unit in (info.actor.units or (None,))
        ]
        # What a slot proposes, as often as an event night sees it.
        self.choices = [
            (info, unit, s) for info, unit in self.slots for s in self._specs_for(info, unit)
        ]
        self.cum_weights = list(accumulate(s.weight for _, _, s in self.choices))

    # -- cases

    def attempt(self, kind: CaseKind) -> Case | None:
        """A case of that kind, or None when the charter does not allow one after many tries."""
        make = {
            CaseKind.IN_PERIMETER: self._in_perimeter,
            CaseKind.WRONG_SECTOR: self._wrong_sector,
            CaseKind.WRONG_CATEGORY: self._wrong_category,
            CaseKind.OUT_OF_WINDOW: self._out_of_window,
            CaseKind.MISSING_CAPABILITY: self._missing_capability,
            CaseKind.IDENTITY_MISMATCH: self._identity_mismatch,
        }[kind]
        for _ in range(200):
            proposal = make()
            if proposal is not None:
                return Case(proposal, kind)
        return None

    def _in_perimeter(self) -> Proposal | None:
        picked = self._valid_draft()
        if picked is None:
            return None
        info, spec, draft, sector = picked
        return self._proposal(info, spec, draft, sector)

    def _wrong_sector(self) -> Proposal | None:
        picked = self._valid_draft()
        if picked is None:
            return None
        info, spec, draft, own_sector = picked
        foreign = [s for s in self.geometries if s not in info.actor.sectors]
        if not foreign:
            return None
        sector = self.rng.choice(foreign)
        point = self._point_in(self.geometries[sector], avoid=info.territory)
        if point is None:
            return None
        draft = replace(draft, position=point)
        # Claimed in the foreign sector, in one of its own sectors, or in none.
        claimed = self.rng.choice((sector, own_sector, None))
        return self._proposal(info, spec, draft, claimed)

    def _wrong_category(self) -> Proposal | None:
        info, unit = self.rng.choice(self.slots)
        forbidden = [c for c in IncidentCategory if c not in info.allowed_categories]
        specs = [s for s in self._specs_for(info, unit) if s.categorised]
        if not forbidden or not specs:
            return None
        spec = self.rng.choice(specs)
        picked = self._draft(info, unit, spec, category=self.rng.choice(forbidden))
        if picked is None:
            return None
        draft, sector = picked
        return self._proposal(info, spec, draft, sector)

    def _out_of_window(self) -> Proposal | None:
        picked = self._valid_draft()
        if picked is None:
            return None
        info, spec, draft, sector = picked
        op = self.operation.window
        hours = timedelta(hours=3)
        gaps = [(op.start - hours, op.start), (op.end, op.end + hours)]
        for window in (info.actor.window, draft.unit.window if draft.unit else None):
            if window is not None:
                gaps += [(op.start, window.start), (window.end, op.end)]
        start, end = self.rng.choice([(a, b) for a, b in gaps if b > a])
        draft = replace(draft, instant=self._instant_in(start, end))
        return self._proposal(info, spec, draft, sector)

    def _missing_capability(self) -> Proposal | None:
        info, unit = self.rng.choice(self.slots)
        lacking = [
            s
            for s in _SPECS
            if (needed := _capability(s)) is not None
            and needed not in info.actor.capabilities
            and (unit is not None or not s.needs_unit)
        ]
        if not lacking:
            return None
        # Prefer a type the actor may propose, so that only the capability is missing.
        competent = [s for s in lacking if s.type in info.events]
        spec = self.rng.choice(competent or lacking)
        category = self.rng.choice(info.allowed_categories) if info.allowed_categories else None
        picked = self._draft(info, unit, spec, category=category, check_competence=False)
        if picked is None:
            return None
        draft, sector = picked
        return self._proposal(info, spec, draft, sector)

    def _identity_mismatch(self) -> Proposal | None:
        picked = self._valid_draft()
        if picked is None:
            return None
        info, spec, draft, sector = picked
        agency = info.actor.agency
        others = [a.actor.agency for a in self.actors if a.actor.agency is not agency]
        other = self.rng.choice(others or [a for a in Agency if a is not agency])
        match self.rng.randrange(3):
            case 0:  # someone else's credentials
                return self._proposal(info, spec, draft, sector, credentials=other)
            case 1:  # published on another agency's subject
                return self._proposal(info, spec, draft, sector, subject_agency=other)
            case _:  # no authenticated credentials at all
                return self._proposal(info, spec, draft, sector, credentials=None)

    # -- scheduled events (the load generator)

    def unit_event(self, slot: int, event_type: str, instant: datetime) -> Proposal | None:
        """An in-perimeter event of `event_type` by the unit of slot `slot` (see `slots`),
        placed at `instant` (folded into the unit's window); None if it may not propose it."""
        info, unit = self.slots[slot]
        spec = _SPEC_BY_TYPE.get(event_type)
        if spec is None or spec not in self._specs_for(info, unit):
            return None
        category = self.rng.choice(info.allowed_categories) if spec.categorised else None
        picked = self._draft(info, unit, spec, category=category, instant=instant)
        if picked is None:
            return None
        draft, sector = picked
        return self._proposal(info, spec, draft, sector)

    def fault(self, kind: CaseKind) -> Proposal | None:
        """A deliberately faulty proposal of that kind (None when the charter allows none)."""
        case = self.attempt(kind)
        return case.proposal if case is not None else None

    # -- drafts

    def _valid_draft(self) -> tuple[_ActorInfo, _Spec, _Draft, str] | None:
        if not self.choices:
            return None
        info, unit, spec = self.rng.choices(self.choices, cum_weights=self.cum_weights)[0]
        category = None
        if spec.categorised:
            if not info.allowed_categories:
                return None
            category = self.rng.choice(info.allowed_categories)
        picked = self._draft(info, unit, spec, category=category)
        if picked is None:
            return None
        draft, sector = picked
        return info, spec, draft, sector

    def _specs_for(self, info: _ActorInfo, unit: Unit | None) -> list[_Spec]:
        return [
            s
            for s in _SPECS
            if s.type in info.events
            and (unit is not None or not s.needs_unit)
            and (not s.categorised or info.allowed_categories)
        ]

    def _draft(
        self,
        info: _ActorInfo,
        unit: Unit | None,
        spec: _Spec,
        *,
        category: IncidentCategory | None,
        check_competence: bool = True,
        instant: datetime | None = None,
    ) -> tuple[_Draft, str] | None:
        plan = self._plan(info, unit, spec) if check_competence else self._plain_plan(info, unit)
        if plan is None:
            return None
        sector = self.rng.choice(plan.sectors)
        point = self._point_in(self.geometries[sector])
        if point is None:
            return None
        self.serial += 1
        draft = _Draft(
            rng=self.rng,
            serial=self.serial,
            unit=unit,
            position=point,
            instant=_fold_into(instant, plan.window) if instant else self._instant_in(*plan.window),
            category=category,
            authorisation=plan.authorisation,
        )
        return draft, sector

    def _plain_plan(self, info: _ActorInfo, unit: Unit | None) -> _Plan | None:
        window = _intersection(
            self.operation.window, info.actor.window, unit.window if unit else None
        )
        if window is None:
            return None
        return _Plan(info.actor.sectors, window, None)

    def _plan(self, info: _ActorInfo, unit: Unit | None, spec: _Spec) -> _Plan | None:
        plain = self._plain_plan(info, unit)
        if plain is None:
            return None
        if spec.drone:
            auths = [
                a
                for a in self.charter.authorisations.drones
                if a.operator is info.actor.agency
                and set(a.sectors) & set(plain.sectors)
                and _intersection(a.window, plain.window) is not None
            ]
            if not auths:
                return None
            auth = self.rng.choice(auths)
            window = _intersection(auth.window, plain.window)
            sectors = tuple(s for s in plain.sectors if s in auth.sectors)
            return _Plan(sectors, window, auth) if window else None
        preferred = tuple(s for s in plain.sectors if self.kinds[s] in spec.kinds)
        return _Plan(preferred or plain.sectors, plain.window, None)

    def _point_in(self, geometry: Geometry, avoid: Geometry = None) -> GeoPoint | None:
        """A random point strictly inside `geometry` (and not touching `avoid`)."""
        minx, miny, maxx, maxy = geometry.bounds
        for _ in range(1000):
            # Rounded as a GPS fix is (about 10 cm), then tested: never on an edge.
            lon = round(self.rng.uniform(minx, maxx), 6)
            lat = round(self.rng.uniform(miny, maxy), 6)
            if shapely.contains_xy(geometry, lon, lat) and (
                avoid is None or not shapely.intersects_xy(avoid, lon, lat)
            ):
                return GeoPoint(lon=lon, lat=lat)
        return None

    def _instant_in(self, start: datetime, end: datetime) -> datetime:
        span_ms = int((end - start) / timedelta(milliseconds=1))
        return start + timedelta(milliseconds=self.rng.randrange(max(span_ms, 1)))

    # -- proposals

    def _proposal(
        self,
        info: _ActorInfo,
        spec: _Spec,
        draft: _Draft,
        sector: str | None,
        *,
        credentials: Agency | Literal["own"] | None = "own",
        subject_agency: Agency | None = None,
    ) -> Proposal:
        agency = info.actor.agency
        payload = spec.build(draft)
        operation = self.operation
        unit = draft.unit
        envelope = Envelope(
            id=EventId(str(uuid.UUID(int=self.rng.getrandbits(128), version=4))),
            source=f"urn:interforces:{agency.value}:{unit.id if unit else 'service'}",
            type=payload.type,
            time=draft.instant,
            operation=operation.id,
            mode=operation.mode,
            agency=agency,
            unit=unit.id if unit else None,
            sector=SectorId(sector) if sector else None,
            classification=type(payload).TRAITS.classification,
            data=payload,
        )
        return Proposal(
            envelope=envelope,
            subject=subjects.proposal(
                operation.mode, operation.id, subject_agency or agency, payload.type
            ),
            credentials_agency=agency if credentials == "own" else credentials,
            received_at=draft.instant + timedelta(milliseconds=self.rng.randint(20, 1500)),
        )


_SPEC_BY_TYPE: dict[str, _Spec] = {s.type: s for s in _SPECS}


def _fold_into(instant: datetime, window: tuple[datetime, datetime]) -> datetime:
    """`instant` if inside the window, else folded into it (modulo its length)."""
    start, end = window
    if start <= instant < end:
        return instant
    return start + (instant - start) % (end - start)


def _capability(spec: _Spec) -> Capability | None:
    return EVENT_TYPES[spec.type].TRAITS.capability


def _intersection(
    *windows: TimeWindow | tuple[datetime, datetime] | None,
) -> tuple[datetime, datetime] | None:
    """The common part of some windows (None ones ignored), or None when they do not meet."""
    bounds = [(w.start, w.end) if isinstance(w, TimeWindow) else w for w in windows if w]
    start = max(b[0] for b in bounds)
    end = min(b[1] for b in bounds)
    return (start, end) if end > start else None
