"""Who acts in an exercise, as its charter says: each unit's agency, the crisis cell's desk,
the trainers' post, and how an actor named in a scenario (`by`) reaches the system."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contracts.charter.model import Actor, Charter
from contracts.vocabulary import Agency
from simulations.exercise.charter import control_unit


class Via(StrEnum):
    """How a step reaches the system."""

    UNIT = "unit"  # a field unit's report to its agency service
    DESK = "desk"  # the crisis cell's own proposal, straight onto JetStream
    CONTROL = "control"  # the trainers' inject, straight onto JetStream


#: Agencies that have no service: they publish their proposals themselves.
_DESKS = {Agency.CRISIS_CELL: Via.DESK, Agency.EXERCISE_CONTROL: Via.CONTROL}


@dataclass(frozen=True, slots=True)
class Performer:
    """An actor resolved: its agency, the unit it acts as (if any), and how it sends."""

    agency: Agency
    unit: str | None
    via: Via


class CastError(ValueError):
    """A `by` names nobody of the charter."""


class Cast:
    """The charter's actors and units, to resolve who acts."""

    def __init__(self, charter: Charter) -> None:
        self.charter = charter
        self.unit_agency: dict[str, Agency] = {
            unit.id: actor.agency for actor in charter.actors for unit in actor.units
        }

    def actor(self, agency: Agency) -> Actor | None:
        """The actor of an agency, if any."""
        return self.charter.actor(agency)

    def resolve(self, by: str) -> Performer:
        """A unit id, or an agency (its first unit acts; the trainers act from their post)."""
        agency = self.unit_agency.get(by)
        if agency is not None:
            return Performer(agency, by, _DESKS.get(agency, Via.UNIT))
        try:
            agency = Agency(by)
        except ValueError as exc:
            raise CastError(f"{by!r} is neither a unit nor an agency of the charter") from exc
        actor = self.actor(agency)
        if actor is None:
            raise CastError(f"{by!r} is not an actor of the charter")
        if agency is Agency.EXERCISE_CONTROL:
            return Performer(agency, control_unit(self.charter), Via.CONTROL)
        if not actor.units:
            raise CastError(f"{by!r} has no unit in the charter to act as")
        return Performer(agency, actor.units[0].id, _DESKS.get(agency, Via.UNIT))
