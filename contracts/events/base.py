"""The base of every event payload: frozen, closed, versioned, upcastable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from contracts.vocabulary import Agency, Capability, Classification

#: Prefix of every CloudEvents `type` of the catalogue.
EVENT_TYPE_PREFIX = "fr.interforces."

#: JSON Schema key marking a field only one agency may hold (never leaves its service).
HOLDER_KEY = "x-holder"


@dataclass(frozen=True, slots=True)
class EventTraits:
    """What the perimeter needs to know about an event type, stated once beside it.

    - `shareable`: may enter the coordinator and the timeline at all;
    - `coordinator_only`: emitted by the coordinator, never proposed;
    - `exercise_only`: may only exist in an exercise operation;
    - `capability`: a means the proposer must hold;
    - `restricted_audience`: delivered only to the proposer's agency and the crisis cell,
      whatever the distribution rules say;
    - `classification`: the default envelope classification.
    """

    shareable: bool = True
    coordinator_only: bool = False
    exercise_only: bool = False
    capability: Capability | None = None
    restricted_audience: bool = False
    classification: Classification = Classification.INTERNAL


class EventPayload(BaseModel):
    """Base of every payload. Subclasses set `type` (a Literal) and may raise their
    `SCHEMA_VERSION`, adding `upcast_vN_vN1(data) -> data` static methods for older data."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    SCHEMA_VERSION: ClassVar[int] = 1
    TRAITS: ClassVar[EventTraits] = EventTraits()

    type: str = Field(description="CloudEvents type of the event (a Literal in each subclass).")
    schema_version: int = Field(
        default=1, ge=1, description="Version of this payload's schema; older ones are upcast."
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for version in range(1, cls.SCHEMA_VERSION):
            if not hasattr(cls, f"upcast_v{version}_v{version + 1}"):
                raise TypeError(f"{cls.__name__} lacks upcast_v{version}_v{version + 1}")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        version = cls.model_fields["schema_version"]
        kind = cls.model_fields["type"]
        if version.default != cls.SCHEMA_VERSION or kind.description is None:
            version.default = cls.SCHEMA_VERSION
            kind.description = f"CloudEvents type: always `{kind.default}`."
            cls.model_rebuild(force=True)

    @model_validator(mode="before")
    @classmethod
    def _upcast(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        # A payload without a version predates versioning: it is version 1.
        version = data.get("schema_version", 1)
        if version == cls.SCHEMA_VERSION:
            return data
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise PydanticCustomError(
                "unsupported_schema_version",
                "schema_version must be a positive integer, got {version}",
                {"version": repr(version)},
            )
        if version > cls.SCHEMA_VERSION:
            raise PydanticCustomError(
                "unsupported_schema_version",
                "schema version {version} is newer than {current}, the newest this code reads",
                {"version": version, "current": cls.SCHEMA_VERSION},
            )
        upcast = dict(data)
        for step in range(version, cls.SCHEMA_VERSION):
            upcast = getattr(cls, f"upcast_v{step}_v{step + 1}")(upcast)
            upcast["schema_version"] = step + 1
        return upcast

    @classmethod
    @cache
    def holder_only_fields(cls) -> Mapping[str, Agency]:
        """Fields that only one agency may hold, with that agency (computed once per class)."""
        held: dict[str, Agency] = {}
        for name, info in cls.model_fields.items():
            extra = info.json_schema_extra
            if isinstance(extra, dict) and HOLDER_KEY in extra:
                held[name] = Agency(str(extra[HOLDER_KEY]))
        return MappingProxyType(held)


def held_by(agency: Agency) -> dict[str, Any]:
    """`json_schema_extra` marking a field only `agency` may hold."""
    return {HOLDER_KEY: agency.value}
