"""The coordinator's functional core: from a raw proposal message to the outputs it owes.

`Coordinator.decide` never raises and never does I/O. Whatever arrives ends as exactly one
timeline record: the accepted event, or a perimeter violation giving every reason (an
unreadable message included). The shell publishes the record, then each recipient's copy.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from contracts import subjects
from contracts.cloudevents import from_structured
from contracts.envelope import Envelope
from contracts.errors import EnvelopeError, SubjectError
from contracts.events.violations import PerimeterViolated, Reason
from contracts.ids import OperationId, derived_event_id
from contracts.reasons import REASON_MESSAGES, ReasonCode
from contracts.routing import MSG_ID_HEADER, RecordDelivery
from contracts.vocabulary import Agency, Mode
from services.coordinator.perimeter.compiled import CompiledCharter
from services.coordinator.perimeter.decision import Delivery, Proposal
from services.coordinator.perimeter.engine import decide
from services.coordinator.perimeter.redaction import (
    COORDINATOR_SOURCE,
    record_of,
    render_delivery,
)
from services.coordinator.perimeter.situation import Situation

_PRINTABLE = re.compile(r"[\x21-\x7e]{1,200}")
#: Operation token used when a proposal's subject names no readable operation.
UNKNOWN_OPERATION = OperationId("unknown")


@dataclass(frozen=True, slots=True)
class Incoming:
    """A proposal message as JetStream delivered it."""

    subject: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one proposal becomes: its timeline record and who receives which copy."""

    proposal_id: str
    record: Envelope
    deliveries: tuple[RecordDelivery, ...]
    accepted: bool

    @property
    def timeline_subject(self) -> str:
        """Where the record is appended."""
        return subjects.timeline(self.record.mode, self.record.operation, self.record.type)

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Reasons of a refusal (empty when accepted)."""
        data = self.record.data
        return data.reasons if isinstance(data, PerimeterViolated) else ()


def feed_copy(record: Envelope, delivery: RecordDelivery) -> Envelope:
    """One recipient's copy of an appended record."""
    return render_delivery(record, Delivery(delivery.to, delivery.remove, delivery.coarsen))


def feed_subject(record: Envelope, delivery: RecordDelivery) -> str:
    """Subject of one recipient's copy."""
    return subjects.feed(record.mode, record.operation, delivery.to, record.type)


def proposal_id_of(incoming: Incoming) -> str:
    """The id a proposal is known by: its message id, else a digest of its bytes."""
    msg_id = incoming.headers.get(MSG_ID_HEADER)
    if msg_id and msg_id.isascii() and msg_id.isprintable() and len(msg_id) <= 128:
        return msg_id
    return "sha256:" + hashlib.sha256(incoming.subject.encode() + b"\0" + incoming.body).hexdigest()


