"""From a decision to what leaves the coordinator: each recipient's copy, the timeline record,
and the situation folded from the records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from contracts.envelope import Envelope
from contracts.events.base import EventPayload
from contracts.events.mediation import MediationStarted
from contracts.events.violations import PerimeterViolated
from contracts.geo import GeoPoint
from contracts.vocabulary import Agency, IncidentCategory
from services.coordinator.perimeter import (
    Decision,
    Delivery,
    IncidentState,
    Proposal,
    Situation,
    decide,
    record_of,
    render_delivery,
)
from services.coordinator.perimeter.redaction import COORDINATOR_SOURCE

from .builders import POINTS, T0, at, envelope, fold, live, payload, propose

pytestmark = pytest.mark.unit

PN = Agency.POLICE_NATIONALE
PM = Agency.POLICE_MUNICIPALE
SP = Agency.SECURITE_PRIVEE
MED = Agency.MEDIATION
CC = Agency.CRISIS_CELL
P = POINTS

# A position with more decimals than any coarsening keeps.
FINE = GeoPoint(lon=4.831234, lat=45.761876)
FINE_VENUE = GeoPoint(lon=4.835123, lat=45.760987)


def accepted(proposal: Proposal, situation: Situation | None = None) -> Decision:
    decision = decide(proposal, live(), situation or Situation())
    assert decision.accepted, [r.message for r in decision.reasons]
    return decision


def delivery_to(decision: Decision, recipient: Agency) -> Delivery:
    return next(d for d in decision.deliveries if d.recipient is recipient)


def still_a_catalogue_event(copy: Envelope) -> None:
    """A redacted copy must validate again, from Python and from JSON, unchanged."""
    assert Envelope.model_validate(copy.model_dump()) == copy
    assert Envelope.model_validate_json(copy.model_dump_json()) == copy


# --- render_delivery -------------------------------------------------------------------------

REDACTIONS = [
    pytest.param(
        propose(
            payload(
                "incident.reported",
                position=FINE,
                description="Vol de téléphone, auteur en fuite",
                people_involved=2,
            ),
            PN,
        ),
        PM,
        {"description": "", "position": GeoPoint(lon=4.831, lat=45.762)},
        id="municipal police: description removed, position to 3 decimals",
    ),
    pytest.param(
        propose(
            payload(
                "incident.reported",
                position=FINE_VENUE,
                description="Vol dans la salle",
                people_involved=3,
            ),
            PN,
        ),
        SP,
        {"description": "", "people_involved": None},
        id="private security: description and people involved removed",
    ),
    pytest.param(
        propose(
            payload("mediation.started", position=FINE, incident="INC-7", topic="dialogue"),
            MED,
        ),
        PN,
        {"incident": None, "position": GeoPoint(lon=4.83, lat=45.76)},
        id="national police: mediation without incident, position to 2 decimals",
    ),
    pytest.param(
        propose(payload("help.requested", position=FINE, description="Jeune femme suivie"), PM),
        MED,
        {"position": GeoPoint(lon=4.831, lat=45.762)},
        id="mediators: help request to 3 decimals, description kept",
    ),
    pytest.param(
        propose(payload("unit.position_reported", position=FINE, unit="PN-1"), PN),
        PM,
        {"position": GeoPoint(lon=4.831, lat=45.762)},
        id="municipal police: a national unit's position to 3 decimals",
    ),
]


@pytest.mark.parametrize(("proposal", "recipient", "changes"), REDACTIONS)
def test_a_copy_loses_exactly_what_its_rule_says(
    proposal: Proposal, recipient: Agency, changes: dict[str, Any]
) -> None:
    """Given an accepted event, when it is rendered for a recipient, then exactly the rule's
    fields are reset or coarsened, everything else is untouched, and it is still an event."""
    decision = accepted(proposal)
    record = record_of(decision)
    copy = render_delivery(record, delivery_to(decision, recipient))
    before = record.data.model_dump()
    after = copy.data.model_dump()
    for name, value in changes.items():
        assert before[name] != _dump(value), f"{name} was already at its redacted value"
        assert after[name] == _dump(value), name
    assert {k: v for k, v in after.items() if k not in changes} == {
        k: v for k, v in before.items() if k not in changes
    }
    assert copy.model_dump(exclude={"data"}) == record.model_dump(exclude={"data"})
    still_a_catalogue_event(copy)


def _dump(value: Any) -> Any:
    return value.model_dump() if isinstance(value, GeoPoint) else value


def test_the_crisis_cell_and_the_proposer_get_the_record_itself() -> None:
    decision = accepted(propose(payload("incident.reported", position=FINE), PN))
    record = record_of(decision)
    for recipient in (CC, PN):
        assert render_delivery(record, delivery_to(decision, recipient)) is record


def test_a_rule_on_fields_the_event_lacks_changes_nothing() -> None:
    """A rule written for several types may name fields one of them lacks (or holds no
    position in): that event's copy is the record's."""
    decision = accepted(propose(payload("incident.reported", position=FINE), PN))
    record = record_of(decision)
    odd = Delivery(PM, remove=("people_involvedx", "case_notes"), coarsen=(("incident", 1),))
    copy = render_delivery(record, odd)
    assert copy == record
    still_a_catalogue_event(copy)


def test_an_absent_position_stays_absent_when_coarsened() -> None:
    """Given a correction without a position, the municipal copy (coarsened positions) keeps
    it absent rather than inventing one."""
    situation = fold(live(), propose(payload("incident.reported", position=P["fest"]), PN))
    correction = payload("incident.corrected", position=None, description="Vol à la tire")
    decision = accepted(propose(correction, PN), situation)
    copy = render_delivery(record_of(decision), delivery_to(decision, PM))
    assert getattr(copy.data, "position", "absent") is None
    assert getattr(copy.data, "description", "absent") is None
    still_a_catalogue_event(copy)


def test_the_first_matching_rule_wins_for_each_recipient() -> None:
    """The national police has a rule for every type, after the mediation rule: a mediation
    reaches it coarsened, per the first rule, not in full."""
    decision = accepted(propose(payload("mediation.started", position=FINE), MED))
    assert delivery_to(decision, PN) == Delivery(PN, ("incident",), (("position", 2),))
    theft = accepted(propose(payload("incident.reported", position=FINE), PM))
    assert delivery_to(theft, PN) == Delivery(PN)


@pytest.mark.parametrize(
    ("given", "reporter", "assignee"),
    [
        pytest.param(
            payload("incident.reported", position=P["fest"], category="theft"),
            PN,
            PM,
            id="theft in the fest to the municipal police",
        ),
        pytest.param(
            payload("site_incident.reported", position=P["venue-gate"]),
            SP,
            SP,
            id="entrance incident to private security",
        ),
        pytest.param(
            payload("incident.reported", position=P["fest"], category="noise_complaint"),
            PM,
            MED,
            id="noise in the fest to the mediators",
        ),
    ],
)
def test_the_assignee_receives_its_assignment(
    given: EventPayload, reporter: Agency, assignee: Agency
) -> None:
    """Given a known incident, when the crisis cell assigns it (no position, no sector on the
    assignment), then the assignee is among its recipients: it has to acknowledge it."""
    situation = fold(live(), propose(given, reporter))
    decision = accepted(propose(payload("incident.assigned", assignee=assignee), CC), situation)
    assert assignee in decision.recipients


def test_private_security_does_not_follow_incidents_outside_its_site() -> None:
    situation = fold(live(), propose(payload("incident.reported", position=P["fest"]), PM))
    decision = accepted(propose(payload("incident.assigned", assignee=PM), CC), situation)
    assert SP not in decision.recipients
    assert PM in decision.recipients


# --- record_of -------------------------------------------------------------------------------


def test_the_record_is_the_event_with_its_recorded_time() -> None:
    """Given an event that happened at 21:00 and reached the coordinator at 21:05, the record
    keeps the occurrence time and says when it was recorded, whatever the proposer claimed."""
    proposal = propose(payload("incident.reported"), PM, received_at=at(21, 5))
    claimed = proposal.envelope.model_copy(update={"recordedtime": at(20)})
    decision = accepted(
        Proposal(claimed, proposal.subject, proposal.credentials_agency, proposal.received_at)
    )
    record = record_of(decision)
    assert record.time == T0
    assert record.recordedtime == at(21, 5)
    assert record.model_dump(exclude={"recordedtime"}) == claimed.model_dump(
        exclude={"recordedtime"}
    )


def test_the_record_withholds_case_notes_and_nothing_else() -> None:
    data = payload(
        "mediation.started", position=FINE, incident="INC-7", case_notes="M. Y., très agité"
    )
    decision = accepted(propose(data, MED))
    record = record_of(decision)
    assert isinstance(record.data, MediationStarted)
    assert record.data.case_notes is None
    assert record.data.model_dump(exclude={"case_notes"}) == data.model_dump(exclude={"case_notes"})
    still_a_catalogue_event(record)


def test_a_refusal_is_recorded_by_the_coordinator_about_the_proposal() -> None:
    proposal = propose(
        payload("incident.reported", position=P["outside"]), PN, received_at=at(21, 1)
    )
    decision = decide(proposal, live(), Situation())
    record = record_of(decision)
    assert isinstance(record.data, PerimeterViolated)
    assert record.source == COORDINATOR_SOURCE
    assert record.subject == proposal.envelope.id
    assert (record.time, record.recordedtime) == (at(21, 1), at(21, 1))
    assert record.data.proposal_subject == proposal.subject
    assert record.data.proposal_type == "fr.interforces.incident.reported"
    assert (record.data.proposer, record.data.credentials_agency) == (PN, PN)
    still_a_catalogue_event(record)


def test_an_unprintable_subject_is_not_copied_into_the_violation() -> None:
    proposal = propose(
        payload("incident.reported"), PN, subject="ifc.live.doctrine-test.proposal.x y.z"
    )
    record = record_of(decide(proposal, live(), Situation()))
    assert isinstance(record.data, PerimeterViolated)
    assert record.data.proposal_subject is None
    still_a_catalogue_event(record)


# --- Situation.apply -------------------------------------------------------------------------


def record(data: EventPayload, agency: Agency = PN) -> Envelope:
    return envelope(data, agency).model_copy(update={"recordedtime": T0 + timedelta(seconds=1)})


def test_an_incident_is_folded_from_report_to_resolution() -> None:
    """reported → qualified → assigned → resolved, each step a new situation, none mutated."""
    empty = Situation()
    reported = empty.apply(
        record(payload("incident.reported", category="theft", position=P["fest"]), PM)
    )
    assert reported.incidents["INC-1"] == IncidentState(
        IncidentCategory.THEFT, P["fest"], armed_threat=False, reporter=PM
    )
    qualified = reported.apply(
        record(payload("incident.qualified", category="assault", armed_threat=True), CC)
    )
    assert qualified.incidents["INC-1"].category is IncidentCategory.ASSAULT
    assert qualified.incidents["INC-1"].armed_threat is True
    assigned = qualified.apply(record(payload("incident.assigned", assignee=PN), CC))
    assert assigned.incidents["INC-1"].assignee is PN
    resolved = assigned.apply(record(payload("incident.resolved")))
    assert resolved.incidents["INC-1"] == IncidentState(
        IncidentCategory.ASSAULT, P["fest"], True, PM, assignee=PN, resolved=True
    )
    # Every earlier situation is as it was.
    assert empty.incidents == {}
    assert reported.incidents["INC-1"].category is IncidentCategory.THEFT
    assert qualified.incidents["INC-1"].assignee is None
    assert assigned.incidents["INC-1"].resolved is False


def test_a_site_report_opens_an_incident_and_a_correction_moves_it() -> None:
    opened = Situation().apply(
        record(payload("site_incident.reported", position=P["venue-in"], armed_threat=True), SP)
    )
    assert opened.incidents["INC-1"] == IncidentState(
        IncidentCategory.ENTRANCE_INCIDENT, P["venue-in"], True, SP
    )
    moved = opened.apply(
        record(payload("incident.corrected", position=P["venue-gate"], category="medical"), CC)
    )
    assert moved.incidents["INC-1"].position == P["venue-gate"]
    assert moved.incidents["INC-1"].category is IncidentCategory.MEDICAL
    kept = moved.apply(record(payload("incident.corrected", position=None), CC))
    assert kept.incidents["INC-1"] == moved.incidents["INC-1"]


KNOWN = Situation().apply(record(payload("incident.reported", position=P["fest"])))

UNRELATED = [
    pytest.param(payload("unit.position_reported"), id="a unit position"),
    pytest.param(payload("unit.status_changed", incident="INC-1"), id="a unit engaged on it"),
    pytest.param(payload("mediation.started", incident="INC-1"), id="a mediation about it"),
    pytest.param(
        payload("security_perimeter.established", incident="INC-1"), id="a perimeter around it"
    ),
    pytest.param(payload("crisis_cell.decision_logged", incidents=["INC-1"]), id="a decision"),
    pytest.param(payload("incident.acknowledged"), id="an acknowledgement"),
    pytest.param(
        payload("incident.reported", category="fight", position=P["station"]),
        id="a second report of the same incident",
    ),
    pytest.param(payload("incident.qualified", incident="INC-9"), id="an unknown incident"),
    pytest.param(payload("incident.assigned", incident="INC-9"), id="an unknown assignment"),
]


@pytest.mark.parametrize("data", UNRELATED)
def test_events_that_change_no_incident_leave_the_same_situation(data: EventPayload) -> None:
    assert KNOWN.apply(record(data)) is KNOWN
