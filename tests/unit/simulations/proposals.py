"""The evening's actions as the coordinator receives them, for dry runs.

A unit's report goes through the real agency-service core (`services.agency.domain`): its
subject and bytes are read, its token checked, its event enriched by the agency's own
profile (receipts handed, case notes kept home). A desk action is the desk's own envelope.
Then every proposal is decided by the real perimeter engine, accepted records folded into
the situation as the coordinator folds them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from contracts import subjects
from contracts.credentials import unit_token
from contracts.envelope import Envelope
from contracts.vocabulary import Agency
from services.agency.domain import (
    AgencyProfile,
    Engagements,
    authenticate,
    enrich,
    read_report,
    report_address,
)
from services.coordinator.perimeter import (
    CompiledCharter,
    Decision,
    Proposal,
    Situation,
    decide,
    record_of,
)
from services.mediation.app import PROFILE as MEDIATION
from services.police_municipale.app import PROFILE as POLICE_MUNICIPALE
from services.police_nationale.app import PROFILE as POLICE_NATIONALE
from services.securite_privee.app import PROFILE as SECURITE_PRIVEE
from simulations.festival.model import Action, Evening, Via
from simulations.field.desk import desk_envelope
from simulations.field.unit import unit_report

PROFILES: dict[Agency, AgencyProfile] = {
    p.agency: p for p in (POLICE_NATIONALE, POLICE_MUNICIPALE, MEDIATION, SECURITE_PRIVEE)
}
MAX_REPORT_BYTES = 64 * 1024


def unit_key_of(agency: Agency) -> bytes:
    """A fixed unit key per agency (tests only)."""
    return hashlib.sha256(f"test-key:{agency.value}".encode()).digest()


@dataclass(frozen=True, slots=True)
class Proposed:
    """What the coordinator receives for an action, and what the agency kept for itself."""

    envelope: Envelope
    receipt: Envelope | None = None
    held: tuple[str, ...] = ()


def proposed(evening: Evening, action: Action) -> Proposed:
    """The proposal of an action (a refusal at the agency service raises)."""
    if action.via is Via.DESK:
        envelope = desk_envelope(
            evening.mode,
            evening.operation,
            action.key,
            action.at,
            action.event,
            sector=action.sector,
            subject=action.subject,
        )
        return Proposed(envelope)
    agency, operation = action.agency, evening.operation
    key = unit_key_of(agency)
    report = unit_report(
        operation,
        action.unit,
        unit_token(key, operation, action.unit),
        report=action.key,
        time=action.at,
        event=action.event,
        sector=action.sector,
        subject=action.subject,
    )
    subject = subjects.report(evening.mode, operation, agency, action.unit)
    read = read_report(report.model_dump_json().encode(), MAX_REPORT_BYTES)
    engagements = Engagements.from_charters(agency, [evening.charter])
    engagement = authenticate(read, report_address(subject), engagements, key)
    outcome = enrich(PROFILES[agency], read, engagement)
    held = tuple(name for name, _ in outcome.held.fields) if outcome.held else ()
    return Proposed(outcome.proposal, outcome.receipt, held)


@dataclass(frozen=True, slots=True)
class Judged:
    """An action, its proposal, and the coordinator's decision on it."""

    action: Action
    proposed: Proposed
    decision: Decision


def dry_run(evening: Evening, compiled: CompiledCharter) -> Iterator[Judged]:
    """Decide every action in playing order (services/coordinator/perimeter/dry_run.py)."""
    situation = Situation()
    for action in evening.actions:
        made = proposed(evening, action)
        envelope = made.envelope
        proposal = Proposal(
            envelope,
            subjects.proposal(envelope.mode, envelope.operation, envelope.agency, envelope.type),
            envelope.agency,
            action.at,
        )
        decision = decide(proposal, compiled, situation)
        if decision.accepted:
            situation = situation.apply(record_of(decision))
        yield Judged(action, made, decision)
