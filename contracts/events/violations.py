"""Perimeter violations: the recorded rejection of a proposal, emitted by the coordinator."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.events.base import EventPayload, EventTraits
from contracts.reasons import ReasonCode
from contracts.text import ShortText
from contracts.vocabulary import Agency


class Reason(BaseModel):
    """One reason a proposal was refused: a stable code and a message for the operator."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: ReasonCode = Field(description="Stable reason code.")
    message: str = Field(max_length=1000, description="Explanation in French, for the operator.")


class PerimeterViolated(EventPayload):
    """A proposal was refused; every failing reason is listed."""

    TRAITS: ClassVar[EventTraits] = EventTraits(coordinator_only=True)

    type: Literal["fr.interforces.perimeter.violated"] = "fr.interforces.perimeter.violated"
    proposal_id: str = Field(max_length=128, description="Id of the refused proposal.")
    proposal_type: str = Field(max_length=200, description="Type of the refused proposal.")
    proposer: Agency | None = Field(
        default=None, description="Agency the proposal claimed to come from."
    )
    credentials_agency: Agency | None = Field(
        default=None, description="Agency of the credentials it was really published with."
    )
    proposal_subject: ShortText | None = Field(
        default=None, description="NATS subject it was proposed on."
    )
    reasons: tuple[Reason, ...] = Field(min_length=1, description="Every failing reason.")
    competent_agencies: tuple[Agency, ...] = Field(
        default=(), description="Agencies that could take it, for a refused assignment."
    )
