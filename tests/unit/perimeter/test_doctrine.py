"""The doctrine of DESIGN.md, point by point, and "The perimeter, precisely", as tables.

Each row reads: given what the coordinator already accepted (`before`), when a proposal is
decided, then its reason codes are exactly `expected` (empty: accepted).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from contracts import subjects
from contracts.charter import Charter
from contracts.events.base import EventPayload
from contracts.events.catalogue import EVENT_CLASSES, EVENT_TYPES
from contracts.events.identity_checks import IdentityCheckRecorded, RecepisseIssued
from contracts.events.mediation import MediationClosed, MediationStarted
from contracts.events.surveillance import VideoAnalyticsAlerted
from contracts.events.violations import PerimeterViolated
from contracts.reasons import ReasonCode
from contracts.vocabulary import AGENCY_LABELS, Agency, Classification, Mode
from services.coordinator.perimeter import (
    CompiledCharter,
    Decision,
    Delivery,
    Proposal,
    Situation,
    decide,
    record_of,
    render_delivery,
)

from .builders import (
    OPERATION,
    POINTS,
    T0,
    at,
    defaults,
    exercise,
    fold,
    live,
    live_charter,
    payload,
    propose,
)

pytestmark = pytest.mark.unit

PN = Agency.POLICE_NATIONALE
PM = Agency.POLICE_MUNICIPALE
SP = Agency.SECURITE_PRIVEE
MED = Agency.MEDIATION
CC = Agency.CRISIS_CELL
XC = Agency.EXERCISE_CONTROL
R = ReasonCode
P = POINTS


@dataclass(frozen=True)
class Case:
    """Given `before` (each accepted), when `proposal` is decided, then exactly `expected`."""

    proposal: Proposal
    expected: frozenset[ReasonCode]
    before: tuple[Proposal, ...]
    charter: Callable[[], CompiledCharter]


def row(
    case_id: str,
    proposal: Proposal,
    *expected: ReasonCode,
    before: tuple[Proposal, ...] = (),
    charter: Callable[[], CompiledCharter] = live,
) -> Any:
    """One row of a table: `pytest.param` with a readable id."""
    return pytest.param(Case(proposal, frozenset(expected), before, charter), id=case_id)


def run(case: Case) -> Decision:
    """Fold the `before` steps, then decide the proposal."""
    compiled = case.charter()
    return decide(case.proposal, compiled, fold(compiled, *case.before))


def assert_codes(case: Case) -> Decision:
    """Decide a case and check its exact reason codes."""
    decision = run(case)
    assert decision.codes == case.expected, [r.message for r in decision.reasons]
    assert decision.accepted is (not case.expected)
    return decision


# Recurring "given" steps.


def report(
    agency: Agency,
    category: str,
    where: str,
    *,
    incident: str = "INC-1",
    armed: bool = False,
    time: Any = T0,
) -> Proposal:
    """An agency reports an incident (private security through its own site report)."""
    short = "site_incident.reported" if agency is SP else "incident.reported"
    data = payload(
        short, incident=incident, category=category, position=P[where], armed_threat=armed
    )
    return propose(data, agency, time=time)


def assign(
    assignee: Agency,
    *,
    by: Agency = CC,
    incident: str = "INC-1",
    unit: str | None = None,
    time: Any = T0,
) -> Proposal:
    """Someone (the crisis cell by default) assigns an incident."""
    data = payload("incident.assigned", incident=incident, assignee=assignee, assignee_unit=unit)
    return propose(data, by, time=time)


def ack(agency: Agency, incident: str = "INC-1") -> Proposal:
    """An agency acknowledges an assignment."""
    return propose(payload("incident.acknowledged", incident=incident), agency)


def event(short: str, agency: Agency, where: str = "fest", **kw: Any) -> EventPayload:
    """A payload of `short` placed in a sector when it has a position (the agency is only
    there for the reader: who proposes is said by `propose`)."""
    del agency
    if "position" in EVENT_TYPES["fr.interforces." + short].model_fields:
        kw["position"] = P[where]
    return payload(short, **kw)


# --- 1. Each actor has a place and a role; no competition, no substitution -------------------

PLACE_AND_ROLE = [
    row(
        "private security reports an entrance incident at its gate: accepted",
        propose(event("site_incident.reported", SP, "venue-gate"), SP),
    ),
    row(
        "private security reports an incident in the festivity zone: outside its sites",
        propose(event("site_incident.reported", SP, "fest"), SP),
        R.OUTSIDE_TERRITORY,
    ),
    row(
        "private security screens at the station: outside its sites",
        propose(event("screening.reported", SP, "station"), SP),
        R.OUTSIDE_TERRITORY,
    ),
    row(
        "private security files a public incident report: not its type",
        propose(event("incident.reported", SP, "venue-gate", category="entrance_incident"), SP),
        R.NOT_COMPETENT_TYPE,
    ),
    row(
        "municipal police reports a theft in the festivity zone: accepted",
        propose(event("incident.reported", PM, "fest", category="theft"), PM),
    ),
    row(
        "municipal police reports terrorism: not its category",
        propose(event("incident.reported", PM, "fest", category="terrorism"), PM),
        R.NOT_COMPETENT_CATEGORY,
    ),
    row(
        "mediators report a noise complaint: accepted",
        propose(event("incident.reported", MED, "fest", category="noise_complaint"), MED),
    ),
    row(
        "mediators report screening figures: neither their type nor their means",
        propose(event("screening.reported", MED, "fest"), MED),
        R.NOT_COMPETENT_TYPE,
        R.MISSING_CAPABILITY,
    ),
    row(
        "the national police assigns an incident itself: the crisis cell's role",
        assign(PN, by=PN),
        R.NOT_COMPETENT_TYPE,
        before=(report(PM, "theft", "fest"),),
    ),
    row(
        "the crisis cell sends mediators onto a noise complaint: accepted",
        assign(MED),
        before=(report(MED, "noise_complaint", "fest"),),
    ),
    row(
        "the crisis cell sends the national police onto a noise complaint: substitution",
        assign(PN),
        R.ASSIGNEE_NOT_COMPETENT,
        before=(report(MED, "noise_complaint", "fest"),),
    ),
    row(
        "the crisis cell sends mediators onto a fight: never on violence",
        assign(MED),
        R.ASSIGNEE_NOT_COMPETENT,
        R.VIOLENT_SITUATION_FORBIDDEN,
        before=(report(MED, "fight", "fest"),),
    ),
    row(
        "the crisis cell sends private security onto a fight in its own venue: never on violence",
        assign(SP),
        R.ASSIGNEE_NOT_COMPETENT,
        R.VIOLENT_SITUATION_FORBIDDEN,
        before=(report(SP, "fight", "venue-in"),),
    ),
    row(
        "the crisis cell sends private security onto a medical case in its venue: accepted",
        assign(SP),
        before=(report(SP, "medical", "venue-in"),),
    ),
]


@pytest.mark.parametrize("case", PLACE_AND_ROLE)
def test_each_actor_keeps_its_place_and_role(case: Case) -> None:
    assert_codes(case)


# --- 2. The State pilots: the crisis cell sees everything and decides -----------------------

ACCEPTED_FROM_EVERY_AGENCY = [
    pytest.param(propose(event("incident.reported", PM, "fest"), PM), id="municipal report"),
    pytest.param(propose(event("screening.reported", SP, "venue-gate"), SP), id="screening"),
    pytest.param(
        propose(event("mediation.started", MED, "fest", case_notes="confidentiel"), MED),
        id="mediation with notes",
    ),
    pytest.param(propose(event("identity_check.recorded", PN, "station"), PN), id="identity check"),
    pytest.param(propose(event("drone.flight_started", PN, "station"), PN), id="drone flight"),
    pytest.param(
        propose(event("video_analytics.alerted", SP, "venue-gate"), SP), id="video analytics"
    ),
    pytest.param(
        propose(event("video_extract.requested", PN, "station"), PN), id="video extract request"
    ),
    pytest.param(
        propose(event("unit.position_reported", PN, "fest", unit="PN-2"), PN), id="unit position"
    ),
    pytest.param(propose(event("public_alert.issued", CC, "fest"), CC), id="public alert"),
    pytest.param(propose(event("evacuation.ordered", CC, "station"), CC), id="evacuation"),
    pytest.param(
        propose(event("crisis_cell.decision_logged", CC), CC, sector="station"),
        id="crisis cell decision",
    ),
    pytest.param(
        propose(event("security_perimeter.established", CC, "venue-in"), CC),
        id="security perimeter",
    ),
]


@pytest.mark.parametrize("proposal", ACCEPTED_FROM_EVERY_AGENCY)
def test_the_crisis_cell_receives_every_accepted_event_unredacted(proposal: Proposal) -> None:
    """Given an accepted event of any agency, then the crisis cell gets it in full."""
    decision = decide(proposal, live(), Situation())
    assert decision.accepted, [r.message for r in decision.reasons]
    assert Delivery(CC) in decision.deliveries
    assert decision.recipients.count(CC) == 1


@pytest.mark.parametrize("agency", [PN, PM, SP, MED])
def test_only_the_crisis_cell_assigns(agency: Agency) -> None:
    """Given a known theft, when a field agency assigns it, then the type is not theirs."""
    situation = fold(live(), report(PM, "theft", "fest"))
    decision = decide(assign(PN, by=agency), live(), situation)
    assert R.NOT_COMPETENT_TYPE in decision.codes
    assert decide(assign(PN), live(), situation).accepted


# --- 3. No private access to shared data ----------------------------------------------------

PRIVATE_SECURITY_FEED = [
    pytest.param(
        propose(event("incident.reported", PN, "fest"), PN), False, id="theft in fest: no"
    ),
    pytest.param(
        propose(event("incident.reported", PN, "venue-in"), PN), True, id="theft in its venue"
    ),
    pytest.param(
        propose(event("incident.reported", PN, "venue-in"), PN, sector="venue-in"),
        True,
        id="theft in its declared sector",
    ),
    pytest.param(
        propose(
            event("incident.reported", PN, "venue-in"),
            PN,
            classification=Classification.RESTRICTED,
        ),
        False,
        id="restricted theft in its venue: no",
    ),
    pytest.param(
        propose(event("identity_check.recorded", PN, "venue-gate"), PN),
        False,
        id="identity check at its gate: no",
    ),
    pytest.param(
        propose(event("unit.position_reported", PN, "venue-in"), PN),
        False,
        id="police unit positions in its venue: no rule, no",
    ),
    pytest.param(propose(event("drone.flight_started", PN, "station"), PN), False, id="drone: no"),
    pytest.param(propose(event("mediation.started", MED, "fest"), MED), False, id="mediation: no"),
    pytest.param(
        propose(event("public_alert.issued", CC, "fest"), CC),
        True,
        id="public alert over the fest: yes",
    ),
    pytest.param(
        propose(event("evacuation.ordered", CC, "fest"), CC),
        False,
        id="evacuation of the fest: no",
    ),
    pytest.param(
        propose(event("evacuation.ordered", CC, "venue-in"), CC),
        True,
        id="evacuation of its venue: yes",
    ),
]


@pytest.mark.parametrize(("proposal", "delivered"), PRIVATE_SECURITY_FEED)
def test_private_security_gets_only_its_site_and_public_alerts(
    proposal: Proposal, delivered: bool
) -> None:
    """Given an accepted event, then private security receives it only for its own sites
    (and then without descriptions) or as a public-safety alert."""
    decision = decide(proposal, live(), Situation())
    assert decision.accepted, [r.message for r in decision.reasons]
    assert (SP in decision.recipients) is delivered
    for delivery in decision.deliveries:
        if delivery.recipient is SP and proposal.envelope.type.endswith("incident.reported"):
            assert delivery.remove == ("description", "people_involved")


# --- 4. Mediation is confidential ------------------------------------------------------------

NOTES = "Mme X. en détresse, conflit avec son voisin du 3e"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            payload("mediation.started", position=P["fest"], case_notes=NOTES, incident="INC-7"),
            id="started",
        ),
        pytest.param(payload("mediation.closed", case_notes=NOTES), id="closed"),
    ],
)
def test_case_notes_never_leave_the_mediators(data: EventPayload) -> None:
    """Given mediators' case notes, when the event is accepted, then neither the record nor
    any recipient's copy (the mediators' feed included) holds them."""
    decision = decide(propose(data, MED), live(), Situation())
    assert decision.accepted, [r.message for r in decision.reasons]
    assert decision.withheld == ("case_notes",)
    record = record_of(decision)
    assert isinstance(record.data, MediationStarted | MediationClosed)
    assert record.data.case_notes is None
    assert NOTES not in record.model_dump_json()
    assert {PN, PM, CC, MED} <= set(decision.recipients)
    for delivery in decision.deliveries:
        copy = render_delivery(record, delivery)
        assert getattr(copy.data, "case_notes", "absent") is None
        assert NOTES not in copy.model_dump_json()


@pytest.mark.parametrize("recipient", [PN, PM])
def test_others_learn_only_that_a_mediation_is_under_way_roughly_where(recipient: Agency) -> None:
    """Given a mediation opened about an incident, then the police forces' copies keep the
    topic but lose the incident link and see the place to about a kilometre."""
    data = payload("mediation.started", position=P["fest"], incident="INC-7")
    decision = decide(propose(data, MED), live(), Situation())
    delivery = next(d for d in decision.deliveries if d.recipient is recipient)
    copy = render_delivery(record_of(decision), delivery).data
    assert isinstance(copy, MediationStarted)
    assert copy.incident is None
    assert (copy.position.lon, copy.position.lat) == (4.83, 45.76)
    own = next(d for d in decision.deliveries if d.recipient is MED)
    own_copy = render_delivery(record_of(decision), own).data
    assert isinstance(own_copy, MediationStarted)
    assert own_copy.incident == "INC-7"


def test_a_mediation_without_notes_withholds_nothing() -> None:
    decision = decide(propose(event("mediation.started", MED), MED), live(), Situation())
    assert decision.accepted
    assert decision.withheld == ()


# --- 5. Identity checks: traceable, no nominative file ---------------------------------------

IDENTITY_CHECKS = [
    row(
        "the national police records a check: accepted",
        propose(event("identity_check.recorded", PN, "station"), PN),
    ),
    row(
        "the municipal police records a check: neither its type nor its means",
        propose(event("identity_check.recorded", PM, "fest"), PM),
        R.NOT_COMPETENT_TYPE,
        R.MISSING_CAPABILITY,
    ),
    row(
        "the receipt with the person's identity is proposed: not shareable",
        propose(event("identity_check.recepisse_issued", PN, "station"), PN),
        R.NOT_SHAREABLE,
        R.NOT_COMPETENT_TYPE,
    ),
]


@pytest.mark.parametrize("case", IDENTITY_CHECKS)
def test_identity_checks_are_traceable_without_a_nominative_file(case: Case) -> None:
    decision = assert_codes(case)
    record = record_of(decision)
    assert "Martin" not in record.model_dump_json()
    assert "Claire" not in record.model_dump_json()
    assert set(decision.recipients) == {CC, case.proposal.envelope.agency}


@pytest.mark.parametrize("classification", list(Classification))
def test_a_check_record_goes_only_to_its_force_and_the_crisis_cell(
    classification: Classification,
) -> None:
    """Whatever the envelope claims, the record of a check reaches only the checking force
    and the crisis cell, and carries who checked, where and why."""
    proposal = propose(
        event("identity_check.recorded", PN, "station"), PN, classification=classification
    )
    decision = decide(proposal, live(), Situation())
    assert decision.accepted
    assert sorted(decision.recipients) == sorted([CC, PN])
    record = record_of(decision).data
    assert isinstance(record, IdentityCheckRecorded)
    assert (record.officer_number, record.place, record.motives) == (
        "1234567",
        "parvis",
        ("comportement suspect près de la gare",),
    )


def test_the_check_record_cannot_hold_an_identity() -> None:
    """The record's schema has no place for the person: adding one is a validation error."""
    with pytest.raises(ValidationError, match="person"):
        payload("identity_check.recorded", person={"surname": "Martin", "given_names": "Claire"})


