"""The scenario of an exercise, in the spirit of a Master Scenario Events List.

A trainer writes it in YAML (see `simulations/scenarios/`): the charter it runs on, the
objectives, a background population of units, timed injects (what the players receive or
what the simulated field does), and the actions expected of the players — which agency,
which event, by when after which trigger, for which objective — each with how a simulated
player answers in a dry run. Times are offsets from the scenario's start (`+HH:MM`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Final

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from contracts.charter.model import EventTypeName
from contracts.ids import SectorIdField, UnitIdField
from contracts.reasons import ReasonCode
from contracts.text import FreeText, ShortText
from contracts.vocabulary import Agency, UnitStatus

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_MINUTES = re.compile(r"^\d+(?:\.\d+)?$")
_OFFSET = re.compile(r"^\+?(?P<h>\d{1,2}):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?$")
#: Longest scenario, minutes (a night).
MAX_MINUTES: Final = 24 * 60


def parse_offset(value: Any) -> Any:
    """`+HH:MM[:SS]` (or `HH:MM`), or a number of minutes, as a span after the start."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("an offset is +HH:MM or a number of minutes")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("an offset cannot be negative")
        return timedelta(minutes=value)
    if isinstance(value, str) and _MINUTES.fullmatch(value.strip()):
        return parse_offset(float(value))
    if isinstance(value, str):
        found = _OFFSET.fullmatch(value.strip())
        if found is None:
            raise ValueError(f"offset {value!r}: write +HH:MM or +HH:MM:SS after the start")
        return timedelta(
            hours=int(found["h"]), minutes=int(found["m"]), seconds=int(found["s"] or 0)
        )
    raise ValueError("an offset is +HH:MM or a number of minutes")


def format_offset(span: timedelta) -> str:
    """A span after the start as `+HH:MM` (seconds shown when there are some)."""
    total = int(span.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"+{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


#: A moment of the scenario: a span after its start.
Offset = Annotated[
    timedelta,
    BeforeValidator(parse_offset),
    Field(description="Scenario time: +HH:MM[:SS] after the start, or minutes."),
]
#: A number of minutes.
Minutes = Annotated[float, Field(gt=0, le=MAX_MINUTES, description="Minutes.")]
#: Ids of objectives, injects and expected actions.
Ref = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$", description="Id in the scenario.")
]
#: Who acts: a unit call sign of the charter, or `crisis_cell` (its desk) or
#: `exercise_control` (the trainers).
Actor = Annotated[str, Field(min_length=1, max_length=128, description="Unit id or agency.")]


class ScenarioHeader(BaseModel):
    """What the scenario is, where it runs and when."""

    model_config = _FROZEN

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,39}$",
        description="Scenario id: a subject token, prefix of each run's operation id.",
    )
    title: ShortText
    description: FreeText = ""
    source: FreeText = Field(default="", description="Source documents it is drawn from.")
    audience: ShortText | None = Field(default=None, description="Who it trains.")
    charter: str = Field(min_length=1, description="Charter file, relative to this file.")
    start: AwareDatetime = Field(description="Scenario time zero (+00:00), RFC 3339.")
    duration: Minutes = Field(description="How long it runs, minutes.")
    seed: int = Field(default=2026, description="Default seed of the dry runs.")

    @property
    def end(self) -> datetime:
        """When it ends."""
        return self.start + timedelta(minutes=self.duration)


class Objective(BaseModel):
    """An objective of the exercise, scored from the expected actions linked to it."""

    model_config = _FROZEN

    id: Ref
    title: ShortText
    description: FreeText = ""
    weight: float = Field(default=1.0, gt=0, le=100, description="Weight in the overall score.")


class StatusChange(BaseModel):
    """A timed status change of a background unit (a break, a relief)."""

    model_config = _FROZEN

    at: Offset
    status: UnitStatus


class Background(BaseModel):
    """A unit of the background population: checks in, patrols its sectors, changes status."""

    model_config = _FROZEN

    unit: UnitIdField
    sectors: tuple[SectorIdField, ...] = Field(
        default=(), description="Sectors it patrols; default: its actor's sectors."
    )
    every: Minutes | None = Field(
        default=5.0, description="Minutes between position reports; null: a fixed post."
    )
    check_in: Offset = Field(default=timedelta(0), description="When it checks in.")
    check_out: Offset | None = Field(default=None, description="When it checks out, if at all.")
    personnel: int = Field(default=2, ge=1, le=500)
    vehicles: int = Field(default=0, ge=0, le=100)
    statuses: tuple[StatusChange, ...] = Field(default=(), description="Timed status changes.")


class Inject(BaseModel):
    """One timed inject: an event the simulated field or the trainers produce.

    `payload` is the event's payload without `type`; a `position` may name a sector (its
    centre), an `area` a sector (its polygon), any value `+HH:MM` a scenario time, and
    `@ID` the id of the event of another inject or expected action. `refused` makes it a
    deliberate out-of-perimeter attempt: the coordinator must refuse it with those codes.
    """

    model_config = _FROZEN

    id: Ref
    at: Offset
    by: Actor
    event: EventTypeName
    payload: dict[str, Any] = Field(default_factory=dict)
    sector: SectorIdField | None = Field(default=None, description="Default: from position.")
    subject: str | None = Field(default=None, max_length=256, description="What it is about.")
    objective: Ref | None = None
    refused: tuple[ReasonCode, ...] = Field(
        default=(), description="Reason codes it must be refused with (none: accepted)."
    )
    note: FreeText = Field(default="", description="For the trainers: what it tests.")


class Response(BaseModel):
    """How a simulated player answers an expected action in a dry run: who, with what, after
    a delay drawn with the run's seed (and a chance to forget it)."""

    model_config = _FROZEN

    by: Actor | None = Field(default=None, description="Default: the agency's first unit.")
    payload: dict[str, Any] = Field(default_factory=dict, description="Added to `match`.")
    delay: tuple[float, float] = Field(description="Minutes after the trigger, low and high.")
    miss: float = Field(default=0.0, ge=0, le=1, description="Chance the player forgets.")
    sector: SectorIdField | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Response:
        low, high = self.delay
        if not 0 <= low <= high <= MAX_MINUTES:
            raise ValueError("delay is [low, high] minutes with 0 <= low <= high")
        return self


class Expected(BaseModel):
    """An action expected of the players: an event of an agency matching `match`, within
    `within` minutes after its trigger (an inject, or another expected action)."""

    model_config = _FROZEN

    id: Ref
    agency: Agency
    event: EventTypeName
    after: Ref = Field(description="The inject or expected action that triggers it.")
    within: Minutes
    match: dict[str, Any] = Field(default_factory=dict, description="Payload fields required.")
    objective: Ref | None = None
    description: FreeText = ""
    response: Response | None = Field(
        default=None, description="The simulated player of dry runs (none: nobody answers)."
    )


class Scenario(BaseModel):
    """A whole scenario file."""

    model_config = _FROZEN

    scenario: ScenarioHeader
    objectives: tuple[Objective, ...] = Field(min_length=1)
    population: tuple[Background, ...] = ()
    injects: tuple[Inject, ...] = ()
    inject_table: str | None = Field(
        default=None, description="A CSV inject table, relative to this file (appended)."
    )
    expected: tuple[Expected, ...] = ()
