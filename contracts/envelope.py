"""The envelope: CloudEvents 1.0 attributes plus Interforces extensions, around one event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.events.catalogue import Event
from contracts.ids import EventIdField, OperationIdField, SectorIdField, UnitIdField
from contracts.vocabulary import Agency, Classification, Mode

#: Attribute names of the CloudEvents 1.0 core this envelope uses, then its extensions.
CORE_ATTRIBUTES = ("id", "source", "specversion", "type", "time", "subject", "datacontenttype")
EXTENSION_ATTRIBUTES = (
    "operation",
    "mode",
    "agency",
    "unit",
    "sector",
    "classification",
    "recordedtime",
    "sequence",
)
#: RFC 3986 URI-reference characters, with percent-escapes well formed.
URI_REFERENCE_PATTERN = r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$"
CONTENT_TYPE_JSON: Final = "application/json"


def _in_utc_range(moment: datetime) -> datetime:
    # 9999-12-31T23:59-23:59 is a valid RFC 3339 time whose UTC instant is past year 9999:
    # every consumer compares instants in UTC, so such a time is refused here, not there.
    try:
        moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the instant lies outside the years 1 to 9999 in UTC") from exc
    return moment


#: An aware datetime whose instant exists in UTC (years 1 to 9999).
UtcInstant = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]


class Envelope(BaseModel):
    """A CloudEvents 1.0 event carrying one Interforces event in `data`.

    `time` is when it happened; `recordedtime` when the coordinator recorded it;
    `sequence` its position in the timeline stream (set when appended).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: EventIdField
    source: str = Field(
        min_length=1,
        max_length=256,
        pattern=URI_REFERENCE_PATTERN,
        description="CloudEvents source: URI-reference of the emitter (agency service, unit).",
    )
    specversion: Literal["1.0"] = Field(default="1.0", description="CloudEvents version.")
    type: str = Field(max_length=200, description="CloudEvents type; equals `data.type`.")
    time: UtcInstant = Field(description="When it happened (occurrence time), RFC 3339.")
    subject: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="CloudEvents subject: what the event is about (incident, unit, perimeter).",
    )
    datacontenttype: Literal["application/json"] = Field(
        default=CONTENT_TYPE_JSON, description="Media type of `data`."
    )
    operation: OperationIdField
    mode: Mode = Field(description="Live operation or exercise.")
    agency: Agency = Field(description="Agency that proposed the event.")
    unit: UnitIdField | None = Field(default=None, description="Unit that emitted it, if any.")
    sector: SectorIdField | None = Field(default=None, description="Sector it concerns, if any.")
    classification: Classification = Field(
        default=Classification.INTERNAL, description="How widely it may circulate."
    )
    recordedtime: UtcInstant | None = Field(
        default=None, description="When the coordinator recorded it, RFC 3339."
    )
    sequence: int | None = Field(
        default=None, ge=1, description="Position in the timeline stream, once appended."
    )
    data: Event = Field(description="The event itself.")

    @model_validator(mode="after")
    def _type_matches_data(self) -> Envelope:
        if self.type != self.data.type:
            raise ValueError(f"type {self.type!r} differs from data.type {self.data.type!r}")
        return self