def test_a_charter_cannot_let_anyone_propose_the_receipt() -> None:
    document = live_charter().model_dump(mode="json")
    document["actors"][0]["competences"]["events"].append("identity_check.recepisse_issued")
    with pytest.raises(ValidationError, match="cannot be proposed"):
        Charter.model_validate(document)


# --- 6. Accountability: every refusal is recorded, deterministically, to the right people ---

REFUSALS = [
    pytest.param(propose(event("incident.reported", PN, "outside"), PN), id="outside"),
    pytest.param(propose(event("incident.reported", PM, "fest"), PM, time=at(17)), id="early"),
    pytest.param(propose(event("drone.flight_started", PN, "fest"), PN), id="drone"),
    pytest.param(propose(event("screening.reported", MED, "fest"), MED), id="mediators"),
    pytest.param(
        propose(event("identity_check.recepisse_issued", PN, "station"), PN), id="receipt"
    ),
    pytest.param(
        propose(event("incident.reported", PN), PN, credentials=SP), id="spoofed credentials"
    ),
    pytest.param(assign(PN, incident="INC-404"), id="crisis cell, unknown incident"),
    pytest.param(
        propose(event("incident.reported", Agency.GENDARMERIE), Agency.GENDARMERIE),
        id="actor absent from the charter",
    ),
]


