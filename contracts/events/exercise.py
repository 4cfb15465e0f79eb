"""Exercise injects: exist only in exercise operations."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from contracts.events.base import EventPayload, EventTraits
from contracts.geo import GeoPoint
from contracts.text import FreeText, ShortText
from contracts.vocabulary import Agency


class ExerciseInjected(EventPayload):
    """A trainer's inject: a message the players receive as if it came from the field."""

    TRAITS: ClassVar[EventTraits] = EventTraits(exercise_only=True)

    type: Literal["fr.interforces.exercise.injected"] = "fr.interforces.exercise.injected"
    inject: ShortText = Field(description="Id of the inject in the scenario.")
    target: Agency = Field(description="Agency whose players receive the inject.")
    message: FreeText = Field(min_length=1, description="What the players are told.")
    position: GeoPoint | None = Field(default=None, description="Where it happens, if anywhere.")
