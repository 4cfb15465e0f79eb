"""The background population: units that check in, patrol their sectors with a position
report every few minutes, change status at the times the scenario says, and check out.

Each unit draws from its own random stream (the run's seed and its call sign), so that
adding a unit to a scenario changes nothing of the others. A unit only acts inside its
own service window (the charter's), so that the background is never refused.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from contracts.charter.model import Actor, Charter, TimeWindow
from contracts.geo import GeoPoint
from contracts.vocabulary import UnitStatus
from simulations.exercise.cast import Via
from simulations.exercise.model import Background
from simulations.exercise.resolver import Resolver
from simulations.exercise.steps import Origin, Step
from simulations.festival.places import heading, metres

#: Chance, at each report, that a patrol crosses into another of its sectors.
_HOP = 0.15
#: How far a patrol walks in a minute, on average (metres; stops included).
_WALK_M_PER_MIN = 25.0


def unit_window(charter: Charter, actor: Actor, unit: str) -> TimeWindow:
    """A unit's service window: its own, else its actor's, else the operation's."""
    own = next((u.window for u in actor.units if u.id == unit), None)
    return own or actor.window or charter.operation.window


def background_steps(
    population: Sequence[Background],
    resolver: Resolver,
    start: datetime,
    end: datetime,
    seed: int,
) -> Iterator[Step]:
    """Every background unit's steps (validation has checked each unit is a field unit)."""
    for background in population:
        yield from _unit_steps(background, resolver, start, end, seed)


def _unit_steps(
    background: Background, resolver: Resolver, start: datetime, end: datetime, seed: int
) -> Iterator[Step]:
    rng = random.Random(f"{seed}:unit:{background.unit}")  # noqa: S311 (a reproducible run)
    performer = resolver.cast.resolve(background.unit)
    actor = resolver.cast.actor(performer.agency)
    if actor is None or performer.via is not Via.UNIT:
        return
    window = unit_window(resolver.charter, actor, background.unit)
    opens = max(start + background.check_in, window.start) + timedelta(seconds=rng.randint(5, 60))
    leaves = start + background.check_out if background.check_out is not None else None
    closes = min(leaves or end, end, window.end)
    if closes - opens < timedelta(minutes=2):
        return
    sectors = background.sectors or actor.sectors
    places = resolver.places
    point = places.point_in(sectors[0], rng)
    unit = background.unit
    timed: list[tuple[datetime, dict[str, Any], GeoPoint | None]] = [
        (
            opens,
            {
                "type": "fr.interforces.unit.checked_in",
                "unit": unit,
                "position": point.model_dump(),
                "personnel": background.personnel,
                "vehicles": background.vehicles,
                "armed": _armed(actor, unit),
            },
            point,
        ),
        (opens + timedelta(seconds=30), _status(unit, UnitStatus.AVAILABLE, point), point),
    ]
    statuses = [(start + change.at, change.status) for change in background.statuses]
    if background.every is not None:
        timed += _patrol(background, sectors, point, opens, closes, statuses, rng, resolver)
    for at, status in statuses:
        if opens < at < closes:
            timed.append((at, _status(unit, status, None), None))
    if leaves is not None and leaves <= closes:
        timed.append((closes, {"type": "fr.interforces.unit.checked_out", "unit": unit}, None))
    previous: datetime | None = None
    for serial, (when, event, where) in enumerate(sorted(timed, key=lambda t: t[0]), start=1):
        at = when.replace(microsecond=0)
        if previous is not None and at <= previous:
            continue  # one report at a time per unit
        sector = places.sector_of(where, sectors) if where is not None else None
        yield Step(
            key=f"bg-{unit}-{serial:04d}",
            at=at,
            via=Via.UNIT,
            agency=performer.agency,
            unit=unit,
            event=event,
            sector=sector,
            subject=None,
            thread=f"unit:{unit}",
            origin=Origin.BACKGROUND,
        )
        previous = at


def _armed(actor: Actor, unit: str) -> bool:
    own = next((u.armed for u in actor.units if u.id == unit), None)
    return actor.armed if own is None else own


def _status(unit: str, status: UnitStatus, point: GeoPoint | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "fr.interforces.unit.status_changed",
        "unit": unit,
        "status": status.value,
    }
    if point is not None:
        event["position"] = point.model_dump()
    return event


def _patrol(  # noqa: PLR0917 (a patrol's whole context, in one private call)
    background: Background,
    sectors: Sequence[str],
    point: GeoPoint,
    opens: datetime,
    closes: datetime,
    statuses: Sequence[tuple[datetime, UnitStatus]],
    rng: random.Random,
    resolver: Resolver,
) -> list[tuple[datetime, dict[str, Any], GeoPoint | None]]:
    """Position reports while on patrol (none while unavailable: a break, a relief)."""
    places = resolver.places
    every = timedelta(minutes=background.every or 5.0)
    minutes = every.total_seconds() / 60
    out: list[tuple[datetime, dict[str, Any], GeoPoint | None]] = []
    at = opens + every * rng.uniform(0.5, 1.0)
    last_at = opens
    while at < closes - timedelta(minutes=1):
        current = next((s for t, s in reversed(statuses) if t <= at), UnitStatus.AVAILABLE)
        if current is not UnitStatus.UNAVAILABLE:
            here = places.sector_of(point, sectors)
            if here is None or (len(sectors) > 1 and rng.random() < _HOP):
                target = places.point_in(rng.choice(list(sectors)), rng)
            else:
                target = places.near(point, here, rng, _WALK_M_PER_MIN * minutes / 2)
            moved = metres(point, target)
            elapsed = max((at - last_at).total_seconds(), 1.0)
            event: dict[str, Any] = {
                "type": "fr.interforces.unit.position_reported",
                "unit": background.unit,
                "position": target.model_dump(),
                "speed_kmh": round(min(moved / elapsed * 3.6, 300.0), 1),
            }
            if moved > 5:
                event["heading"] = heading(point, target)
            out.append((at, event, target))
            point, last_at = target, at
        at += every * rng.uniform(0.7, 1.3)
    return out