@pytest.mark.parametrize("proposal", REFUSALS)
def test_every_refusal_is_a_recorded_violation(proposal: Proposal) -> None:
    """Given a refused proposal, then the coordinator records a perimeter violation that
    lists every reason, has an id derived from the proposal, and goes only to the crisis
    cell and the real proposer (whoever the credentials say published it)."""
    decision = decide(proposal, live(), Situation())
    assert not decision.accepted
    assert len(decision.reasons) >= 1
    record = record_of(decision)
    assert isinstance(record.data, PerimeterViolated)
    assert record.type == "fr.interforces.perimeter.violated"
    assert record.data.reasons == decision.reasons
    assert record.data.proposal_id == proposal.envelope.id
    assert record.data.proposer is proposal.envelope.agency
    assert record.id != proposal.envelope.id
    publisher = proposal.credentials_agency
    assert record.data.credentials_agency is publisher
    expected = {CC} | ({publisher} if publisher is not None else set())
    assert sorted(decision.recipients) == sorted(expected)
    assert len(decision.recipients) == len(expected)
    assert all(d.remove == () and d.coarsen == () for d in decision.deliveries)

    # Redelivered later: the same violation id (the timeline deduplicates on it).
    again = Proposal(
        proposal.envelope,
        proposal.subject,
        proposal.credentials_agency,
        proposal.received_at.replace(hour=(proposal.received_at.hour + 1) % 24),
    )
    assert record_of(decide(again, live(), Situation())).id == record.id
    # Another proposal with the same content but its own id: another violation.
    other = Proposal(
        proposal.envelope.model_copy(update={"id": proposal.envelope.id + "-bis"}),
        proposal.subject,
        proposal.credentials_agency,
        proposal.received_at,
    )
    assert record_of(decide(other, live(), Situation())).id != record.id


