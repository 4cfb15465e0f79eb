"""A step of a run: one proposal at a scenario time, and why it exists."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from contracts.events.base import EVENT_TYPE_PREFIX
from contracts.vocabulary import Agency
from simulations.exercise.cast import Via


class Origin(StrEnum):
    """Why a step exists."""

    BACKGROUND = "background"
    INJECT = "inject"
    RESPONSE = "response"
    LIVE = "live"


@dataclass(frozen=True, slots=True)
class Step:
    """One proposal of the run at a scenario time.

    `key` is unique per sender (the report id, or the desk's key); `ref` names the inject
    or expected action behind it; `expected_codes` are the codes a deliberate attempt must
    be refused with (empty: it must be accepted)."""

    key: str
    at: datetime
    via: Via
    agency: Agency
    unit: str | None
    event: dict[str, Any] = field(hash=False)
    sector: str | None
    subject: str | None
    thread: str
    origin: Origin
    ref: str | None = None
    expected_codes: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        """The event type."""
        return str(self.event["type"])

    @property
    def short_type(self) -> str:
        """The event type without its prefix."""
        return self.type.removeprefix(EVENT_TYPE_PREFIX)
