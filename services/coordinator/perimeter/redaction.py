"""From a decision to the records that leave the coordinator: the timeline record and each
recipient's copy. Redacted copies stay valid events of the catalogue: a removed field is
reset to its default (the charter only lets optional fields be removed)."""

from __future__ import annotations

import re
from typing import Any

from contracts.envelope import Envelope
from contracts.events.violations import PerimeterViolated
from contracts.ids import derived_event_id
from contracts.redaction import redact, reset_fields
from services.coordinator.perimeter.decision import Decision, Delivery

#: CloudEvents source of everything the coordinator emits itself.
COORDINATOR_SOURCE = "/interforces/coordinator"
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,200}")


def record_of(decision: Decision) -> Envelope:
    """The timeline record: the accepted event (holder-only fields withheld, recorded time
    set), or the perimeter violation that records the refusal."""
    proposal = decision.proposal
    envelope = proposal.envelope
    if decision.accepted:
        update: dict[str, Any] = {
            "recordedtime": proposal.received_at,
            "sequence": None,  # only the timeline stream numbers records
            "classification": decision.classification,
        }
        if decision.withheld:
            update["data"] = envelope.data.model_copy(
                update=reset_fields(envelope.data, decision.withheld)
            )
        return envelope.model_copy(update=update)
    subject = proposal.subject
    proposal_subject = subject if _PRINTABLE.fullmatch(subject) else None
    violation = PerimeterViolated(
        proposal_id=envelope.id,
        proposal_type=envelope.type,
        proposer=envelope.agency,
        credentials_agency=proposal.credentials_agency,
        proposal_subject=proposal_subject,
        reasons=decision.reasons,
        competent_agencies=decision.competent_agencies,
    )
    return Envelope(
        id=derived_event_id("violation", envelope.source, envelope.id),
        source=COORDINATOR_SOURCE,
        type=violation.type,
        time=proposal.received_at,
        subject=envelope.id,
        operation=decision.operation,
        mode=decision.mode,
        agency=envelope.agency,
        unit=envelope.unit,
        sector=envelope.sector,
        recordedtime=proposal.received_at,
        data=violation,
    )


def render_delivery(record: Envelope, delivery: Delivery) -> Envelope:
    """One recipient's copy of a record."""
    return redact(record, delivery.remove, delivery.coarsen)