# --- 7. Technology bounded by law ------------------------------------------------------------


def drone(where: str = "station", **kw: Any) -> EventPayload:
    return payload("drone.flight_started", position=P[where], **kw)


TECHNOLOGY = [
    row("authorised drone flight over the station: accepted", propose(drone(), PN)),
    row(
        "drone before the authorised window (20:00)",
        propose(drone(), PN, time=at(19, 30)),
        R.DRONE_NOT_AUTHORISED,
    ),
    row(
        "drone at the end of the window (01:00, excluded)",
        propose(drone(), PN, time=at(1)),
        R.DRONE_NOT_AUTHORISED,
    ),
    row(
        "drone over the festivity zone, outside the authorised sectors",
        propose(drone("fest"), PN),
        R.DRONE_NOT_AUTHORISED,
    ),
    row(
        "drone above the authorised ceiling (110 m > 100 m)",
        propose(drone(max_altitude_m=110), PN),
        R.DRONE_NOT_AUTHORISED,
    ),
    row(
        "drone under an unknown order reference",
        propose(drone(authorisation="AP-FAUX"), PN),
        R.DRONE_NOT_AUTHORISED,
    ),
    row(
        "drone flown by the municipal police: not the authorised operator",
        propose(drone("police-zone"), PM),
        R.NOT_COMPETENT_TYPE,
        R.MISSING_CAPABILITY,
        R.DRONE_NOT_AUTHORISED,
    ),
    row(
        "drone landing outside the authorised sectors",
        propose(payload("drone.flight_ended", position=P["fest"]), PN),
        R.DRONE_NOT_AUTHORISED,
    ),
    row(
        "abandoned luggage detected at the gate: accepted",
        propose(event("video_analytics.alerted", SP, "venue-gate"), SP),
    ),
    row(
        "video analytics inside the venue: not covered by the authorisation",
        propose(event("video_analytics.alerted", SP, "venue-in"), SP),
        R.VIDEO_ANALYTICS_NOT_AUTHORISED,
    ),
    row(
        "video analytics run by the national police: not the operator",
        propose(event("video_analytics.alerted", PN, "venue-gate"), PN),
        R.NOT_COMPETENT_TYPE,
        R.MISSING_CAPABILITY,
        R.VIDEO_ANALYTICS_NOT_AUTHORISED,
    ),
    row(
        "video extract requested by the national police: accepted",
        propose(event("video_extract.requested", PN, "station"), PN),
    ),
    row(
        "video extract requested by the municipal police: not a requester",
        propose(event("video_extract.requested", PM, "fest"), PM),
        R.NOT_COMPETENT_TYPE,
        R.VIDEO_EXTRACT_NOT_AUTHORISED,
    ),
    row(
        "video extract of the venue: not covered",
        propose(event("video_extract.requested", PN, "venue-in"), PN),
        R.VIDEO_EXTRACT_NOT_AUTHORISED,
    ),
    row(
        "video extract granted by the municipal CSU: accepted",
        propose(event("video_extract.granted", PM, "fest"), PM),
    ),
    row(
        "video extract granted by the national police: not the grantor",
        propose(event("video_extract.granted", PN, "station"), PN),
        R.NOT_COMPETENT_TYPE,
        R.MISSING_CAPABILITY,
        R.VIDEO_EXTRACT_NOT_AUTHORISED,
    ),
    row(
        "armed theft assigned to the unarmed municipal police",
        assign(PM),
        R.ASSIGNEE_NOT_COMPETENT,
        R.ARMED_THREAT_REQUIRES_ARMED_FORCE,
        before=(report(PN, "theft", "fest", armed=True),),
    ),
    row(
        "armed theft assigned to the national police: accepted",
        assign(PN),
        before=(report(PN, "theft", "fest", armed=True),),
    ),
    row(
        "theft qualified armed, then assigned to the unarmed municipal police",
        assign(PM),
        R.ASSIGNEE_NOT_COMPETENT,
        R.ARMED_THREAT_REQUIRES_ARMED_FORCE,
        before=(
            report(PM, "theft", "fest"),
            propose(payload("incident.qualified", armed_threat=True), CC),
        ),
    ),
    row(
        "unarmed municipal unit checks in armed",
        propose(payload("unit.checked_in", unit="PM-1", armed=True), PM),
        R.UNIT_NOT_ARMED,
    ),
    row(
        "unarmed municipal unit checks in unarmed: accepted",
        propose(payload("unit.checked_in", unit="PM-1", armed=False), PM),
    ),
    row(
        "national police unit checks in armed: accepted",
        propose(payload("unit.checked_in", unit="PN-1", armed=True), PN),
    ),
]


