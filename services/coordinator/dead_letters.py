"""Dead letters: the timeline record of a proposal JetStream gave up on.

A proposal whose handling failed on every one of its deliveries (a bug it triggers, an output
JetStream refuses) is recorded as a `perimeter.violated` with the `dead_letter` reason, sent
to the crisis cell and to the agency its subject names. The record names where the message
is (stream, sequence), its subject, its deliveries, and the size and digest of its bytes —
never the bytes themselves, which may hold personal data. Its id derives from the stream and
the sequence, so that a repeated advisory (or two coordinators hearing it) records it once.
"""

from __future__ import annotations

import hashlib

from contracts import subjects
from contracts.errors import SubjectError
from contracts.ids import derived_event_id
from contracts.reasons import ReasonCode
from contracts.vocabulary import Mode
from services.coordinator.domain import (
    UNKNOWN_OPERATION,
    Incoming,
    Outcome,
    proposal_digest,
    proposal_id_of,
    reason_of,
    refusal,
)
from services.runtime.consumer import Exhausted


def dead_letter(mode: Mode, exhausted: Exhausted) -> Outcome:
    """The record of a proposal of `mode`'s stream that JetStream stopped delivering."""
    subject = exhausted.subject
    try:
        parsed = subjects.parse_proposal(subject) if subject is not None else None
    except SubjectError:
        parsed = None
    where = f"flux {exhausted.stream}, position {exhausted.sequence}"
    details = [where, f"{exhausted.deliveries} remises"]
    key = f"{exhausted.stream}:{exhausted.sequence}"
    digest = None
    if exhausted.data is not None:
        incoming = Incoming(
            subject=subject or "",
            headers=exhausted.headers,
            body=exhausted.data,
            received_at=exhausted.stored_at or exhausted.noticed_at,
        )
        key = proposal_id_of(incoming)
        digest = proposal_digest(incoming)
        body_digest = hashlib.sha256(exhausted.data).hexdigest()
        details.append(f"{len(exhausted.data)} octets, empreinte SHA-256 {body_digest}")
    if exhausted.problem is not None:
        details.append(f"message non relu ({exhausted.problem})")
    return refusal(
        mode,
        record_id=derived_event_id("dead-letter", exhausted.stream, str(exhausted.sequence)),
        proposal_id=key,
        operation=parsed.operation if parsed is not None else UNKNOWN_OPERATION,
        agency=parsed.agency if parsed is not None else None,
        event_type=parsed.event_type if parsed is not None else "unknown",
        subject=subject,
        reason=reason_of(ReasonCode.DEAD_LETTER, " ; ".join(details)),
        time=exhausted.stored_at or exhausted.noticed_at,
        recorded_at=exhausted.noticed_at,
        digest=digest,
    )
