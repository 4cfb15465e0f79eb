"""The projection fold: what the crisis cell reads of units, incidents, perimeters and
refusals after a sequence of timeline records, and that folding is idempotent and
incremental (batch by batch over loaded rows gives the same rows as one fold from scratch)."""

from __future__ import annotations

from datetime import UTC

import pytest

from contracts.vocabulary import Agency, Mode
from services.timeline.domain import (
    AssignmentAnswer,
    IncidentRow,
    IncidentStatus,
    PerimeterStatus,
    Projection,
    TimelineRecord,
    UnitDuty,
    changes,
    fold,
    keys_of,
)

from .builders import FEST, OPERATION, STATION, at, event, record, records

pytestmark = pytest.mark.unit

PM = Agency.POLICE_MUNICIPALE
PN = Agency.POLICE_NATIONALE
CELL = Agency.CRISIS_CELL


def project(*recs: TimelineRecord) -> Projection:
    return fold(Projection(), recs)


def incident(p: Projection, name: str = "INC-1", mode: Mode = Mode.LIVE) -> IncidentRow:
    return p.incidents[(mode.value, OPERATION, name)]


# --- units ---------------------------------------------------------------------------------


def test_a_checked_in_unit_is_available_where_it_checked_in() -> None:
    # given a unit checking in
    # when folded
    p = project(*records(event("unit.checked_in", unit="PN-7", personnel=3, armed=True)))
    # then it is available, armed, at its check-in point
    row = p.units[("live", OPERATION, "PN-7")]
    assert row.status == UnitDuty.AVAILABLE
    assert row.agency == PN.value
    assert (row.armed, row.personnel) == (True, 3)
    assert (row.lon, row.lat) == (FEST["lon"], FEST["lat"])
    assert row.checked_in_at == at(1).astimezone(UTC)
    assert row.last_seq == 1


def test_unit_status_follows_its_changes_until_check_out() -> None:
    # given a unit that checks in, goes en route to an incident, arrives, then checks out
    recs = records(
        event("unit.checked_in"),
        event("unit.status_changed", status="en_route", incident="INC-1"),
        event("unit.status_changed", status="on_scene", incident="INC-1", position=STATION),
    )
    # when folded up to on scene
    on_scene = project(*recs).units[("live", OPERATION, "PN-1")]
    # then it is on scene at the incident, where it said
    assert (on_scene.status, on_scene.incident) == ("on_scene", "INC-1")
    assert (on_scene.lon, on_scene.lat) == (STATION["lon"], STATION["lat"])
    # when it checks out
    out = project(*recs, record(4, event("unit.checked_out"))).units[("live", OPERATION, "PN-1")]
    # then it is off shift, engaged nowhere, and its last position is kept
    assert (out.status, out.incident) == (UnitDuty.CHECKED_OUT, None)
    assert out.checked_out_at == at(4).astimezone(UTC)
    assert (out.lon, out.lat) == (STATION["lon"], STATION["lat"])
    assert out.last_seq == 4


def test_a_late_position_report_does_not_move_a_unit_back() -> None:
    # given a position at 21:10, then a report of 21:05 arriving after it
    recs = [
        record(1, event("unit.position_reported", position=STATION), time=at(10)),
        record(2, event("unit.position_reported", position=FEST), time=at(5)),
    ]
    # when folded
    row = project(*recs).units[("live", OPERATION, "PN-1")]
    # then the unit stays at its latest known position, but the record counts as seen
    assert (row.lon, row.lat, row.position_at) == (
        STATION["lon"],
        STATION["lat"],
        at(10).astimezone(UTC),
    )
    assert row.last_seq == 2
    assert row.status is None  # never checked in nor reported a status


# --- incidents -----------------------------------------------------------------------------


def test_incident_lifecycle_from_report_to_resolution() -> None:
    # given an incident reported by the municipal police, then qualified, assigned,
    # acknowledged and resolved
    recs = records(
        (event("incident.reported", severity="minor", people_involved=2), PM),
        (event("incident.qualified", category="fight", severity="serious"), CELL),
        (event("incident.assigned", assignee="police_nationale", assignee_unit="PN-2"), CELL),
        (event("incident.acknowledged", eta_minutes=4), PN),
        (event("incident.resolved", outcome="rixe dispersée"), PN),
    )
    # when folded step by step
    steps = [project(*recs[:n]) for n in range(1, 6)]
    # then the status walks open → … → resolved
    assert [incident(s).status for s in steps] == [
        "open",
        "open",
        "assigned",
        "acknowledged",
        "resolved",
    ]
    final = incident(steps[-1])
    assert final.category == "fight"
    assert final.severity == "serious"
    assert final.people_involved == 2
    assert final.reporter == PM.value
    assert final.reported_at == at(1).astimezone(UTC)
    assert final.first_assigned_at == at(3).astimezone(UTC)
    assert final.acknowledged_at == at(4).astimezone(UTC)
    assert final.resolved_at == at(5).astimezone(UTC)
    assert final.outcome == "rixe dispersée"
    assert (final.assignee, final.assignee_unit) == ("police_nationale", "PN-2")
    # and the assignment records who answered, when, with which delay
    (assignment,) = steps[-1].assignments.values()
    assert assignment.assignment_seq == 3
    assert assignment.assigned_by == CELL.value
    assert assignment.answer == AssignmentAnswer.ACKNOWLEDGED
    assert (assignment.answered_by, assignment.eta_minutes) == (PN.value, 4)
    assert assignment.answer_seq == 4