@pytest.mark.parametrize("case", TECHNOLOGY)
def test_technology_and_arms_are_bounded_by_law(case: Case) -> None:
    assert_codes(case)


@pytest.mark.parametrize(
    "category", ["facial_recognition", "face_match", "person_of_interest", "crowd_behaviour", ""]
)
def test_video_analytics_cannot_express_anything_but_abandoned_luggage(category: str) -> None:
    document = defaults("video_analytics.alerted", P["venue-gate"])
    with pytest.raises(ValidationError, match="abandoned_luggage"):
        VideoAnalyticsAlerted.model_validate({**document, "category": category})
    charter = live_charter().model_dump(mode="json")
    charter["authorisations"]["video_analytics"][0]["categories"] = [category]
    with pytest.raises(ValidationError):
        Charter.model_validate(charter)


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every field of a model, nested models included, as dotted paths."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        paths.append(prefix + name)
        for inner in (info.annotation, *typing.get_args(info.annotation)):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                paths += _field_paths(inner, f"{prefix}{name}.")
    return paths


def test_no_shareable_event_can_hold_a_face_or_a_name() -> None:
    """Facial recognition cannot even be expressed, and no event that may enter the timeline
    has a place for a person's identity, however deep; only the receipt (never shareable)
    names the checked person."""
    words = {"face", "facial", "biometric", "biometrics", "surname", "given", "birth", "person"}
    offending = [
        f"{cls.__name__}.{path}"
        for cls in EVENT_CLASSES
        if cls.TRAITS.shareable
        for path in _field_paths(cls)
        if words & set(re.split(r"[._]", path))
    ]
    assert offending == []
    receipt = [p for p in _field_paths(RecepisseIssued) if "surname" in p]
    assert receipt == ["person.surname"], "the walk must see nested fields"


