"""The coordinator's functional core: from a raw proposal message to the outputs it owes.

`Coordinator.decide` never raises and never does I/O. Whatever arrives ends as exactly one
timeline record: the accepted event, or a perimeter violation giving every reason (an
unreadable message included). The shell publishes the record, then each recipient's copy.

An event id is recorded once: the same proposal again (same subject and bytes) is decided
again and deduplicated by JetStream on its id, but another content under a recorded id is
refused (`duplicate_id`): a correction is a new event, never an edit. The coordinator knows
each recorded proposal by its id and a digest of its subject and bytes (`DIGEST_HEADER` on
the timeline record, so that a restarted coordinator knows them too).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from contracts import subjects
from contracts.cloudevents import from_structured
from contracts.envelope import Envelope
from contracts.errors import EnvelopeError, SubjectError
from contracts.events.violations import PerimeterViolated, Reason
from contracts.ids import EventId, OperationId, derived_event_id
from contracts.reasons import REASON_MESSAGES, ReasonCode
from contracts.routing import MSG_ID_HEADER, RecordDelivery
from contracts.vocabulary import Agency, Mode
from services.coordinator.perimeter.compiled import CompiledCharter
from services.coordinator.perimeter.decision import Decision, Delivery, Proposal
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
#: Distinct routings kept built (a charter has a few dozen; the bound is a safety net).
_ROUTINGS_KEPT = 4096
#: The perimeter engine: a proposal, its charter and the situation → a decision.
Engine = Callable[[Proposal, CompiledCharter, Situation], Decision]


@functools.cache
def _about_incident(event_type: type[BaseModel]) -> bool:
    """Whether events of this class name an incident (the others leave the situation)."""
    return "incident" in event_type.model_fields


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
    digest: str | None = None

    @property
    def timeline_subject(self) -> str:
        """Where the record is appended."""
        return _timeline_subject(self.record.mode, self.record.operation, self.record.type)

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
    return _feed_subject(record.mode, record.operation, delivery.to, record.type)


# Subjects repeat (operations × recipients × types): each is built and checked once.
_timeline_subject = functools.lru_cache(maxsize=8192)(subjects.timeline)
_feed_subject = functools.lru_cache(maxsize=8192)(subjects.feed)


def proposal_digest(incoming: Incoming) -> str:
    """Digest of what a proposal says: its subject and its bytes (SHA-256, hexadecimal)."""
    subject = incoming.subject.encode("utf-8", "surrogatepass")
    return hashlib.sha256(subject + b"\0" + incoming.body).hexdigest()


def proposal_id_of(incoming: Incoming) -> str:
    """The id a proposal is known by: its message id, else a digest of its bytes."""
    msg_id = incoming.headers.get(MSG_ID_HEADER)
    if msg_id and msg_id.isascii() and msg_id.isprintable() and len(msg_id) <= 128:
        return msg_id
    return "sha256:" + proposal_digest(incoming)


@dataclass(frozen=True, slots=True)
class Recorded:
    """Where a decided proposal's record sits on the timeline (0: decided, not yet appended),
    and the digest of the proposal (None when unknown)."""

    sequence: int
    digest: str | None = None

    def same_proposal(self, digest: str) -> bool:
        """Whether a proposal with this digest is the one recorded (unknown digests agree)."""
        return self.digest is None or self.digest == digest


def refusal(
    mode: Mode,
    *,
    record_id: EventId,
    proposal_id: str,
    operation: OperationId,
    agency: Agency | None,
    event_type: str,
    subject: str | None,
    reason: Reason,
    time: datetime,
    recorded_at: datetime,
    digest: str | None = None,
) -> Outcome:
    """The violation recording a refusal decided outside the perimeter engine (unreadable,
    duplicate, dead letter), for the crisis cell and the agency the subject names."""
    printable = subject is not None and _PRINTABLE.fullmatch(subject) is not None
    violation = PerimeterViolated(
        proposal_id=proposal_id[:128],
        proposal_type=event_type[:200],
        proposer=agency,
        credentials_agency=agency,
        proposal_subject=subject if printable else None,
        reasons=(reason,),
    )
    record = Envelope(
        id=record_id,
        source=COORDINATOR_SOURCE,
        type=violation.type,
        time=time,
        subject=proposal_id[:128],
        operation=operation,
        mode=mode,
        agency=agency or Agency.CRISIS_CELL,
        recordedtime=recorded_at,
        data=violation,
    )
    recipients = dict.fromkeys((Agency.CRISIS_CELL, agency or Agency.CRISIS_CELL))
    deliveries = tuple(RecordDelivery(to=a) for a in recipients)
    return Outcome(proposal_id, record, deliveries, accepted=False, digest=digest)


def reason_of(code: ReasonCode, detail: str) -> Reason:
    """A reason with the operator's wording of its code, then the detail."""
    return Reason(code=code, message=f"{REASON_MESSAGES[code]} — {detail}"[:1000])


