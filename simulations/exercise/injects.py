"""The trainers' desk: injects proposed as the direction d'exercice, straight onto JetStream.

There is no service of the exercise control: like the crisis cell's desk, it builds each
envelope itself, with an id derived from its own key (a retried publish stays one
proposal), and publishes it on its exercise proposal subject with the exercise marker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nats.js import JetStreamContext

from contracts import subjects
from contracts.envelope import Envelope
from contracts.events.catalogue import EVENT_ADAPTER
from contracts.ids import EventId, OperationId, SectorId, UnitId, derived_event_id
from contracts.vocabulary import Agency, Mode
from simulations.field.desk import publish_proposal
from simulations.field.retry import RetryPolicy


def control_source(unit: str | None) -> str:
    """CloudEvents source of the trainers' events."""
    return f"/interforces/{Agency.EXERCISE_CONTROL.value}/{unit or 'direction'}"


def control_event_id(unit: str | None, key: str) -> EventId:
    """The id of the trainers' event of action `key` (the same for every retry)."""
    return derived_event_id(control_source(unit), key)


def control_envelope(
    operation: str,
    key: str,
    time: datetime,
    event: dict[str, Any],
    *,
    unit: str | None,
    sector: str | None = None,
    subject: str | None = None,
) -> Envelope:
    """The envelope of one of the trainers' actions (always an exercise)."""
    data = EVENT_ADAPTER.validate_python(event)
    return Envelope(
        id=control_event_id(unit, key),
        source=control_source(unit),
        type=data.type,
        time=time,
        subject=subject,
        operation=OperationId(operation),
        mode=Mode.EXERCISE,
        agency=Agency.EXERCISE_CONTROL,
        unit=UnitId(unit) if unit is not None else None,
        sector=SectorId(sector) if sector is not None else None,
        classification=type(data).TRAITS.classification,
        data=data,
    )


@dataclass(frozen=True, slots=True)
class Published:
    """Where JetStream stored an inject (`duplicate`: it already had it)."""

    event_id: EventId
    sequence: int
    duplicate: bool


class ControlDesk:
    """Publishes the trainers' proposals of one exercise operation."""

    def __init__(
        self,
        js: JetStreamContext,
        operation: str,
        unit: str | None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.js = js
        self.operation = operation
        self.unit = unit
        self.retry = retry or RetryPolicy(timeout_s=5.0)

    async def propose(
        self,
        key: str,
        time: datetime,
        event: dict[str, Any],
        *,
        sector: str | None = None,
        subject: str | None = None,
    ) -> Published:
        """Publish one proposal; raise `DeskPublishError` when JetStream never takes it."""
        envelope = control_envelope(
            self.operation, key, time, event, unit=self.unit, sector=sector, subject=subject
        )
        target = subjects.proposal(
            Mode.EXERCISE, self.operation, Agency.EXERCISE_CONTROL, envelope.type
        )
        ack = await publish_proposal(self.js, target, envelope, self.retry)
        return Published(envelope.id, ack.seq, bool(ack.duplicate))
