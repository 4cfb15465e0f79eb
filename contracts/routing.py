"""Headers the services put on NATS messages, and the routing a timeline record carries.

The coordinator writes, on each timeline record, the list of recipients and the redaction
each is owed (`Ifc-Deliveries`). The record then carries its own routing: a restarted
coordinator re-sends feeds from it, and the timeline service shows an agency exactly what
its feed received.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from contracts.vocabulary import Agency, Mode

#: JetStream deduplication key (the event id, or `<event id>:<recipient>` on feeds).
MSG_ID_HEADER = "Nats-Msg-Id"
#: JSON list of `RecordDelivery`, on timeline records.
DELIVERIES_HEADER = "Ifc-Deliveries"
#: Id of the proposal a timeline record answers (the event id, or a refused proposal's).
PROPOSAL_HEADER = "Ifc-Proposal"
#: Digest of the proposal a timeline record answers (its subject and bytes), to tell a
#: redelivery (same digest) from another proposal reusing an id (`duplicate_id`).
DIGEST_HEADER = "Ifc-Proposal-Digest"
#: Media type of a structured CloudEvent.
CONTENT_TYPE_HEADER = "content-type"
CLOUDEVENTS_JSON = "application/cloudevents+json"
#: The unmistakable exercise marker, on every message an exercise operation publishes
#: (proposals, timeline records, feeds, receipts, dispatches); never on a live message.
EXERCISE_HEADER = "Ifc-Exercise"
#: Its value, and the banner of every exercise document, as an operator reads it.
EXERCISE_MARK = "EXERCICE"


class RecordDelivery(BaseModel):
    """One recipient of a timeline record, and what its copy loses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    to: Agency = Field(description="Recipient.")
    remove: tuple[str, ...] = Field(default=(), description="Payload fields reset to default.")
    coarsen: tuple[tuple[str, int], ...] = Field(
        default=(), description="Position fields rounded to (field, decimals)."
    )


_DELIVERIES = TypeAdapter(tuple[RecordDelivery, ...])


def encode_deliveries(deliveries: tuple[RecordDelivery, ...]) -> str:
    """The `Ifc-Deliveries` header value."""
    return _DELIVERIES.dump_json(deliveries, exclude_defaults=True).decode()


def decode_deliveries(value: str) -> tuple[RecordDelivery, ...]:
    """Parse an `Ifc-Deliveries` header (raises `pydantic.ValidationError`)."""
    return _DELIVERIES.validate_json(value)


def feed_msg_id(event_id: str, recipient: Agency) -> str:
    """Deduplication key of one recipient's copy."""
    return f"{event_id}:{recipient.value}"


def mode_headers(mode: Mode) -> dict[str, str]:
    """Headers marking a message of `mode`: the exercise marker in exercises, none in live."""
    return {EXERCISE_HEADER: EXERCISE_MARK} if mode is Mode.EXERCISE else {}
