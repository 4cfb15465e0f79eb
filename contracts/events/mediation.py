"""Social mediation and requests for help. Case notes never leave the mediation service."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from contracts.events.base import EventPayload, EventTraits, held_by
from contracts.geo import GeoPoint
from contracts.ids import IncidentIdField
from contracts.text import FreeText, ShortText
from contracts.vocabulary import Agency, Capability


class MediationTopic(StrEnum):
    """What a mediation is about (conflicts of everyday life, vulnerable people, dialogue)."""

    NOISE = "noise"
    NEIGHBOURHOOD = "neighbourhood"
    GATHERING = "gathering"
    VULNERABLE_PERSON = "vulnerable_person"
    INTOXICATION = "intoxication"
    DIALOGUE = "dialogue"
    OTHER = "other"


class MediationStarted(EventPayload):
    """Mediators open a mediation. Others only learn that one is under way in a sector."""

    TRAITS: ClassVar[EventTraits] = EventTraits(capability=Capability.MEDIATION)

    type: Literal["fr.interforces.mediation.started"] = "fr.interforces.mediation.started"
    mediation: ShortText = Field(description="Id of the mediation case.")
    topic: MediationTopic = Field(description="What it is about.")
    position: GeoPoint = Field(description="Where it takes place.")
    incident: IncidentIdField | None = Field(default=None, description="Related incident.")
    case_notes: FreeText | None = Field(
        default=None,
        description="Mediators' case notes: held by mediation only, never shared.",
        json_schema_extra=held_by(Agency.MEDIATION),
    )


class MediationClosed(EventPayload):
    """Mediators close a mediation."""

    TRAITS: ClassVar[EventTraits] = EventTraits(capability=Capability.MEDIATION)

    type: Literal["fr.interforces.mediation.closed"] = "fr.interforces.mediation.closed"
    mediation: ShortText = Field(description="Id of the mediation case.")
    outcome: ShortText = Field(description="How it ended, in a line (no names).")
    case_notes: FreeText | None = Field(
        default=None,
        description="Mediators' closing notes: held by mediation only, never shared.",
        json_schema_extra=held_by(Agency.MEDIATION),
    )


class HelpSituation(StrEnum):
    """Why a person asks for help."""

    HARASSMENT = "harassment"
    VULNERABLE = "vulnerable"
    LOST = "lost"
    INTOXICATED = "intoxicated"
    THREATENED = "threatened"


class HelpRequested(EventPayload):
    """A vulnerable or harassed person asks for help (often through bar staff)."""

    type: Literal["fr.interforces.help.requested"] = "fr.interforces.help.requested"
    request: ShortText = Field(description="Id of the request.")
    situation: HelpSituation = Field(description="The situation described.")
    position: GeoPoint = Field(description="Where the person is.")
    relayed_by: ShortText | None = Field(
        default=None, description="Who relayed it (an establishment, a patrol), never the person."
    )
    description: FreeText = Field(default="", description="What is needed, without identities.")