# --- 8. Exercises never leak into live operations (and vice versa) ---------------------------


def alert(status: str) -> EventPayload:
    return payload("public_alert.issued", position=P["fest"], status=status)


def inject() -> EventPayload:
    return payload("exercise.injected", position=P["station"], target="police_nationale")


THEFT = payload("incident.reported", position=P["fest"], category="theft")

WALL = [
    row("live charter, live report: accepted", propose(THEFT, PM)),
    row(
        "live charter, exercise report on an exercise subject",
        propose(THEFT, PM, mode=Mode.EXERCISE),
        R.MODE_MISMATCH,
    ),
    row(
        "live charter, exercise envelope on a live subject",
        propose(THEFT, PM, mode=Mode.EXERCISE, subject_mode=Mode.LIVE),
        R.MODE_MISMATCH,
    ),
    row(
        "live charter, live envelope on an exercise subject",
        propose(THEFT, PM, subject_mode=Mode.EXERCISE),
        R.MODE_MISMATCH,
    ),
    row(
        "live charter, an inject from exercise control",
        propose(inject(), XC),
        R.EXERCISE_ONLY,
        R.UNKNOWN_ACTOR,
    ),
    row(
        "live charter, an inject from the crisis cell",
        propose(inject(), CC),
        R.EXERCISE_ONLY,
        R.NOT_COMPETENT_TYPE,
    ),
    row(
        "live charter, an exercise-mode inject from exercise control",
        propose(inject(), XC, mode=Mode.EXERCISE),
        R.MODE_MISMATCH,
        R.UNKNOWN_ACTOR,
    ),
    row("live charter, CAP Actual alert: accepted", propose(alert("Actual"), CC)),
    row(
        "live charter, CAP Exercise alert",
        propose(alert("Exercise"), CC),
        R.ALERT_STATUS_MODE_MISMATCH,
    ),
    row(
        "live charter, CAP Test alert (must be Actual in live)",
        propose(alert("Test"), CC),
        R.ALERT_STATUS_MODE_MISMATCH,
    ),
    row(
        "exercise twin, live report",
        propose(THEFT, PM),
        R.MODE_MISMATCH,
        charter=exercise,
    ),
    row(
        "exercise twin, exercise report: accepted",
        propose(THEFT, PM, mode=Mode.EXERCISE),
        charter=exercise,
    ),
    row(
        "exercise twin, exercise inject: accepted",
        propose(inject(), XC, mode=Mode.EXERCISE),
        charter=exercise,
    ),
    row(
        "exercise twin, live inject",
        propose(inject(), XC),
        R.EXERCISE_ONLY,
        R.MODE_MISMATCH,
        charter=exercise,
    ),
    row(
        "exercise twin, CAP Actual alert",
        propose(alert("Actual"), CC, mode=Mode.EXERCISE),
        R.ALERT_STATUS_MODE_MISMATCH,
        charter=exercise,
    ),
    row(
        "exercise twin, CAP Exercise alert: accepted",
        propose(alert("Exercise"), CC, mode=Mode.EXERCISE),
        charter=exercise,
    ),
]


@pytest.mark.parametrize("case", WALL)
def test_exercise_and_live_never_mix(case: Case) -> None:
    assert_codes(case)


def test_exercise_events_reach_exercise_control_and_the_inject_target_only_in_exercises() -> None:
    """Given the exercise twin, then exercise control receives every accepted event and an
    inject reaches its target; live deliveries never name exercise control."""
    report_ex = decide(propose(THEFT, PM, mode=Mode.EXERCISE), exercise(), Situation())
    assert XC in report_ex.recipients
    injected = decide(propose(inject(), XC, mode=Mode.EXERCISE), exercise(), Situation())
    assert injected.accepted
    assert {CC, XC, PN} <= set(injected.recipients)
    for delivery in injected.deliveries:
        copy = render_delivery(record_of(injected), delivery)
        assert (copy.mode, copy.operation) == (Mode.EXERCISE, OPERATION)
    assert XC not in decide(propose(THEFT, PM), live(), Situation()).recipients


@pytest.mark.parametrize(
    ("proposal", "compiled"),
    [
        pytest.param(propose(THEFT, PM, mode=Mode.EXERCISE), live, id="exercise into live"),
        pytest.param(propose(THEFT, PM), exercise, id="live into exercise"),
        pytest.param(
            propose(THEFT, PM, operation="other-op"), live, id="another operation into this one"
        ),
    ],
)
def test_a_refusal_is_recorded_in_the_operation_and_mode_that_refused_it(
    proposal: Proposal, compiled: Callable[[], CompiledCharter]
) -> None:
    """Given a proposal from the other side of the wall, when it is refused, then the
    violation is a record of this operation and mode (the shell publishes it on
    `subjects.timeline(record.mode, record.operation, …)`): stamping it with the proposal's
    own mode or operation would write across the wall."""
    charter = compiled()
    decision = decide(proposal, charter, Situation())
    assert not decision.accepted
    record = record_of(decision)
    assert (record.mode, record.operation) == (
        charter.charter.operation.mode,
        charter.charter.operation.id,
    )


# --- The perimeter, precisely ----------------------------------------------------------------