class Coordinator:
    """Charters of the operations, and what it knows of each (incidents, decided ids)."""

    def __init__(
        self,
        charters: Mapping[OperationId, CompiledCharter],
        *,
        max_proposal_bytes: int = 64 * 1024,
        remembered: int = 500_000,
    ) -> None:
        self.charters = dict(charters)
        self.max_proposal_bytes = max_proposal_bytes
        self._remembered = remembered
        self._situations: dict[tuple[Mode, str], Situation] = {}
        self._decided: OrderedDict[tuple[Mode, str], int] = OrderedDict()

    # --- state -----------------------------------------------------------------------------

    def situation(self, mode: Mode, operation: str) -> Situation:
        """What is known of an operation's incidents."""
        return self._situations.get((mode, operation), Situation())

    def reset(self, mode: Mode) -> None:
        """Forget everything of a mode (before folding its timeline again)."""
        self._situations = {k: v for k, v in self._situations.items() if k[0] is not mode}
        self._decided = OrderedDict((k, v) for k, v in self._decided.items() if k[0] is not mode)

    def remember(self, mode: Mode, proposal_id: str, sequence: int) -> None:
        """Note that a proposal's record sits at `sequence` of the mode's timeline."""
        key = (mode, proposal_id)
        self._decided[key] = sequence
        self._decided.move_to_end(key)
        while len(self._decided) > self._remembered:
            self._decided.popitem(last=False)

    def decided_at(self, mode: Mode, proposal_id: str) -> int | None:
        """Timeline sequence of an already decided proposal, if remembered."""
        return self._decided.get((mode, proposal_id))

    def apply(self, record: Envelope) -> None:
        """Fold an appended record into the situation (violations change nothing)."""
        if isinstance(record.data, PerimeterViolated):
            return
        key = (record.mode, record.operation)
        self._situations[key] = self.situation(record.mode, record.operation).apply(record)

    # --- decision --------------------------------------------------------------------------

    def decide(self, mode: Mode, incoming: Incoming) -> Outcome:
        """Decide one proposal of `mode`'s stream. Accepted records update the situation."""
        proposal_id = proposal_id_of(incoming)
        try:
            parsed = subjects.parse_proposal(incoming.subject)
        except SubjectError:
            refusal = _Refusal(UNKNOWN_OPERATION, None, "unknown", proposal_id)
            return refusal.outcome(
                mode, incoming, ReasonCode.INVALID_ENVELOPE, "sujet de proposition illisible"
            )
        operation, agency = parsed.operation, parsed.agency
        refusal = _Refusal(operation, agency, parsed.event_type, proposal_id)
        if len(incoming.body) > self.max_proposal_bytes:
            size = f"{len(incoming.body)} octets, maximum {self.max_proposal_bytes}"
            return refusal.outcome(mode, incoming, ReasonCode.PAYLOAD_TOO_LARGE, size)
        try:
            envelope = from_structured(incoming.body)
        except EnvelopeError as exc:
            return refusal.outcome(mode, incoming, ReasonCode(exc.code), exc.message)
        compiled = self.charters.get(operation)
        if compiled is None or compiled.charter.operation.mode is not mode:
            refusal = _Refusal(operation, agency, envelope.type, envelope.id)
            unknown = f"aucune opération {operation} en mode {mode.value}"
            return refusal.outcome(mode, incoming, ReasonCode.WRONG_OPERATION, unknown)
        proposal = Proposal(
            envelope=envelope,
            subject=incoming.subject,
            # Broker permissions let an agency's credentials publish only on its own
            # proposal subjects: the subject's agency is the credentials' agency.
            credentials_agency=agency,
            received_at=incoming.received_at,
        )
        decision = decide(proposal, compiled, self.situation(mode, operation))
        record = record_of(decision)
        if decision.accepted:
            self.apply(record)
        deliveries = tuple(
            RecordDelivery(to=d.recipient, remove=d.remove, coarsen=d.coarsen)
            for d in decision.deliveries
        )
        return Outcome(envelope.id, record, deliveries, decision.accepted)


@dataclass(frozen=True, slots=True)
class _Refusal:
    """A refusal recorded before (or without) the perimeter engine: what is known of it."""

    operation: OperationId
    agency: Agency | None
    event_type: str
    proposal_id: str

    def outcome(self, mode: Mode, incoming: Incoming, code: ReasonCode, detail: str) -> Outcome:
        subject = incoming.subject
        printable = _PRINTABLE.fullmatch(subject) is not None
        violation = PerimeterViolated(
            proposal_id=self.proposal_id[:128],
            proposal_type=self.event_type[:200],
            proposer=self.agency,
            credentials_agency=self.agency,
            proposal_subject=subject if printable else None,
            reasons=(Reason(code=code, message=f"{REASON_MESSAGES[code]} — {detail}"[:1000]),),
        )
        record = Envelope(
            id=derived_event_id("violation", subject, self.proposal_id),
            source=COORDINATOR_SOURCE,
            type=violation.type,
            time=incoming.received_at,
            subject=self.proposal_id[:128],
            operation=self.operation,
            mode=mode,
            agency=self.agency or Agency.CRISIS_CELL,
            recordedtime=incoming.received_at,
            data=violation,
        )
        recipients = dict.fromkeys((Agency.CRISIS_CELL, self.agency or Agency.CRISIS_CELL))
        deliveries = tuple(RecordDelivery(to=a) for a in recipients)
        return Outcome(self.proposal_id, record, deliveries, accepted=False)
