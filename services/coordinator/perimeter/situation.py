"""What the coordinator knows of open incidents, folded from accepted events.

`decide` reads it to judge assignments and acknowledgements; the shell folds each accepted
record into it with `Situation.apply`, which returns a new situation (never mutates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from contracts.envelope import Envelope
from contracts.events.incidents import (
    IncidentAssigned,
    IncidentCorrected,
    IncidentDeclined,
    IncidentQualified,
    IncidentReported,
    IncidentResolved,
)
from contracts.events.private_security import SiteIncidentReported
from contracts.geo import GeoPoint
from contracts.vocabulary import Agency, IncidentCategory


@dataclass(frozen=True, slots=True)
class IncidentState:
    """One incident as the coordinator knows it."""

    category: IncidentCategory
    position: GeoPoint
    armed_threat: bool
    reporter: Agency
    assignee: Agency | None = None
    resolved: bool = False


@dataclass(frozen=True, slots=True)
class Situation:
    """Known incidents by id."""

    incidents: Mapping[str, IncidentState] = field(default_factory=lambda: MappingProxyType({}))

    def apply(self, record: Envelope) -> Situation:
        """The situation after an accepted record (unchanged for unrelated events)."""
        data = record.data
        incident = getattr(data, "incident", None)
        if incident is None:
            return self
        current = self.incidents.get(incident)
        updated: IncidentState | None = current
        if isinstance(data, IncidentReported | SiteIncidentReported):
            if current is None:
                updated = IncidentState(
                    data.category, data.position, data.armed_threat, record.agency
                )
        elif current is None:
            return self
        elif isinstance(data, IncidentQualified):
            updated = replace(current, category=data.category, armed_threat=data.armed_threat)
        elif isinstance(data, IncidentCorrected):
            updated = replace(
                current,
                category=data.category or current.category,
                position=data.position or current.position,
            )
        elif isinstance(data, IncidentAssigned):
            updated = replace(current, assignee=data.assignee)
        elif isinstance(data, IncidentDeclined):
            updated = replace(current, assignee=None)  # back to the crisis cell to reassign
        elif isinstance(data, IncidentResolved):
            updated = replace(current, resolved=True)
        if updated is None or updated is current:
            return self
        return Situation(MappingProxyType({**self.incidents, incident: updated}))