IDENTITY = [
    row("subject, credentials and envelope agree: accepted", propose(THEFT, PM)),
    row(
        "the subject names another agency",
        propose(THEFT, PM, subject_agency=SP),
        R.IDENTITY_MISMATCH,
    ),
    row("credentials of another agency", propose(THEFT, PM, credentials=SP), R.IDENTITY_MISMATCH),
    row("no credentials", propose(THEFT, PM, credentials=None), R.IDENTITY_MISMATCH),
    row(
        "a timeline subject instead of a proposal subject",
        propose(THEFT, PM, subject=subjects.timeline(Mode.LIVE, OPERATION, THEFT.type)),
        R.IDENTITY_MISMATCH,
    ),
    row(
        "the subject names another event type",
        propose(
            THEFT,
            PM,
            subject=subjects.proposal(Mode.LIVE, OPERATION, PM, "fr.interforces.incident.resolved"),
        ),
        R.IDENTITY_MISMATCH,
    ),
    row(
        "the subject names another operation",
        propose(THEFT, PM, subject_operation="other-op"),
        R.WRONG_OPERATION,
    ),
    row(
        "envelope and subject name another operation",
        propose(THEFT, PM, operation="other-op"),
        R.WRONG_OPERATION,
    ),
    row("an unknown unit", propose(THEFT, PN, unit="PN-9"), R.UNKNOWN_UNIT),
    row("another agency's unit", propose(THEFT, PN, unit="PM-1"), R.UNKNOWN_UNIT),
    row(
        "envelope unit differs from the event's unit",
        propose(payload("unit.position_reported", unit="PN-1"), PN, unit="PN-2"),
        R.IDENTITY_MISMATCH,
    ),
    row(
        "an agency absent from the charter",
        propose(THEFT, Agency.GENDARMERIE),
        R.UNKNOWN_ACTOR,
    ),
]

COMPETENCE = [
    row(
        "a type outside the agency's list",
        propose(event("security_perimeter.established", PM, "fest"), PM),
        R.NOT_COMPETENT_TYPE,
    ),
    row(
        "a category outside the agency's list",
        propose(event("incident.reported", PM, "fest", category="fight"), PM),
        R.NOT_COMPETENT_CATEGORY,
    ),
    row(
        "a qualification outside the agency's categories",
        propose(payload("incident.qualified", category="fight"), PM),
        R.NOT_COMPETENT_CATEGORY,
        before=(report(PM, "theft", "fest"),),
    ),
    row(
        "mediators report a fight as witnesses: accepted",
        propose(event("incident.reported", MED, "fest", category="fight"), MED),
    ),
    row(
        "private security reports a fight in its venue as witness: accepted",
        propose(event("site_incident.reported", SP, "venue-in", category="fight"), SP),
    ),
    row(
        "a witness category is not for assignment",
        assign(MED),
        R.ASSIGNEE_NOT_COMPETENT,
        R.VIOLENT_SITUATION_FORBIDDEN,
        before=(report(MED, "fight", "fest"),),
    ),
]

TERRITORY = [
    row(
        "a position outside every sector",
        propose(event("incident.reported", PN, "outside"), PN),
        R.OUTSIDE_TERRITORY,
    ),
    row(
        "a declared sector that is not the agency's",
        propose(THEFT, PM, sector="station"),
        R.UNKNOWN_SECTOR,
    ),
    row(
        "a declared sector absent from the charter",
        propose(THEFT, PM, sector="nowhere"),
        R.UNKNOWN_SECTOR,
    ),
    row(
        "a position outside the declared (own) sector",
        propose(THEFT, PM, sector="police-zone"),
        R.SECTOR_POSITION_MISMATCH,
    ),
    row(
        "a position outside the agency's sectors and its declared sector",
        propose(event("incident.reported", PM, "station"), PM, sector="fest"),
        R.OUTSIDE_TERRITORY,
        R.SECTOR_POSITION_MISMATCH,
    ),
    row(
        "a position on the edge between the fest and the venue: accepted on both sides",
        propose(
            payload(
                "site_incident.reported",
                position={"lon": 4.834, "lat": 45.761},
                category="medical",
            ),
            SP,
        ),
    ),
    row(
        "an event without position in a declared own sector: accepted",
        propose(payload("crisis_cell.decision_logged"), CC, sector="fest"),
    ),
]

TIME = [
    row("at the opening (18:00): accepted", propose(THEFT, PN, time=at(18))),
    row(
        "before the operation",
        propose(THEFT, PN, time=at(17, 59, 59)),
        R.OUTSIDE_OPERATION_WINDOW,
    ),
    row(
        "at the closing (04:00, excluded)",
        propose(THEFT, PN, time=at(4)),
        R.OUTSIDE_OPERATION_WINDOW,
    ),
    row(
        "the municipal police after its own window (02:00)",
        propose(THEFT, PM, time=at(2, 30)),
        R.OUTSIDE_ACTOR_WINDOW,
    ),
    row(
        "a reinforcement unit before its window, named on the envelope",
        propose(payload("unit.status_changed", unit="MED-R"), MED, unit="MED-R", time=at(19, 30)),
        R.OUTSIDE_ACTOR_WINDOW,
    ),
    row(
        "a reinforcement unit checking in before its window, named in the event only",
        propose(payload("unit.checked_in", unit="MED-R"), MED, time=at(19, 30)),
        R.OUTSIDE_ACTOR_WINDOW,
    ),
    row(
        "a reinforcement unit inside its window: accepted",
        propose(payload("unit.checked_in", unit="MED-R"), MED, unit="MED-R", time=at(20, 30)),
    ),
    row(
        "a time beyond the clock-skew tolerance",
        propose(THEFT, PM, received_at=at(20, 57, 59)),
        R.TIME_IN_FUTURE,
    ),
    row("a time at the tolerance: accepted", propose(THEFT, PM, received_at=at(20, 58))),
    row("a late delivery: accepted", propose(THEFT, PM, received_at=at(23))),
]

