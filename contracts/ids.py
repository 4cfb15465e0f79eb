"""Distinct identifier types, so that a unit id is never passed where an event id is due."""

from __future__ import annotations

import uuid
from typing import Annotated, NewType

from pydantic import Field

EventId = NewType("EventId", str)
OperationId = NewType("OperationId", str)
SectorId = NewType("SectorId", str)
UnitId = NewType("UnitId", str)
IncidentId = NewType("IncidentId", str)

#: Tokens that go into NATS subjects: lowercase, digits and dashes, no dots nor wildcards.
SUBJECT_TOKEN_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"  # noqa: S105 (a regex, not a secret)

#: Free identifiers (unit call signs, sector codes, references): printable, no whitespace.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"

OperationIdField = Annotated[
    OperationId,
    Field(pattern=SUBJECT_TOKEN_PATTERN, description="Operation id, usable as a subject token."),
]
SectorIdField = Annotated[
    SectorId, Field(pattern=IDENTIFIER_PATTERN, description="Sector id from the charter.")
]
UnitIdField = Annotated[
    UnitId, Field(pattern=IDENTIFIER_PATTERN, description="Unit call sign from the charter.")
]
IncidentIdField = Annotated[
    IncidentId, Field(pattern=IDENTIFIER_PATTERN, description="Incident id, set by its reporter.")
]
EventIdField = Annotated[
    EventId,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Event id (CloudEvents `id`), unique per source.",
    ),
]

#: Namespace for ids the coordinator derives (violations): retries derive the same id.
DERIVED_ID_NAMESPACE = uuid.UUID("6f1c3e7a-52a4-4b8e-9a51-6d2b8f0c7e11")


def derived_event_id(*parts: str) -> EventId:
    """A deterministic event id from its parts (idempotent under redelivery)."""
    return EventId(str(uuid.uuid5(DERIVED_ID_NAMESPACE, "\x1f".join(parts))))
