"""A charter compiled for fast decisions: lookups as sets, territories as prepared geometry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import shapely
from shapely.geometry import shape

from contracts.charter import (
    Actor,
    Charter,
    DistributionRule,
    DroneAuthorisation,
    TimeWindow,
    Unit,
    VideoAnalyticsAuthorisation,
    VideoExtractAuthorisation,
)
from contracts.events.catalogue import EVENT_TYPES
from contracts.vocabulary import Agency, Capability, IncidentCategory
from services.coordinator.perimeter.decision import Delivery

Geometry = Any  # shapely geometries are untyped


@dataclass(frozen=True, slots=True)
class Territory:
    """A union of sectors, prepared for point-in-polygon tests."""

    geometry: Geometry

    def contains(self, lon: float, lat: float) -> bool:
        """Whether the point lies inside (or on the edge of) the territory."""
        return bool(shapely.intersects_xy(self.geometry, lon, lat))


def territory_of(geometries: list[Geometry]) -> Territory:
    """The prepared union of some sector geometries (empty when none)."""
    union = shapely.union_all(geometries) if geometries else shapely.Polygon()
    shapely.prepare(union)
    return Territory(union)


@dataclass(frozen=True, slots=True)
class Window:
    """A time window in UTC: comparing datetimes of one time zone skips offset arithmetic."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, window: TimeWindow) -> Window:
        """The UTC form of a charter window."""
        return cls(window.start.astimezone(UTC), window.end.astimezone(UTC))

    def contains(self, instant_utc: datetime) -> bool:
        """Whether a UTC instant falls inside [start, end)."""
        return self.start <= instant_utc < self.end


@dataclass(frozen=True, slots=True)
class CompiledActor:
    """An actor's perimeter as sets and a prepared territory."""

    actor: Actor
    agency: Agency
    events: frozenset[str]
    categories: frozenset[IncidentCategory]
    witness_categories: frozenset[IncidentCategory]
    capabilities: frozenset[Capability]
    units: Mapping[str, Unit]
    sectors: frozenset[str]
    territory: Territory
    window: Window
    unit_windows: Mapping[str, Window]
    armed: bool

    def unit_armed(self, unit: str) -> bool:
        """Whether a unit may carry weapons (its own setting, else the actor's)."""
        own = self.units[unit].armed if unit in self.units else None
        return self.armed if own is None else own

    def on_duty(self, unit: str | None, instant_utc: datetime) -> bool:
        """Whether the actor, and the unit if named, are inside their service window."""
        if not self.window.contains(instant_utc):
            return False
        window = self.unit_windows.get(unit) if unit is not None else None
        return window is None or window.contains(instant_utc)


@dataclass(frozen=True, slots=True)
class Route:
    """A recipient of an event type under the charter's distribution: its first matching rule."""

    actor: CompiledActor
    rule: DistributionRule
    delivery: Delivery


@dataclass(frozen=True, slots=True)
class CompiledCharter:
    """Everything `decide` reads, precomputed once per charter."""

    charter: Charter
    actors: Mapping[Agency, CompiledActor]
    sectors: Mapping[str, Territory]
    drones: Mapping[str, tuple[DroneAuthorisation, Territory]]
    video_extracts: Mapping[str, tuple[VideoExtractAuthorisation, Territory]]
    video_analytics: tuple[tuple[VideoAnalyticsAuthorisation, Territory], ...]
    routes: Mapping[str, tuple[Route, ...]]
    window: Window
    future_tolerance: timedelta


def compile_charter(charter: Charter) -> CompiledCharter:
    """Compile a validated charter."""
    geometries: dict[str, Geometry] = {
        s.id: shape(s.geometry.model_dump()) for s in charter.sectors
    }

    def territory(ids: tuple[str, ...]) -> Territory:
        return territory_of([geometries[i] for i in ids])

    actors = {
        actor.agency: CompiledActor(
            actor=actor,
            agency=actor.agency,
            events=frozenset(actor.competences.events),
            categories=frozenset(actor.competences.incident_categories),
            witness_categories=frozenset(actor.competences.witness_categories),
            capabilities=frozenset(actor.capabilities),
            units={u.id: u for u in actor.units},
            sectors=frozenset(actor.sectors),
            territory=territory(actor.sectors),
            window=Window.of(actor.window or charter.operation.window),
            unit_windows={u.id: Window.of(u.window) for u in actor.units if u.window is not None},
            armed=actor.armed,
        )
        for actor in charter.actors
    }
    auth = charter.authorisations
    routes = {event_type: _routes(event_type, actors, charter) for event_type in EVENT_TYPES}
    return CompiledCharter(
        charter=charter,
        actors=actors,
        sectors={i: territory_of([g]) for i, g in geometries.items()},
        drones={d.reference: (d, territory(d.sectors)) for d in auth.drones},
        video_extracts={v.reference: (v, territory(v.sectors)) for v in auth.video_extracts},
        video_analytics=tuple((a, territory(a.sectors)) for a in auth.video_analytics),
        routes=routes,
        window=Window.of(charter.operation.window),
        future_tolerance=timedelta(seconds=charter.future_tolerance_s),
    )


def _routes(
    event_type: str, actors: Mapping[Agency, CompiledActor], charter: Charter
) -> tuple[Route, ...]:
    """For one event type, each actor's first matching distribution rule (first match wins)."""
    found: list[Route] = []
    for agency, actor in actors.items():
        rule = next(
            (
                r
                for r in charter.distribution
                if agency in r.recipients and any(fnmatchcase(event_type, t) for t in r.types)
            ),
            None,
        )
        if rule is not None:
            # Only what this type carries: the decision then says exactly what is lost.
            fields = EVENT_TYPES[event_type].model_fields
            remove = tuple(name for name in rule.remove if name in fields)
            coarsen = tuple((c.field, c.decimals) for c in rule.coarsen if c.field in fields)
            found.append(Route(actor, rule, Delivery(agency, remove, coarsen)))
    return tuple(found)