ASSIGNMENT = [
    row("assigning an unknown incident", assign(PN, incident="INC-404"), R.UNKNOWN_INCIDENT),
    row(
        "acknowledging an unknown incident",
        ack(PN, incident="INC-404"),
        R.UNKNOWN_INCIDENT,
    ),
    row(
        "resolving an unknown incident",
        propose(payload("incident.resolved", incident="INC-404"), PN),
        R.UNKNOWN_INCIDENT,
    ),
    row(
        "a theft in the fest assigned to private security",
        assign(SP),
        R.ASSIGNEE_NOT_COMPETENT,
        before=(report(PM, "theft", "fest"),),
    ),
    row(
        "a theft at the station assigned to the municipal police (not its sector)",
        assign(PM),
        R.ASSIGNEE_NOT_COMPETENT,
        before=(report(PN, "theft", "station"),),
    ),
    row(
        "a theft assigned to the municipal police after its window",
        assign(PM, time=at(2, 30)),
        R.ASSIGNEE_NOT_COMPETENT,
        before=(report(PM, "theft", "fest"),),
    ),
    row(
        "a theft assigned to a unit of another agency",
        assign(PM, unit="PN-1"),
        R.UNKNOWN_UNIT,
        before=(report(PM, "theft", "fest"),),
    ),
    row(
        "a theft assigned to the municipal police with its unit: accepted",
        assign(PM, unit="PM-1"),
        before=(report(PM, "theft", "fest"),),
    ),
    row(
        "the assignee acknowledges: accepted",
        ack(PM),
        before=(report(PM, "theft", "fest"), assign(PM)),
    ),
    row(
        "another force acknowledges",
        ack(PN),
        R.NOT_ASSIGNEE,
        before=(report(PM, "theft", "fest"), assign(PM)),
    ),
    row(
        "mediators decline an assignment that is not theirs",
        propose(payload("incident.declined"), MED),
        R.NOT_ASSIGNEE,
        before=(report(PM, "theft", "fest"), assign(PM)),
    ),
    row(
        "acknowledging before any assignment",
        ack(PM),
        R.NOT_ASSIGNEE,
        before=(report(PM, "theft", "fest"),),
    ),
]


@pytest.mark.parametrize("case", IDENTITY)
def test_identity(case: Case) -> None:
    assert_codes(case)


@pytest.mark.parametrize("case", COMPETENCE)
def test_competence(case: Case) -> None:
    assert_codes(case)


@pytest.mark.parametrize("case", TERRITORY)
def test_territory(case: Case) -> None:
    assert_codes(case)


@pytest.mark.parametrize("case", TIME)
def test_time(case: Case) -> None:
    assert_codes(case)


@pytest.mark.parametrize("case", ASSIGNMENT)
def test_assignment(case: Case) -> None:
    assert_codes(case)


@pytest.mark.parametrize(
    ("given", "assignee", "competent"),
    [
        pytest.param(report(PM, "theft", "fest"), SP, (PN, PM), id="theft in the fest"),
        pytest.param(report(PN, "theft", "station"), PM, (PN,), id="theft at the station"),
        pytest.param(report(MED, "noise_complaint", "fest"), PN, (PM, MED), id="noise in the fest"),
        pytest.param(report(MED, "fight", "fest"), MED, (PN,), id="fight in the fest"),
        pytest.param(
            report(PN, "theft", "fest", armed=True), PM, (PN,), id="armed theft in the fest"
        ),
        pytest.param(
            report(SP, "entrance_incident", "venue-gate"), PN, (SP,), id="entrance incident"
        ),
    ],
)
def test_a_refused_assignment_names_the_competent_agencies(
    given: Proposal, assignee: Agency, competent: tuple[Agency, ...]
) -> None:
    """Given a known incident, when it is assigned to an agency that may not take it, then
    the refusal names, in its record and its message, every agency that could."""
    decision = decide(assign(assignee), live(), fold(live(), given))
    assert R.ASSIGNEE_NOT_COMPETENT in decision.codes
    assert decision.competent_agencies == competent
    record = record_of(decision).data
    assert isinstance(record, PerimeterViolated)
    assert record.competent_agencies == competent
    message = next(r.message for r in decision.reasons if r.code is R.ASSIGNEE_NOT_COMPETENT)
    for agency in competent:
        assert AGENCY_LABELS[agency] in message
    for agency in set(live().actors) - set(competent):
        assert AGENCY_LABELS[agency] not in message.split("compétent(s) :")[1]
