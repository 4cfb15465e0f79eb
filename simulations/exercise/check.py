"""A dry run of a plan, offline: each step through the real agency-service core (units'
reports) or as its desk builds it, then decided by the real perimeter engine, accepted
records folded into the situation as the coordinator folds them. What a scenario promises
(accepted, or refused with exactly these codes) is checked before anything runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from pydantic import ValidationError

from contracts import subjects
from contracts.credentials import unit_token
from contracts.envelope import Envelope
from contracts.errors import EnvelopeError
from contracts.reasons import REASON_MESSAGES, ReasonCode
from contracts.vocabulary import Agency, Mode
from services.agency.domain import AgencyProfile, Engagements, enrich
from services.agency.errors import ReportRefusedError
from services.coordinator.perimeter import Proposal, Situation, compile_charter, decide, record_of
from services.gendarmerie.app import PROFILE as GENDARMERIE
from services.mediation.app import PROFILE as MEDIATION
from services.police_municipale.app import PROFILE as POLICE_MUNICIPALE
from services.police_nationale.app import PROFILE as POLICE_NATIONALE
from services.securite_privee.app import PROFILE as SECURITE_PRIVEE
from simulations.exercise.cast import Via
from simulations.exercise.injects import control_envelope
from simulations.exercise.plan import Plan
from simulations.exercise.steps import Step
from simulations.field.desk import DESK_UNIT, desk_envelope
from simulations.field.unit import unit_report

#: Each agency service's own steps (receipts handed, case notes kept home).
PROFILES: Final = MappingProxyType(
    {
        p.agency: p
        for p in (POLICE_NATIONALE, GENDARMERIE, POLICE_MUNICIPALE, SECURITE_PRIVEE, MEDIATION)
    }
)
_KEY: Final = b"exercise-check"


@dataclass(frozen=True, slots=True)
class Judgement:
    """What becomes of a step: accepted, or refused (by its agency service, or by the
    coordinator) with its codes and the operator's messages; `record` is what the
    coordinator would append to the timeline (none when the agency service refuses)."""

    step: Step
    accepted: bool
    codes: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    by_service: bool = False
    record: Envelope | None = None

    @property
    def as_promised(self) -> bool:
        """Whether it ends as the scenario says: accepted, or refused with exactly its codes."""
        if not self.step.expected_codes:
            return self.accepted
        return not self.accepted and set(self.codes) == set(self.step.expected_codes)

    def describe(self) -> str:
        """The outcome in a line."""
        if self.accepted:
            return "accepted"
        who = "its agency service" if self.by_service else "the coordinator"
        return f"refused by {who}: " + "; ".join(self.messages or self.codes)


def proposal_of(step: Step, plan: Plan) -> Envelope:
    """The envelope a step proposes (raises `ReportRefusedError` when its agency service
    refuses the report, `ValueError` when a desk's event is invalid)."""
    operation = plan.operation
    if step.via is Via.DESK:
        return desk_envelope(
            Mode.EXERCISE,
            operation,
            step.key,
            step.at,
            step.event,
            sector=step.sector,
            subject=step.subject,
            unit=step.unit or DESK_UNIT,
        )
    if step.via is Via.CONTROL:
        return control_envelope(
            operation,
            step.key,
            step.at,
            step.event,
            unit=step.unit,
            sector=step.sector,
            subject=step.subject,
        )
    unit = step.unit or ""
    report = unit_report(
        operation,
        unit,
        unit_token(_KEY, operation, unit),
        report=step.key,
        time=step.at,
        event=step.event,
        sector=step.sector,
        subject=step.subject,
    )
    engagement = Engagements.from_charters(step.agency, [plan.charter]).locate(operation)
    return enrich(_profile(step.agency), report, engagement).proposal


def _profile(agency: Agency) -> AgencyProfile:
    return PROFILES.get(agency, AgencyProfile(agency))


def judge_plan(plan: Plan) -> Iterator[Judgement]:
    """Decide every step in playing order, as the agency services and the coordinator would."""
    compiled = compile_charter(plan.charter)
    situation = Situation()
    for step in plan.steps:
        try:
            envelope = proposal_of(step, plan)
        except ReportRefusedError as exc:
            yield Judgement(step, False, (exc.code.value,), (exc.message,), by_service=True)
            continue
        except (ValidationError, EnvelopeError, ValueError) as exc:
            code = ReasonCode.INVALID_PAYLOAD
            yield Judgement(step, False, (code.value,), (f"{REASON_MESSAGES[code]} — {exc}",))
            continue
        subject = subjects.proposal(
            envelope.mode, envelope.operation, envelope.agency, envelope.type
        )
        proposal = Proposal(envelope, subject, envelope.agency, step.at)
        decision = decide(proposal, compiled, situation)
        record = record_of(decision)
        if decision.accepted:
            situation = situation.apply(record)
            yield Judgement(step, True, record=record)
            continue
        yield Judgement(
            step,
            False,
            tuple(sorted(c.value for c in decision.codes)),
            tuple(r.message for r in decision.reasons),
            record=record,
        )