def test_a_decline_hands_the_incident_back_and_keeps_the_first_assignment_time() -> None:
    # given an incident assigned to the municipal police, declined, then reassigned
    recs = records(
        (event("incident.reported"), PM),
        (event("incident.assigned", assignee="police_municipale"), CELL),
        (event("incident.declined", reason="équipage engagé"), PM),
    )
    # when folded to the decline
    declined = project(*recs)
    # then the incident is open again with no assignee, and the assignment is declined
    row = incident(declined)
    assert (row.status, row.assignee) == ("open", None)
    assert row.first_assigned_at == at(2).astimezone(UTC)
    (answer,) = declined.assignments.values()
    assert (answer.answer, answer.decline_reason) == ("declined", "équipage engagé")
    # when the crisis cell reassigns it
    again = project(*recs, record(4, event("incident.assigned"), CELL))
    # then it is assigned again, the first assignment time unchanged, two assignments kept
    row = incident(again)
    assert (row.status, row.assignee) == ("assigned", "police_nationale")
    assert row.first_assigned_at == at(2).astimezone(UTC)
    assert sorted((a.assignment_seq, a.answer) for a in again.assignments.values()) == [
        (2, "declined"),
        (4, "pending"),
    ]


def test_a_reassignment_supersedes_the_unanswered_one() -> None:
    # given an assignment left unanswered, then another
    recs = records(
        event("incident.reported"),
        (event("incident.assigned", assignee="police_municipale"), CELL),
        (event("incident.assigned", assignee="police_nationale"), CELL),
        (event("incident.acknowledged"), PN),
    )
    # when folded
    p = project(*recs)
    # then the first is superseded and only the second is acknowledged
    answers = {a.assignment_seq: a.answer for a in p.assignments.values()}
    assert answers == {2: AssignmentAnswer.SUPERSEDED, 3: AssignmentAnswer.ACKNOWLEDGED}
    assert incident(p).status == IncidentStatus.ACKNOWLEDGED


def test_corrections_amend_an_incident_and_a_second_report_does_not_replace_it() -> None:
    # given a report, a second report of the same incident id, then a correction
    recs = records(
        (event("incident.reported", category="theft"), PM),
        (event("incident.reported", category="fire", position=STATION), PN),
        (event("incident.corrected", category="assault", position=STATION), PM),
    )
    # when folded
    row = incident(project(*recs))
    # then the first report stands, amended by the correction only
    assert row.reporter == PM.value
    assert row.report_seq == 1
    assert row.category == "assault"
    assert (row.lon, row.lat) == (STATION["lon"], STATION["lat"])
    assert row.last_seq == 3


def test_events_about_an_unknown_incident_change_nothing() -> None:
    # given an assignment and a resolution of an incident never reported
    recs = records(event("incident.assigned"), event("incident.resolved"))
    # when folded
    p = project(*recs)
    # then no row appears
    assert len(p) == 0


def test_a_site_incident_of_private_security_is_an_incident() -> None:
    # given a site incident reported by private security
    p = project(*records((event("site_incident.reported"), Agency.SECURITE_PRIVEE)))
    # then it is an open incident reported by private security
    row = incident(p, "INC-S")
    assert (row.status, row.reporter, row.category) == (
        "open",
        "securite_privee",
        "entrance_incident",
    )


def test_a_resolved_incident_stays_resolved() -> None:
    # given a resolved incident, then a late acknowledgement and a second resolution
    recs = records(
        event("incident.reported"),
        event("incident.assigned"),
        event("incident.resolved", outcome="first"),
        event("incident.acknowledged"),
        event("incident.resolved", outcome="second"),
    )
    # when folded
    row = incident(project(*recs))
    # then the first resolution holds
    assert row.status == IncidentStatus.RESOLVED
    assert (row.outcome, row.resolved_at) == ("first", at(3).astimezone(UTC))


# --- perimeters and rejections -------------------------------------------------------------


