"""The crisis cell's console: it proposes its own events straight onto JetStream.

There is no crisis-cell service: the desk builds each envelope itself (agency crisis_cell,
unit PC-HDV), with an id derived from the desk's own action key, and publishes it as a
structured CloudEvent with `Nats-Msg-Id` = event id, so a retried publish is one proposal.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NoStreamResponseError

from contracts import subjects
from contracts.cloudevents import to_structured
from contracts.envelope import Envelope
from contracts.events.catalogue import EVENT_ADAPTER
from contracts.ids import EventId, OperationId, SectorId, UnitId, derived_event_id
from contracts.routing import CLOUDEVENTS_JSON, CONTENT_TYPE_HEADER, MSG_ID_HEADER, mode_headers
from contracts.vocabulary import Agency, Mode
from simulations.field.errors import DeskPublishError
from simulations.field.retry import RetryPolicy

#: The crisis cell's post in the festival charter.
DESK_UNIT: Final = "PC-HDV"


def desk_source(unit: str = DESK_UNIT) -> str:
    """CloudEvents source of the desk's events."""
    return f"/interforces/{Agency.CRISIS_CELL.value}/{unit}"


def desk_envelope(
    mode: Mode,
    operation: str,
    key: str,
    time: datetime,
    event: dict[str, Any],
    *,
    sector: str | None = None,
    subject: str | None = None,
    unit: str = DESK_UNIT,
) -> Envelope:
    """The envelope of one desk action: its id derives from the source and the action key,
    so the same action always proposes the same event."""
    data = EVENT_ADAPTER.validate_python(event)
    source = desk_source(unit)
    return Envelope(
        id=derived_event_id(source, key),
        source=source,
        type=data.type,
        time=time,
        subject=subject,
        operation=OperationId(operation),
        mode=mode,
        agency=Agency.CRISIS_CELL,
        unit=UnitId(unit),
        sector=SectorId(sector) if sector is not None else None,
        classification=type(data).TRAITS.classification,
        data=data,
    )


async def publish_proposal(
    js: JetStreamContext, target: str, envelope: Envelope, retry: RetryPolicy
) -> PubAck:
    """Publish a desk's proposal (deduplicated by its id, marked with its mode), retrying
    while JetStream does not answer; raise `DeskPublishError` when it never does."""
    headers = {
        **mode_headers(envelope.mode),
        MSG_ID_HEADER: envelope.id,
        CONTENT_TYPE_HEADER: CLOUDEVENTS_JSON,
    }
    body = to_structured(envelope)
    last = ""
    for attempt in range(1, retry.attempts + 1):
        try:
            return await js.publish(target, body, timeout=retry.timeout_s, headers=dict(headers))
        except (NatsTimeoutError, NoRespondersError, NoStreamResponseError) as exc:
            last = type(exc).__name__
            if attempt < retry.attempts:
                await asyncio.sleep(retry.pause(attempt))
    raise DeskPublishError(envelope.id, retry.attempts, last)


@dataclass(frozen=True, slots=True)
class DeskReceipt:
    """Where JetStream stored a desk proposal (`duplicate`: it already had it)."""

    event_id: EventId
    subject: str
    stream: str
    sequence: int
    duplicate: bool


class CrisisCellDesk:
    """Proposes crisis-cell events (assignments, decisions, public alerts)."""

    def __init__(
        self,
        js: JetStreamContext,
        mode: Mode,
        operation: str,
        *,
        unit: str = DESK_UNIT,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.js = js
        self.mode = mode
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
    ) -> DeskReceipt:
        """Publish one proposal; raise `DeskPublishError` when JetStream never acknowledges."""
        envelope = desk_envelope(
            self.mode,
            self.operation,
            key,
            time,
            event,
            sector=sector,
            subject=subject,
            unit=self.unit,
        )
        target = subjects.proposal(self.mode, self.operation, Agency.CRISIS_CELL, envelope.type)
        ack = await publish_proposal(self.js, target, envelope, self.retry)
        return DeskReceipt(envelope.id, target, ack.stream, ack.seq, bool(ack.duplicate))
