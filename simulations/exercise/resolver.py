"""From what a trainer writes to what a unit sends: sector names as points and areas,
`+HH:MM` as times, and the sector, subject and thread of each step."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from contracts.charter.model import Charter
from contracts.events.catalogue import EVENT_TYPES
from contracts.geo import GeoPoint
from contracts.vocabulary import Agency
from simulations.exercise.cast import Cast
from simulations.festival.places import Places

#: Payload strings of the form `+HH:MM[:SS]`: a scenario time.
_TIME_VALUE = re.compile(r"^\+(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")
#: Fields naming what a step is about (its thread and CloudEvents subject), first found.
_ABOUT: Final = ("perimeter", "incident", "mediation", "flight")


def about(event: Mapping[str, Any]) -> str | None:
    """What an event is about (its incident, perimeter, mediation or flight), if anything."""
    for name in _ABOUT:
        value = event.get(name)
        if isinstance(value, str):
            return value
    return None


def thread_of(event: Mapping[str, Any], fallback: str) -> str:
    """The thread of a step: what it is about, else `fallback`."""
    for name in _ABOUT:
        value = event.get(name)
        if isinstance(value, str):
            return f"{name}:{value}"
    return fallback


class Resolver:
    """Turns a scenario payload into an event: sector names into points and areas,
    `+HH:MM` into times, `@ID` into event ids; and finds a step's sector, subject, thread."""

    def __init__(self, charter: Charter, start: datetime) -> None:
        self.charter = charter
        self.start = start
        self.places = Places(charter)
        self.cast = Cast(charter)
        self.incident_sectors: dict[str, str] = {}

    def point(self, value: Any) -> Any:
        """A sector name as its centre; anything else as given."""
        if isinstance(value, str):
            if value not in self.places.geometries:
                raise ValueError(f"no sector {value!r} in the charter")
            return self.places.centre(value).model_dump()
        return value

    def payload(self, event_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The event (with its `type`) a payload describes; `@ID` references are kept."""
        cls = EVENT_TYPES[event_type]
        out: dict[str, Any] = {}
        for name, value in payload.items():
            if name == "position" or (name.endswith("_position") and isinstance(value, str)):
                out[name] = self.point(value)
            elif name == "area" and isinstance(value, str):
                if value not in self.places.areas:
                    raise ValueError(f"no sector {value!r} in the charter")
                out[name] = self.places.areas[value]
            else:
                out[name] = self._value(value)
        unknown = sorted(set(out) - set(cls.model_fields))
        if unknown:
            raise ValueError(f"{event_type} has no field {', '.join(unknown)}")
        return {"type": event_type, **out}

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            found = _TIME_VALUE.fullmatch(value)
            if found:
                hours, minutes, seconds = (int(g or 0) for g in found.groups())
                span = timedelta(hours=hours, minutes=minutes, seconds=seconds)
                return (self.start + span).isoformat()
        if isinstance(value, list):
            return [self._value(v) for v in value]
        if isinstance(value, dict):
            return {k: self._value(v) for k, v in value.items()}
        return value

    def sector(self, agency: Agency, event: Mapping[str, Any], given: str | None) -> str | None:
        """The sector of a step: as given, else where its position is in the agency's
        territory, else where its incident is."""
        incident = event.get("incident")
        if given is not None:
            found: str | None = given
        else:
            found = None
            position = event.get("position")
            actor = self.cast.actor(agency)
            if isinstance(position, dict) and actor is not None:
                point = GeoPoint.model_validate(position)
                found = self.places.sector_of(point, actor.sectors)
            elif isinstance(incident, str):
                found = self.incident_sectors.get(incident)
        if isinstance(incident, str) and found is not None:
            self.incident_sectors.setdefault(incident, found)
        return found
