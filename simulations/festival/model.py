"""The evening as data: timed field actions, grouped in threads that play in order."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from contracts.charter import Charter
from contracts.events.base import EVENT_TYPE_PREFIX
from contracts.reasons import ReasonCode
from contracts.vocabulary import Agency, Mode


class Via(StrEnum):
    """How an action reaches the system."""

    UNIT = "unit"  # a field unit's report to its agency service
    DESK = "desk"  # the crisis cell's own proposal, straight onto JetStream


@dataclass(frozen=True, slots=True)
class Refusal:
    """A deliberate out-of-perimeter attempt: what it shows, and the codes the coordinator
    must refuse it with (exactly these)."""

    name: str
    codes: frozenset[ReasonCode]
    why: str


@dataclass(frozen=True, slots=True)
class Action:
    """One thing done in the field at a charter time.

    `key` is the report id (or the desk's action key): unique in the evening, so a retry
    is recognised. Actions of one `thread` (an incident's life, a unit's shift) play in
    order, each after the previous one is answered.
    """

    key: str
    at: datetime
    via: Via
    agency: Agency
    unit: str
    event: dict[str, Any] = field(hash=False)
    sector: str | None
    subject: str | None
    thread: str
    refusal: Refusal | None = None

    @property
    def type(self) -> str:
        """The event type."""
        return str(self.event["type"])

    @property
    def short_type(self) -> str:
        """The event type without its prefix (`incident.reported`)."""
        return self.type.removeprefix(EVENT_TYPE_PREFIX)


@dataclass(frozen=True, slots=True)
class Evening:
    """A whole evening of field actions on a charter, in time order."""

    charter: Charter
    seed: int
    label: str
    start: datetime
    end: datetime
    actions: tuple[Action, ...]

    @property
    def mode(self) -> Mode:
        """The operation's mode."""
        return self.charter.operation.mode

    @property
    def operation(self) -> str:
        """The operation id."""
        return self.charter.operation.id

    def threads(self) -> dict[str, tuple[Action, ...]]:
        """Actions by thread, each thread in playing order."""
        out: dict[str, list[Action]] = {}
        for action in self.actions:
            out.setdefault(action.thread, []).append(action)
        return {thread: tuple(actions) for thread, actions in out.items()}

    def refusals(self) -> tuple[Action, ...]:
        """The deliberate out-of-perimeter attempts."""
        return tuple(a for a in self.actions if a.refusal is not None)

    def units(self) -> tuple[tuple[Agency, str], ...]:
        """Field units that report during the evening (the desk excluded)."""
        seen = dict.fromkeys((a.agency, a.unit) for a in self.actions if a.via is Via.UNIT)
        return tuple(seen)

    def counts(self) -> Counter[tuple[Agency, str]]:
        """How many actions of each (agency, short type)."""
        return Counter((a.agency, a.short_type) for a in self.actions)