class Coordinator:
    """Charters of the operations, and what it knows of each (incidents, decided ids)."""

    def __init__(
        self,
        charters: Mapping[OperationId, CompiledCharter],
        *,
        max_proposal_bytes: int = 64 * 1024,
        remembered: int = 500_000,
        engine: Engine = decide,
    ) -> None:
        self.charters = dict(charters)
        self.max_proposal_bytes = max_proposal_bytes
        self.engine = engine
        self._remembered = remembered
        self._situations: dict[tuple[Mode, str], Situation] = {}
        self._decided: OrderedDict[tuple[Mode, str], Recorded] = OrderedDict()
        self._routings: dict[tuple[Delivery, ...], tuple[RecordDelivery, ...]] = {}

    # --- state -----------------------------------------------------------------------------

    def situation(self, mode: Mode, operation: str) -> Situation:
        """What is known of an operation's incidents."""
        known = self._situations.get((mode, operation))
        return known if known is not None else Situation()

    def reset(self, mode: Mode) -> None:
        """Forget everything of a mode (before folding its timeline again)."""
        self._situations = {k: v for k, v in self._situations.items() if k[0] is not mode}
        self._decided = OrderedDict((k, v) for k, v in self._decided.items() if k[0] is not mode)

    def remember(
        self, mode: Mode, proposal_id: str, sequence: int, digest: str | None = None
    ) -> None:
        """Note that a proposal's record sits at `sequence` of the mode's timeline. The first
        record of an id stays the one remembered (a later refusal of a duplicate does not
        replace it); a proposal decided but not yet appended gets its sequence."""
        key = (mode, proposal_id)
        known = self._decided.get(key)
        if known is None or known.sequence == 0:
            self._decided[key] = Recorded(sequence, digest or (known.digest if known else None))
        self._decided.move_to_end(key)
        while len(self._decided) > self._remembered:
            self._decided.popitem(last=False)

    def recorded(self, mode: Mode, proposal_id: str) -> Recorded | None:
        """What is remembered of an already decided proposal."""
        return self._decided.get((mode, proposal_id))

    def decided_at(self, mode: Mode, proposal_id: str) -> int | None:
        """Timeline sequence of an already decided proposal, if remembered."""
        known = self._decided.get((mode, proposal_id))
        return None if known is None else known.sequence

    def apply(self, record: Envelope) -> None:
        """Fold an appended record into the situation (violations change nothing)."""
        if isinstance(record.data, PerimeterViolated) or not _about_incident(type(record.data)):
            return  # only incident events change the situation
        key = (record.mode, record.operation)
        self._situations[key] = self.situation(record.mode, record.operation).apply(record)

    # --- decision --------------------------------------------------------------------------

    def decide(self, mode: Mode, incoming: Incoming) -> Outcome:
        """Decide one proposal of `mode`'s stream. Accepted records update the situation."""
        proposal_id = proposal_id_of(incoming)
        digest = proposal_digest(incoming)
        try:
            parsed = subjects.parse_proposal(incoming.subject)
        except SubjectError:
            refused = _Refusal(UNKNOWN_OPERATION, None, "unknown", proposal_id, digest)
            return refused.outcome(
                mode, incoming, ReasonCode.INVALID_ENVELOPE, "sujet de proposition illisible"
            )
        operation, agency = parsed.operation, parsed.agency
        refused = _Refusal(operation, agency, parsed.event_type, proposal_id, digest)
        if len(incoming.body) > self.max_proposal_bytes:
            size = f"{len(incoming.body)} octets, maximum {self.max_proposal_bytes}"
            return refused.outcome(mode, incoming, ReasonCode.PAYLOAD_TOO_LARGE, size)
        try:
            envelope = from_structured(incoming.body)
        except EnvelopeError as exc:
            return refused.outcome(mode, incoming, ReasonCode(exc.code), exc.message)
        known = self._decided.get((mode, envelope.id))
        if known is not None and not known.same_proposal(digest):
            return self._duplicate(mode, incoming, envelope, refused, known)
        if known is None:  # decided now, appended by the shell: a copy in the batch is known
            self.remember(mode, envelope.id, 0, digest)
        compiled = self.charters.get(operation)
        if compiled is None or compiled.charter.operation.mode is not mode:
            refused = _Refusal(operation, agency, envelope.type, envelope.id, digest)
            unknown = f"aucune opération {operation} en mode {mode.value}"
            return refused.outcome(mode, incoming, ReasonCode.WRONG_OPERATION, unknown)
        proposal = Proposal(
            envelope=envelope,
            subject=incoming.subject,
            # Broker permissions let an agency's credentials publish only on its own
            # proposal subjects: the subject's agency is the credentials' agency.
            credentials_agency=agency,
            received_at=incoming.received_at,
        )
        decision = self.engine(proposal, compiled, self.situation(mode, operation))
        record = record_of(decision)
        if decision.accepted:
            self.apply(record)
        deliveries = self._routing(decision.deliveries)
        return Outcome(envelope.id, record, deliveries, decision.accepted, digest)

    def _routing(self, deliveries: tuple[Delivery, ...]) -> tuple[RecordDelivery, ...]:
        """The routing a record carries for the engine's deliveries. A charter yields few
        distinct ones (by recipient and type), each built once: the engine's deliveries are
        typed already and need no validation again."""
        known = self._routings.get(deliveries)
        if known is None:
            known = tuple(
                RecordDelivery.model_construct(to=d.recipient, remove=d.remove, coarsen=d.coarsen)
                for d in deliveries
            )
            if len(self._routings) < _ROUTINGS_KEPT:
                self._routings[deliveries] = known
        return known

    def _duplicate(
        self,
        mode: Mode,
        incoming: Incoming,
        envelope: Envelope,
        refused: _Refusal,
        known: Recorded,
    ) -> Outcome:
        where = f"à la position {known.sequence} du journal" if known.sequence else "dans ce lot"
        return refusal(
            mode,
            record_id=derived_event_id("duplicate", envelope.id, refused.digest),
            proposal_id=refused.proposal_id,
            operation=refused.operation,
            agency=refused.agency,
            event_type=envelope.type,
            subject=incoming.subject,
            reason=reason_of(ReasonCode.DUPLICATE_ID, f"{envelope.id} déjà enregistré {where}"),
            time=incoming.received_at,
            recorded_at=incoming.received_at,
            digest=refused.digest,
        )


@dataclass(frozen=True, slots=True)
class _Refusal:
    """A refusal recorded before (or without) the perimeter engine: what is known of it."""

    operation: OperationId
    agency: Agency | None
    event_type: str
    proposal_id: str
    digest: str

    def outcome(self, mode: Mode, incoming: Incoming, code: ReasonCode, detail: str) -> Outcome:
        return refusal(
            mode,
            record_id=derived_event_id("violation", incoming.subject, self.proposal_id),
            proposal_id=self.proposal_id,
            operation=self.operation,
            agency=self.agency,
            event_type=self.event_type,
            subject=incoming.subject,
            reason=reason_of(code, detail),
            time=incoming.received_at,
            recorded_at=incoming.received_at,
            digest=self.digest,
        )
