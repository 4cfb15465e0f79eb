"""An incident's life after it is reported, and what the record keeps of a proposal:
declines hand the incident back, closed incidents take only corrections, a type's own
classification wins over a looser envelope, proposers cannot number the timeline."""

from __future__ import annotations

import pytest

from contracts.charter import DistributionRule
from contracts.reasons import ReasonCode
from contracts.vocabulary import Agency, Classification
from services.coordinator.perimeter import Proposal, compile_charter, record_of

from .builders import POINTS, T0, at, fold, judge, live, live_charter, payload, propose

pytestmark = pytest.mark.unit

PN, PM, SP, CC = (
    Agency.POLICE_NATIONALE,
    Agency.POLICE_MUNICIPALE,
    Agency.SECURITE_PRIVEE,
    Agency.CRISIS_CELL,
)
FEST = POINTS["fest"]


def _reported(incident: str) -> Proposal:
    """The national police reports a theft in the festivity zone."""
    return propose(
        payload("incident.reported", incident=incident, category="theft", position=FEST), PN
    )


def test_a_decline_hands_the_incident_back_for_reassignment() -> None:
    # Given a theft assigned to the national police, which declines it
    situation = fold(
        live(),
        propose(
            payload("incident.reported", incident="INC-1", category="theft", position=FEST), PN
        ),
        propose(payload("incident.assigned", incident="INC-1", assignee="police_nationale"), CC),
        propose(payload("incident.declined", incident="INC-1", reason="Pas d'équipage"), PN),
    )
    # When the declining force later tries to acknowledge it anyway
    late = judge(propose(payload("incident.acknowledged", incident="INC-1"), PN), live(), situation)
    # Then it is refused: after a decline nobody holds the incident until it is reassigned
    assert late.codes == {ReasonCode.NOT_ASSIGNEE}
    # And the crisis cell can give it to another competent force
    again = judge(
        propose(payload("incident.assigned", incident="INC-1", assignee="police_municipale"), CC),
        live(),
        situation,
    )
    assert again.accepted, again.reasons


def test_a_resolved_incident_takes_corrections_but_no_more_handling() -> None:
    # Given a theft that was handled and resolved
    situation = fold(
        live(),
        propose(
            payload("incident.reported", incident="INC-2", category="theft", position=FEST), PN
        ),
        propose(payload("incident.assigned", incident="INC-2", assignee="police_nationale"), CC),
        propose(payload("incident.resolved", incident="INC-2", outcome="Auteur interpellé"), PN),
    )
    # When the crisis cell assigns it again
    reassigned = judge(
        propose(payload("incident.assigned", incident="INC-2", assignee="police_nationale"), CC),
        live(),
        situation,
    )
    # Then it is refused as closed
    assert ReasonCode.INCIDENT_CLOSED in reassigned.codes
    # But a correction of the record is still accepted (corrections are new events)
    corrected = judge(
        propose(
            payload(
                "incident.corrected",
                incident="INC-2",
                corrects="evt-any",
                category="assault",
                reason="Requalifié après audition",
            ),
            CC,
        ),
        live(),
        situation,
    )
    assert corrected.accepted, corrected.reasons


def test_a_restricted_type_stays_restricted_whatever_the_envelope_says() -> None:
    # Given a charter that lets private security see everything in its own sectors, and a
    # drone authorisation over its gate
    charter = live_charter()
    authorisations = charter.authorisations
    drone = authorisations.drones[0].model_copy(update={"sectors": ("venue-gate",)})
    everything_on_site = DistributionRule(
        recipients=(SP,), types=("fr.interforces.*",), scope="own_sectors"
    )
    widened = compile_charter(
        charter.model_copy(
            update={
                "authorisations": authorisations.model_copy(update={"drones": (drone,)}),
                "distribution": (everything_on_site, *charter.distribution),
            }
        )
    )
    gate = POINTS["venue-gate"]
    # When the police flies a drone over the gate, its envelope claiming "public"
    flight = judge(
        propose(
            payload("drone.flight_started", position=gate),
            PN,
            time=at(21),
            classification=Classification.PUBLIC,
        ),
        widened,
    )
    # Then it is accepted, recorded as restricted, and private security does not receive it
    assert flight.accepted, flight.reasons
    assert record_of(flight).classification is Classification.RESTRICTED
    assert SP not in flight.recipients
    # While an ordinary incident at the same gate does reach it (the rule itself works)
    theft = judge(
        propose(payload("incident.reported", category="theft", position=gate), PN, time=T0),
        widened,
    )
    assert theft.accepted, theft.reasons
    assert SP in theft.recipients


def test_the_proposer_cannot_number_the_timeline() -> None:
    # Given a proposal whose envelope claims a timeline sequence number
    proposal = propose(payload("incident.reported", category="theft", position=FEST), PN)
    claimed = proposal.envelope.model_copy(update={"sequence": 99})
    decision = judge(type(proposal)(claimed, proposal.subject, PN, proposal.received_at))
    # When it is accepted and recorded
    record = record_of(decision)
    # Then only the timeline stream will number it
    assert decision.accepted, decision.reasons
    assert record.sequence is None
    assert record.recordedtime == proposal.received_at
