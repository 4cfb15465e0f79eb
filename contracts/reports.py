"""What a field unit sends its agency service, and what it gets back.

A unit report travels by NATS request/reply on `subjects.report(...)`; the agency service
authenticates the unit, validates the event, keeps what is the agency's alone, and turns
the rest into a proposal. The reply tells the unit whether it may forget the report: a
unit retries a report until it gets a reply, and the event id derived from the report id
makes the retries one proposal (JetStream deduplicates on it).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.ids import IDENTIFIER_PATTERN, OperationIdField, SectorIdField, UnitIdField
from contracts.reasons import ReasonCode


class UnitReport(BaseModel):
    """A field unit's report: one event it saw or did, with its credential."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    report: str = Field(
        pattern=IDENTIFIER_PATTERN,
        description="The unit's own id for this report; retries carry the same id.",
    )
    operation: OperationIdField
    unit: UnitIdField
    token: str = Field(
        min_length=16, max_length=128, pattern=r"^[0-9a-f]+$", description="Unit credential."
    )
    time: AwareDatetime = Field(description="When it happened (occurrence time).")
    sector: SectorIdField | None = Field(default=None, description="Sector, if the unit knows.")
    subject: str | None = Field(
        default=None,
        max_length=256,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="What the event is about (incident, perimeter), if anything.",
    )
    event: dict[str, Any] = Field(
        description="The event payload, with its `type` (validated by the agency service)."
    )


class ReportStatus(StrEnum):
    """What became of a report at the agency service."""

    PROPOSED = "proposed"
    REFUSED = "refused"


class ReportAck(BaseModel):
    """The agency service's reply to a unit report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    report: str = Field(description="The report answered.")
    status: ReportStatus = Field(description="Proposed to the coordinator, or refused here.")
    event_id: str | None = Field(default=None, description="Id of the proposed event.")
    reason: ReasonCode | None = Field(default=None, description="Why it was refused.")
    message: str = Field(default="", description="The refusal, as an operator says it.")


class Dispatch(BaseModel):
    """What an agency service forwards to one of its units from its feed (an assignment)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: UnitIdField
    event_id: str = Field(description="Id of the timeline event behind it.")
    type: str = Field(description="Event type.")
    incident: str | None = Field(default=None, description="Incident concerned, if any.")
