"""Who is on the ground, where and when: each unit's post for the evening.

A unit checks in at the start of its window (its own, else its actor's, else the
operation's), patrols its home sectors, and checks out when its window ends inside the
evening (or earlier, when relieved). The festival's units have a known layout (a fixed
post at Perrache, patrols of the bar streets, the city's video centre…); any other
charter unit patrols all its actor's sectors.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from contracts.charter import Actor, Charter, TimeWindow, Unit
from contracts.vocabulary import Agency


@dataclass(frozen=True, slots=True)
class Layout:
    """How a known unit works the evening."""

    home: tuple[str, ...]
    personnel: int
    vehicles: int = 0
    #: Minutes between position reports; None for a centre that never moves.
    period_min: float | None = 4.0
    #: Local time it is relieved before its window ends, and why.
    leave: time | None = None
    leave_reason: str | None = None


#: The festival's units (infra/charters/fete-musique-presquile.yaml).
FESTIVAL_LAYOUT: dict[str, Layout] = {
    "PN-PERRACHE-1": Layout(("gare-perrache",), personnel=4, vehicles=1, period_min=12.0),
    "PN-AINAY-1": Layout(("ainay", "place-carnot"), personnel=3, vehicles=1),
    "PN-BAC-1": Layout(
        ("bellecour", "republique-cordeliers", "merciere-jacobins", "terreaux", "saint-jean"),
        personnel=3,
        vehicles=1,
        period_min=3.0,
    ),
    "PN-CSI-69": Layout(
        ("bellecour", "antonin-poncet", "republique-cordeliers"), personnel=12, vehicles=2
    ),
    "PM-TERREAUX-1": Layout(("terreaux",), personnel=3),
    "PM-MERCIERE-1": Layout(("merciere-jacobins", "celestins"), personnel=3),
    "PM-BELLECOUR-1": Layout(("bellecour", "antonin-poncet"), personnel=4, vehicles=1),
    "PM-STJEAN-1": Layout(("saint-jean", "quai-saint-antoine"), personnel=3),
    "PM-CSU": Layout(("terreaux",), personnel=4, period_min=None),
    "MED-JOUR-1": Layout(
        ("terreaux", "quai-saint-antoine"),
        personnel=2,
        period_min=5.0,
        leave=time(23, 0),
        leave_reason="Relève assurée par les binômes du soir",
    ),
    "MED-SOIR-1": Layout(("merciere-jacobins", "celestins"), personnel=2, period_min=5.0),
    "MED-SOIR-2": Layout(("saint-jean", "quai-saint-antoine"), personnel=2, period_min=5.0),
    "MED-SOIR-3": Layout(("bellecour",), personnel=2, period_min=5.0),
    "SP-OPERA-FILTRAGE": Layout(("opera-entree",), personnel=8, period_min=15.0),
    "SP-OPERA-SALLE": Layout(("opera-salle",), personnel=6, period_min=8.0),
}


@dataclass(frozen=True, slots=True)
class Post:
    """A unit's evening: home sectors, check-in and check-out, means."""

    agency: Agency
    unit: str
    name: str
    home: tuple[str, ...]
    window: tuple[datetime, datetime]
    on: datetime
    off: datetime
    checks_out: bool
    armed: bool
    personnel: int
    vehicles: int
    period: timedelta | None
    leave_reason: str | None

    def covers(self, start: datetime, end: datetime) -> bool:
        """Whether the unit is checked in for the whole of [start, end]."""
        return self.on < start and end < self.off


def _window(unit: Unit, actor: Actor, charter: Charter) -> TimeWindow:
    return unit.window or actor.window or charter.operation.window


def _minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=round(rng.uniform(low, high) * 60))


def build_roster(
    charter: Charter, start: datetime, end: datetime, rng: random.Random
) -> dict[str, Post]:
    """Every field unit's post for the evening [start, end], by unit id (the crisis cell,
    which works from its desk, has none)."""
    posts: dict[str, Post] = {}
    for actor in charter.actors:
        if actor.agency in (Agency.CRISIS_CELL, Agency.EXERCISE_CONTROL):
            continue
        for index, unit in enumerate(actor.units):
            layout = FESTIVAL_LAYOUT.get(unit.id)
            home = tuple(s for s in layout.home if s in actor.sectors) if layout else ()
            if not home:
                # Unknown unit: it patrols its actor's sectors, starting from its own.
                home = (
                    actor.sectors[index % len(actor.sectors) :]
                    + actor.sectors[: index % len(actor.sectors)]
                )
            window = _window(unit, actor, charter)
            opens, closes = max(window.start, start), min(window.end, end)
            if closes - opens < timedelta(minutes=30):
                continue  # not on duty this evening
            on = opens + _minutes(rng, 1, 4)
            off = closes
            checks_out = window.end <= end
            leave_reason = None
            if layout is not None and layout.leave is not None:
                leave = datetime.combine(opens.date(), layout.leave, tzinfo=opens.tzinfo)
                if leave <= opens:
                    leave += timedelta(days=1)
                if on + timedelta(hours=1) < leave < off:
                    off, checks_out, leave_reason = leave, True, layout.leave_reason
            if checks_out:
                off -= _minutes(rng, 3, 8)
            period = layout.period_min if layout else 4.0
            posts[unit.id] = Post(
                agency=actor.agency,
                unit=unit.id,
                name=unit.name or unit.id,
                home=home,
                window=(window.start, window.end),
                on=on,
                off=off,
                checks_out=checks_out,
                armed=actor.armed if unit.armed is None else unit.armed,
                personnel=layout.personnel if layout else 2,
                vehicles=layout.vehicles if layout else 0,
                period=timedelta(minutes=period) if period is not None else None,
                leave_reason=leave_reason,
            )
    return posts
