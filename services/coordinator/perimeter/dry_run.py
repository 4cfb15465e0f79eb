"""Dry runs: decide a batch of JSON-lines proposals against a charter, as a deputy does
before the event. Any line gives exactly one decision line; none raises."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from contracts import subjects
from contracts.cloudevents import envelope_from_mapping
from contracts.errors import EnvelopeError, SubjectError
from contracts.reasons import REASON_MESSAGES, ReasonCode
from contracts.vocabulary import Agency
from services.coordinator.perimeter.compiled import CompiledCharter
from services.coordinator.perimeter.decision import Decision, Proposal
from services.coordinator.perimeter.engine import decide
from services.coordinator.perimeter.redaction import record_of
from services.coordinator.perimeter.situation import Situation


class ProposalLine(BaseModel):
    """A proposal as written in a dry-run file: the event and how it arrived.

    A bare CloudEvent is also accepted: it is then taken as published on its own agency's
    proposal subject, with that agency's credentials, and received at its `time`.
    """

    model_config = ConfigDict(extra="forbid")

    event: dict[str, Any] = Field(description="The proposed CloudEvent (structured JSON).")
    subject: str | None = Field(default=None, description="Subject it was published on.")
    credentials_agency: Agency | None = Field(
        default=None, description="Agency of the credentials it was published with."
    )
    received_at: AwareDatetime | None = Field(
        default=None, description="When the coordinator received it."
    )


def decide_lines(lines: Iterable[str], compiled: CompiledCharter) -> Iterator[dict[str, Any]]:
    """One JSON-able decision per non-blank line, folding accepted incidents as it goes."""
    situation = Situation()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            proposal = _proposal(line)
        except _LineError as exc:
            yield {"line": number, "outcome": "rejected", "reasons": [exc.reason()]}
            continue
        decision = decide(proposal, compiled, situation)
        if decision.accepted:
            situation = situation.apply(record_of(decision))
        yield {"line": number, **summary(decision)}


def summary(decision: Decision) -> dict[str, Any]:
    """A decision as JSON: outcome, reasons, recipients and what each loses."""
    envelope = decision.proposal.envelope
    out: dict[str, Any] = {
        "id": envelope.id,
        "type": envelope.type,
        "agency": envelope.agency.value,
        "outcome": "accepted" if decision.accepted else "rejected",
        "reasons": [r.model_dump(mode="json") for r in decision.reasons],
        "recipients": [
            {
                "recipient": d.recipient.value,
                "removed": list(d.remove),
                "coarsened": [{"field": f, "decimals": n} for f, n in d.coarsen],
            }
            for d in decision.deliveries
        ],
    }
    if decision.withheld:
        out["withheld"] = list(decision.withheld)
    if decision.competent_agencies:
        out["competent_agencies"] = [a.value for a in decision.competent_agencies]
    return out


class _LineError(Exception):
    def __init__(self, code: ReasonCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    def reason(self) -> dict[str, str]:
        return {"code": self.code.value, "message": f"{REASON_MESSAGES[self.code]} — {self.detail}"}


def _proposal(line: str) -> Proposal:
    try:
        document = json.loads(line)
    except ValueError as exc:
        raise _LineError(ReasonCode.MALFORMED, str(exc)) from exc
    if not isinstance(document, dict):
        raise _LineError(ReasonCode.MALFORMED, "une ligne doit être un objet JSON")
    if "specversion" in document:
        document = {"event": document}
    try:
        wrapper = ProposalLine.model_validate(document)
        envelope = envelope_from_mapping(wrapper.event)
    except ValidationError as exc:
        raise _LineError(
            ReasonCode.MALFORMED, str(exc.errors(include_url=False)[0]["msg"])
        ) from exc
    except EnvelopeError as exc:
        raise _LineError(ReasonCode(exc.code), exc.message) from exc
    try:
        subject = wrapper.subject or subjects.proposal(
            envelope.mode, envelope.operation, envelope.agency, envelope.type
        )
    except SubjectError as exc:
        raise _LineError(ReasonCode.INVALID_ENVELOPE, str(exc)) from exc
    received_at: datetime = wrapper.received_at or envelope.time
    credentials = (
        wrapper.credentials_agency if "credentials_agency" in document else envelope.agency
    )
    return Proposal(envelope, subject, credentials, received_at)