def test_a_security_perimeter_is_established_then_lifted() -> None:
    # given a perimeter set up around a suspicious package, then lifted
    recs = records(
        (event("security_perimeter.established", incident="INC-9"), PN),
        (event("security_perimeter.lifted"), PN),
    )
    # when folded to the establishment, then to the lifting
    up = project(recs[0]).perimeters[("live", OPERATION, "PER-1")]
    down = project(*recs).perimeters[("live", OPERATION, "PER-1")]
    # then it holds, with its area, then is lifted with the reason and time
    assert up.status == PerimeterStatus.ESTABLISHED
    assert up.incident == "INC-9"
    assert up.area is not None
    assert '"Polygon"' in up.area
    assert down.status == PerimeterStatus.LIFTED
    assert (down.lift_reason, down.lifted_at) == ("levée de doute", at(2).astimezone(UTC))
    assert down.established_at == at(1).astimezone(UTC)


def test_a_refused_proposal_is_recorded_with_every_reason() -> None:
    # given a perimeter violation recorded by the coordinator
    rec = record(7, event("perimeter.violated"), Agency.SECURITE_PRIVEE)
    # when folded
    (row,) = project(rec).rejections.values()
    # then the refusal names the proposal, who proposed it, each reason and who could take it
    assert (row.event_id, row.seq) == (rec.event_id, 7)
    assert (row.proposal_id, row.proposer, row.credentials_agency) == (
        "evt-refused",
        "securite_privee",
        "securite_privee",
    )
    assert row.reason_codes == ("outside_territory", "not_competent_category")
    assert '"Hors secteur"' in row.reasons
    assert row.competent_agencies == ("police_nationale", "gendarmerie")
    assert row.rejected_at == at(7).astimezone(UTC)


def test_events_the_projections_do_not_read_change_nothing() -> None:
    # given a crowd density report
    # when folded
    # then no projection row appears
    assert len(project(*records(event("crowd.density_reported")))) == 0


# --- modes, idempotence, incrementality ----------------------------------------------------


def test_an_exercise_never_touches_the_live_rows_of_the_same_operation() -> None:
    # given the same unit checking in live, then in an exercise of the same operation id
    live = record(1, event("unit.checked_in"), mode=Mode.LIVE)
    drill = record(1, event("unit.checked_out"), mode=Mode.EXERCISE)
    # when folded
    p = project(live, drill)
    # then there are two rows, one per mode
    assert p.units[("live", OPERATION, "PN-1")].status == UnitDuty.AVAILABLE
    assert p.units[("exercise", OPERATION, "PN-1")].status == UnitDuty.CHECKED_OUT


def _night() -> list[TimelineRecord]:
    return records(
        event("unit.checked_in"),
        (event("incident.reported"), PM),
        (event("incident.assigned"), CELL),
        event("unit.status_changed", status="en_route", incident="INC-1"),
        (event("incident.acknowledged"), PN),
        (event("security_perimeter.established"), PN),
        (event("perimeter.violated"), Agency.SECURITE_PRIVEE),
        event("unit.status_changed", status="on_scene", incident="INC-1"),
        (event("incident.declined"), PN),
        (event("incident.assigned", assignee="police_municipale"), CELL),
        (event("security_perimeter.lifted"), PN),
        (event("incident.resolved"), PM),
        event("unit.checked_out"),
    )


def test_applying_the_same_record_twice_is_the_same_as_once() -> None:
    # given every prefix of a night, folded
    night = _night()
    for n in range(1, len(night) + 1):
        once = project(*night[:n])
        # when its last record is applied once more
        twice = fold(once, [night[n - 1]])
        # then nothing changes
        assert len(changes(once, twice)) == 0, night[n - 1].envelope.type
        assert twice == once


def test_folding_batch_by_batch_over_loaded_rows_equals_one_fold_from_scratch() -> None:
    # given a night cut into batches, each folded over only the rows its records touch
    # (what the store loads), with the written rows merged into a table-like state
    night = _night()
    table = Projection()
    for start in range(0, len(night), 3):
        batch = night[start : start + 3]
        keys = keys_of(batch)
        loaded = Projection.of(
            [
                *(r for k, r in table.units.items() if k in keys.units),
                *(r for k, r in table.incidents.items() if k in keys.incidents),
                *(r for k, r in table.perimeters.items() if k in keys.perimeters),
                *(
                    a
                    for a in table.assignments.values()
                    if (a.mode, a.operation, a.incident) in keys.incidents
                ),
            ]
        )
        written = changes(loaded, fold(loaded, batch))
        table = Projection.of(
            [
                *table.units.values(),
                *table.incidents.values(),
                *table.assignments.values(),
                *table.perimeters.values(),
                *table.rejections.values(),
                *written.units.values(),
                *written.incidents.values(),
                *written.assignments.values(),
                *written.perimeters.values(),
                *written.rejections.values(),
            ]
        )
    # when the same night is folded at once
    whole = project(*night)
    # then the tables are the same
    assert table == whole
