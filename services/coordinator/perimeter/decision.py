"""What goes into the engine (a proposal) and what comes out (a decision)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts.envelope import Envelope
from contracts.events.violations import Reason
from contracts.ids import OperationId
from contracts.reasons import ReasonCode
from contracts.vocabulary import Agency, Classification, Mode


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed event as the coordinator received it.

    `subject` is the NATS subject it arrived on; `credentials_agency` the agency the broker
    authenticated (None when unknown); `received_at` when the coordinator received it.
    """

    envelope: Envelope
    subject: str
    credentials_agency: Agency | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One recipient's copy: fields reset to their defaults, positions coarsened."""

    recipient: Agency
    remove: tuple[str, ...] = ()
    coarsen: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's verdict on one proposal.

    Accepted: `deliveries` lists every entitled recipient with its redaction, `withheld`
    the fields only their holder may keep (stripped from the record). `operation` and `mode`
    are the charter's: a refusal is recorded where it was decided, never across the wall;
    `classification` the stricter of the envelope's and the type's. Rejected: `reasons`
    lists every failing check; the violation record goes to the crisis cell and to the
    publisher named by the credentials.
    """

    proposal: Proposal
    operation: OperationId
    mode: Mode
    classification: Classification
    reasons: tuple[Reason, ...] = ()
    deliveries: tuple[Delivery, ...] = ()
    withheld: tuple[str, ...] = ()
    competent_agencies: tuple[Agency, ...] = ()

    @property
    def accepted(self) -> bool:
        """Whether the proposal passed every check."""
        return not self.reasons

    @property
    def codes(self) -> frozenset[ReasonCode]:
        """The reason codes of a rejection."""
        return frozenset(r.code for r in self.reasons)

    @property
    def recipients(self) -> tuple[Agency, ...]:
        """Who receives the record (or the violation)."""
        return tuple(d.recipient for d in self.deliveries)
