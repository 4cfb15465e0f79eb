"""The agency's functional core: who may report, what a report becomes, and what never
leaves the agency (case notes, the checked person's identity)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts import subjects
from contracts.charter.loader import load_charter
from contracts.cloudevents import to_structured
from contracts.events.identity_checks import IdentityCheckRecorded, RecepisseIssued
from contracts.events.incidents import IncidentReported
from contracts.events.mediation import MediationStarted
from contracts.ids import derived_event_id
from contracts.reasons import ReasonCode
from contracts.reports import UnitReport
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Classification, Mode
from services.agency.domain import (
    AgencyProfile,
    Engagement,
    Engagements,
    authenticate,
    enrich,
    issue_recepisse,
    keep_case_notes,
    plan_dispatches,
    read_feed_copy,
    read_report,
    report_address,
    report_hints,
)
from services.agency.errors import ConfigurationError, ReportRefusedError, UnreadableFeedError
from unit.agency.builders import (
    CASE_NOTES,
    DURING,
    FESTIVAL,
    OPERATION,
    SURNAME,
    UNITS,
    assignment,
    feed_body,
    festival_engagements,
    identity_check_recorded,
    incident_reported,
    mediation_started,
    recepisse_issued,
    report_of,
)
from unit.agency.builders import engaged as engaged_with

pytestmark = pytest.mark.unit

KEY = b"k" * 32
POLICE = AgencyProfile(Agency.POLICE_NATIONALE, transforms=(issue_recepisse,))
MEDIATION = AgencyProfile(Agency.MEDIATION, transforms=(keep_case_notes,))
MUNICIPAL = AgencyProfile(Agency.POLICE_MUNICIPALE)


def engaged(profile: AgencyProfile, report: UnitReport, mode: Mode = Mode.LIVE) -> Engagement:
    return engaged_with(KEY, profile.agency, report, mode)


def refused(call: Any) -> ReasonCode:
    with pytest.raises(ReportRefusedError) as caught:
        call()
    return caught.value.code


# --- engagements and authentication -------------------------------------------------------


def test_an_agency_is_engaged_only_where_a_charter_names_it() -> None:
    # given the festival (no gendarmerie) and the stadium concert (with it)
    gendarmerie = festival_engagements(Agency.GENDARMERIE)
    police = festival_engagements(Agency.POLICE_NATIONALE)
    # then the gendarmerie serves the stadium only, and knows the festival is not its own
    assert set(gendarmerie.operations) == {"concert-stade-2026-07-04"}
    assert refused(lambda: gendarmerie.locate(OPERATION)) is ReasonCode.UNKNOWN_ACTOR
    assert refused(lambda: gendarmerie.locate("no-such-op")) is ReasonCode.UNKNOWN_OPERATION
    # and the national police serve both, with their own units only
    assert len(police.operations) == 2
    assert "PN-AINAY-1" in police.operations[OPERATION].units
    assert "PM-TERREAUX-1" not in police.operations[OPERATION].units


def test_a_unit_with_its_token_on_its_own_subject_is_authenticated() -> None:
    # given a national police unit's report with the right token
    report = report_of(KEY, Agency.POLICE_NATIONALE, incident_reported())
    # when authenticated, then its engagement is the festival's, live
    engagement = engaged(POLICE, report)
    assert engagement.operation == OPERATION
    assert engagement.mode is Mode.LIVE


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"token": "0" * 64}, ReasonCode.UNIT_NOT_AUTHENTICATED),
        ({"unit": "PM-TERREAUX-1"}, ReasonCode.UNKNOWN_UNIT),
        ({"operation": "concert-de-noel"}, ReasonCode.UNKNOWN_OPERATION),
    ],
)
def test_a_unit_not_proven_is_refused(change: dict[str, str], reason: ReasonCode) -> None:
    # given a report whose token, unit or operation is not this agency's
    good = report_of(KEY, Agency.POLICE_NATIONALE, incident_reported())
    report = good.model_copy(update=change)
    # when it comes on the subject its own fields name, then it is refused with the reason
    assert refused(lambda: engaged(POLICE, report)) is reason


def test_a_token_minted_with_another_agencys_key_is_refused() -> None:
    # given a token minted with another key
    report = report_of(b"x" * 32, Agency.POLICE_NATIONALE, incident_reported())
    # then the unit is not authenticated
    assert refused(lambda: engaged(POLICE, report)) is ReasonCode.UNIT_NOT_AUTHENTICATED


def test_a_live_operation_takes_no_report_on_an_exercise_subject() -> None:
    # given a live festival report sent on the exercise report subject
    report = report_of(KEY, Agency.POLICE_NATIONALE, incident_reported())
    # then the mode wall refuses it
    assert refused(lambda: engaged(POLICE, report, Mode.EXERCISE)) is ReasonCode.MODE_MISMATCH


def test_the_subject_and_the_report_must_name_the_same_unit_and_operation() -> None:
    # given a valid report
    report = report_of(KEY, Agency.POLICE_NATIONALE, incident_reported())
    engagements = festival_engagements(Agency.POLICE_NATIONALE)
    # when it comes on another unit's subject, or another operation's, then it is refused
    other_unit = report_address(
        subjects.report(Mode.LIVE, OPERATION, Agency.POLICE_NATIONALE, "PN-BAC-1")
    )
    other_op = report_address(
        subjects.report(Mode.LIVE, "autre-op", Agency.POLICE_NATIONALE, report.unit)
    )
    other_agency = report_address(
        subjects.report(Mode.LIVE, OPERATION, Agency.GENDARMERIE, report.unit)
    )
    assert (
        refused(lambda: authenticate(report, other_unit, engagements, KEY))
        is ReasonCode.IDENTITY_MISMATCH
    )
    assert (
        refused(lambda: authenticate(report, other_op, engagements, KEY))
        is ReasonCode.WRONG_OPERATION
    )
    assert (
        refused(lambda: authenticate(report, other_agency, engagements, KEY))
        is ReasonCode.IDENTITY_MISMATCH
    )


# --- reading a report ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe garbage", ReasonCode.MALFORMED),
        (b"[1, 2]", ReasonCode.MALFORMED),
        (b'{"report": "R-1"}', ReasonCode.INVALID_REPORT),
        (b"{" + b" " * 70_000 + b"}", ReasonCode.PAYLOAD_TOO_LARGE),
    ],
)
def test_unreadable_reports_are_refused_with_their_reason(raw: bytes, reason: ReasonCode) -> None:
    # given bytes that are not a report, then reading them refuses with the reason
    assert refused(lambda: read_report(raw, 64 * 1024)) is reason


def test_a_refused_report_is_named_only_by_well_formed_ids() -> None:
    # given an invalid report with a usable id and a spoofed unit full of control characters
    raw = json.dumps({"report": "R-9", "unit": "PN\n-1", "operation": OPERATION}).encode()
    # then only the well-formed ids are kept for the record
    hints = report_hints(raw)
    assert (hints.report, hints.unit, hints.operation) == ("R-9", None, OPERATION)
    assert report_hints(b"\x00garbage").report == ""


# --- enrichment ---------------------------------------------------------------------------


def test_a_report_becomes_a_proposal_whose_id_its_retries_share() -> None:
    # given a municipal police report of a theft
    report = report_of(KEY, Agency.POLICE_MUNICIPALE, incident_reported())
    engagement = engaged(MUNICIPAL, report)
    # when enriched, twice (a retry)
    first, again = enrich(MUNICIPAL, report, engagement), enrich(MUNICIPAL, report, engagement)
    # then the proposal is the same event, with the id derived from the report
    proposal = first.proposal
    assert proposal == again.proposal
    assert proposal.id == derived_event_id(
        "police_municipale", OPERATION, "PM-TERREAUX-1", report.report
    )
    assert proposal.source == "/interforces/police_municipale/PM-TERREAUX-1"
    assert (proposal.operation, proposal.mode, proposal.agency) == (
        OPERATION,
        Mode.LIVE,
        Agency.POLICE_MUNICIPALE,
    )
    assert (proposal.unit, proposal.sector, proposal.time) == ("PM-TERREAUX-1", "terreaux", DURING)
    assert isinstance(proposal.data, IncidentReported)
    assert first.proposal_subject == subjects.proposal(
        Mode.LIVE, OPERATION, Agency.POLICE_MUNICIPALE, "fr.interforces.incident.reported"
    )
    assert first.proposal_stream == subjects.stream_name(Mode.LIVE, StreamRole.PROPOSALS)
    assert first.receipt is None
    assert first.held is None
    # and another report id is another event
    other = report.model_copy(update={"report": report.report + "-bis"})
    assert enrich(MUNICIPAL, other, engagement).proposal.id != proposal.id


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"type": "fr.interforces.selfie.taken"}, ReasonCode.UNKNOWN_TYPE),
        ({"incident": "INC-1"}, ReasonCode.UNKNOWN_TYPE),
        ({**incident_reported(), "category": "alien_invasion"}, ReasonCode.INVALID_PAYLOAD),
        ({**incident_reported(), "schema_version": 9}, ReasonCode.UNSUPPORTED_SCHEMA_VERSION),
    ],
)
def test_an_invalid_event_is_refused_with_its_reason(
    event: dict[str, Any], reason: ReasonCode
) -> None:
    # given a report whose event is not a valid event of the catalogue
    report = report_of(KEY, Agency.POLICE_MUNICIPALE, event)
    engagement = engaged(MUNICIPAL, report)
    # then enrichment refuses it with the reason
    assert refused(lambda: enrich(MUNICIPAL, report, engagement)) is reason


def test_mediation_case_notes_stay_with_the_mediators() -> None:
    # given a mediator's report of a mediation, with case notes
    report = report_of(KEY, Agency.MEDIATION, mediation_started())
    outcome = enrich(MEDIATION, report, engaged(MEDIATION, report))
    # then the proposal carries no notes, in the model nor on the wire
    assert isinstance(outcome.proposal.data, MediationStarted)
    assert outcome.proposal.data.case_notes is None
    assert CASE_NOTES not in to_structured(outcome.proposal).decode()
    # and the notes are held for the mediation service's own store
    assert outcome.held is not None
    assert outcome.held.fields == (("case_notes", CASE_NOTES),)
    assert outcome.held.event_id == outcome.proposal.id
    assert outcome.held.case == "MED-2026-17"


def test_case_notes_written_by_another_agency_leave_with_no_one() -> None:
    # given municipal police reporting a mediation with notes (not theirs to hold)
    report = report_of(KEY, Agency.POLICE_MUNICIPALE, mediation_started())
    outcome = enrich(MUNICIPAL, report, engaged(MUNICIPAL, report))
    # then the notes are neither proposed nor kept, and the drop is reported
    assert CASE_NOTES not in to_structured(outcome.proposal).decode()
    assert outcome.held is None
    assert outcome.dropped == ("case_notes",)


def test_an_identity_check_splits_into_a_receipt_and_a_record_without_identity() -> None:
    # given a national police unit's identity check, with the person's identity
    report = report_of(KEY, Agency.POLICE_NATIONALE, recepisse_issued())
    outcome = enrich(POLICE, report, engaged(POLICE, report))
    # then the proposal is the record: the same facts, no identity, restricted
    proposal = outcome.proposal
    assert isinstance(proposal.data, IdentityCheckRecorded)
    assert proposal.type == "fr.interforces.identity_check.recorded"
    assert proposal.classification is Classification.RESTRICTED
    assert proposal.data.check == "RC-2026-000123"
    assert proposal.data.officer_number == "1234567"
    assert SURNAME not in to_structured(proposal).decode()
    # and the receipt carries the identity, on the agency's receipt subject, with its own id
    receipt = outcome.receipt
    assert receipt is not None
    assert isinstance(receipt.data, RecepisseIssued)
    assert receipt.data.person.surname == SURNAME
    assert receipt.id != proposal.id
    assert outcome.receipt_subject == subjects.recepisse(
        Mode.LIVE, OPERATION, Agency.POLICE_NATIONALE
    )
    assert outcome.held is None


def test_a_check_record_without_its_receipt_is_refused() -> None:
    # given a police unit reporting the record directly (the person would get nothing)
    report = report_of(KEY, Agency.POLICE_NATIONALE, identity_check_recorded())
    # then it is refused: the receipt must be issued
    assert (
        refused(lambda: enrich(POLICE, report, engaged(POLICE, report)))
        is ReasonCode.RECEPISSE_REQUIRED
    )


@pytest.mark.parametrize("event", [recepisse_issued(), identity_check_recorded()])
def test_agencies_without_receipts_cannot_report_identity_checks(event: dict[str, Any]) -> None:
    # given municipal police reporting an identity check
    report = report_of(KEY, Agency.POLICE_MUNICIPALE, event)
    # then it is refused as out of competence, and nothing is proposed
    assert (
        refused(lambda: enrich(MUNICIPAL, report, engaged(MUNICIPAL, report)))
        is ReasonCode.NOT_COMPETENT_TYPE
    )


# --- the feed -----------------------------------------------------------------------------


def test_an_assignment_naming_a_unit_is_dispatched_to_that_unit() -> None:
    # given an assignment of an incident to a national police unit
    engagements = festival_engagements(Agency.POLICE_NATIONALE)
    envelope = assignment(Agency.POLICE_NATIONALE, "PN-BAC-1", incident="INC-7")
    # then one dispatch goes to that unit's subject, naming the timeline event
    plan = plan_dispatches(engagements, envelope)
    assert plan.problem is None
    [(subject, dispatch)] = plan.dispatches
    assert subject == subjects.dispatch(Mode.LIVE, OPERATION, Agency.POLICE_NATIONALE, "PN-BAC-1")
    assert (dispatch.unit, dispatch.event_id, dispatch.incident) == (
        "PN-BAC-1",
        envelope.id,
        "INC-7",
    )
    assert dispatch.type == "fr.interforces.incident.assigned"


def test_an_assignment_to_the_agency_alone_reaches_each_of_its_units() -> None:
    # given an assignment naming no unit
    engagements = festival_engagements(Agency.MEDIATION)
    plan = plan_dispatches(engagements, assignment(Agency.MEDIATION, None))
    # then every mediation unit of the festival is told
    assert sorted(d.unit for _, d in plan.dispatches) == sorted(
        engagements.operations[OPERATION].units
    )


def test_what_is_not_an_assignment_to_this_agency_dispatches_nothing() -> None:
    # given an assignment to another agency, and one to a unit not in the charter
    police = festival_engagements(Agency.POLICE_NATIONALE)
    # then nothing is dispatched; the unknown unit is a problem to log
    assert plan_dispatches(police, assignment(Agency.POLICE_MUNICIPALE, "PM-CSU")).dispatches == ()
    stray = plan_dispatches(police, assignment(Agency.POLICE_NATIONALE, UNITS[Agency.MEDIATION]))
    assert stray.dispatches == ()
    assert stray.problem is not None


def test_a_feed_copy_is_read_or_named_unreadable() -> None:
    # given a valid copy, garbage, and a copy of the other mode
    envelope = assignment(Agency.POLICE_NATIONALE, "PN-BAC-1")
    # then the copy reads back, and the others fail with their reason
    assert read_feed_copy(feed_body(envelope), Mode.LIVE) == envelope
    with pytest.raises(UnreadableFeedError) as garbage:
        read_feed_copy(b"\x00 not json", Mode.LIVE)
    assert garbage.value.code is ReasonCode.MALFORMED
    with pytest.raises(UnreadableFeedError) as wrong_mode:
        read_feed_copy(feed_body(envelope), Mode.EXERCISE)
    assert wrong_mode.value.code is ReasonCode.MODE_MISMATCH


def test_engagements_refuse_an_operation_charted_twice() -> None:
    # given the same charter twice, then the service cannot know whose units count
    with pytest.raises(ConfigurationError):
        Engagements.from_charters(Agency.MEDIATION, [load_charter(FESTIVAL)] * 2)
