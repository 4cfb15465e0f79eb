"""Each unit's shift: check-in at the start of its window, position reports every few
minutes while patrolling its home sectors (or standing by the incident it is engaged on),
a break, and check-out when its window ends inside the evening."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.events.base import EventPayload
from contracts.events.units import (
    UnitCheckedIn,
    UnitCheckedOut,
    UnitPositionReported,
    UnitStatusChanged,
)
from contracts.geo import GeoPoint
from contracts.ids import UnitId
from contracts.vocabulary import UnitStatus
from simulations.festival.places import heading, metres
from simulations.festival.roster import Post
from simulations.festival.script import Engagement, Script

#: Chance, at each report, that a patrol crosses into another of its home sectors.
_HOP = 0.12
#: How far a patrol walks in a minute, on average (metres; stops included).
_WALK_M_PER_MIN = 25.0


@dataclass(frozen=True, slots=True)
class _Step:
    at: datetime
    payload: EventPayload
    point: GeoPoint


def write_shifts(s: Script) -> None:
    """Every unit's shift (after the stories: a unit engaged on an incident stays there)."""
    for post in s.posts.values():
        _shift(s, post)


def _shift(s: Script, post: Post) -> None:
    rng, unit = s.rng, UnitId(post.unit)
    point = s.places.point_in(post.home[0], rng)
    steps = [
        _Step(
            post.on,
            UnitCheckedIn(
                unit=unit,
                position=point,
                personnel=post.personnel,
                vehicles=post.vehicles,
                armed=post.armed,
            ),
            point,
        ),
        _Step(
            post.on + timedelta(seconds=rng.randint(30, 90)),
            UnitStatusChanged(unit=unit, status=UnitStatus.AVAILABLE, position=point),
            point,
        ),
    ]
    if post.period is not None:
        steps += _break(s, post)
        steps += _patrol(s, post, point)
    if post.checks_out:
        last = steps[-1].point if post.period is not None else point
        steps.append(
            _Step(
                post.off,
                UnitCheckedOut(unit=unit, position=last, reason=post.leave_reason),
                last,
            )
        )
    thread = f"shift:{post.unit}"
    previous: datetime | None = None
    for step in sorted(steps, key=lambda x: x.at):
        # One report at a time per unit: a position falling on a status change is dropped.
        if previous is not None and step.at <= previous:
            continue
        sector = s.in_territory(post.agency, step.point)
        s.report(post, step.at, step.payload, thread, sector=sector)
        previous = step.at


def _break(s: Script, post: Post) -> list[_Step]:
    """A meal break of 20 to 30 minutes, when the unit is free for it."""
    if post.off - post.on < timedelta(hours=4):
        return []
    for _ in range(30):
        start = (
            post.on
            + timedelta(hours=2)
            + (post.off - post.on - timedelta(hours=3.5)) * (s.rng.random())
        )
        start = start.replace(microsecond=0)
        end = start + s.minutes(20, 30)
        if s.free(post, start - timedelta(minutes=2), end + timedelta(minutes=2)):
            sector = s.rng.choice(post.home)
            point = s.places.point_in(sector, s.rng)
            unit = UnitId(post.unit)
            s.engage(post, start, end, point)
            return [
                _Step(
                    start,
                    UnitStatusChanged(unit=unit, status=UnitStatus.UNAVAILABLE, position=point),
                    point,
                ),
                _Step(
                    end,
                    UnitStatusChanged(unit=unit, status=UnitStatus.AVAILABLE, position=point),
                    point,
                ),
            ]
    return []


def _patrol(s: Script, post: Post, start_point: GeoPoint) -> list[_Step]:
    rng, unit = s.rng, UnitId(post.unit)
    period = post.period or timedelta(minutes=4)
    minutes = period.total_seconds() / 60
    steps: list[_Step] = []
    point = start_point
    at = post.on + period * rng.uniform(0.5, 1.0)
    stop = post.off - timedelta(minutes=1)
    while at < stop:
        at = at.replace(microsecond=0)
        engaged = _engagement(s, post, at)
        if engaged is not None:
            target = s.places.near(engaged.position, engaged.sector, rng, 10.0)
        else:
            target = _walk(s, post, point, minutes)
        moved = metres(point, target)
        elapsed = max((at - (steps[-1].at if steps else post.on)).total_seconds(), 1.0)
        steps.append(
            _Step(
                at,
                UnitPositionReported(
                    unit=unit,
                    position=target,
                    heading=heading(point, target) if moved > 5 else None,
                    speed_kmh=round(min(moved / elapsed * 3.6, 300.0), 1),
                ),
                target,
            )
        )
        point = target
        at += period * rng.uniform(0.7, 1.3)
    return steps


def _engagement(s: Script, post: Post, at: datetime) -> Engagement | None:
    return next((e for e in s.engagements[post.unit] if e.start <= at <= e.end), None)


def _walk(s: Script, post: Post, point: GeoPoint, minutes: float) -> GeoPoint:
    """The next point of a patrol: a walk inside its sector, sometimes into another."""
    rng = s.rng
    here = s.places.sector_of(point, post.home)
    if here is None or (len(post.home) > 1 and rng.random() < _HOP):
        return s.places.point_in(rng.choice(post.home), rng)
    return s.places.near(point, here, rng, _WALK_M_PER_MIN * minutes / 2)
