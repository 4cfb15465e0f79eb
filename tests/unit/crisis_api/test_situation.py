"""The situation at an instant: the records up to it, folded, as GeoJSON."""

from __future__ import annotations

from datetime import timedelta

from contracts.vocabulary import Agency, Mode
from services.crisis_api.situation import Basis, feature_collection, situation_of
from services.timeline.domain import TimelineRecord
from unit.timeline.builders import OPERATION, at, event, record

EVENING = [
    record(1, event("unit.checked_in", unit="PN-1"), unit="PN-1"),
    record(2, event("incident.reported", incident="INC-1"), Agency.POLICE_MUNICIPALE),
    record(
        3,
        event("incident.assigned", incident="INC-1", assignee="police_nationale"),
        Agency.CRISIS_CELL,
    ),
    record(4, event("security_perimeter.established", perimeter="PER-1"), Agency.CRISIS_CELL),
    record(5, event("drone.flight_started", flight="D-1")),
    record(6, event("incident.resolved", incident="INC-1"), Agency.POLICE_NATIONALE),
    record(7, event("security_perimeter.lifted", perimeter="PER-1"), Agency.CRISIS_CELL),
    record(8, event("drone.flight_ended", flight="D-1")),
]


def _kinds(records: list[TimelineRecord], minutes: float) -> dict[str, list[str]]:
    picture = situation_of(records, mode=Mode.LIVE, operation=OPERATION, at=at(minutes))
    found: dict[str, list[str]] = {}
    for feature in feature_collection(picture)["features"]:
        found.setdefault(feature["properties"]["kind"], []).append(feature["id"])
    return found


def test_the_situation_moves_with_the_instant() -> None:
    assert _kinds(EVENING, 0.5) == {}
    assert _kinds(EVENING, 1) == {"unit": ["unit:PN-1"]}
    at_five = _kinds(EVENING, 5)
    assert at_five["incident"] == ["incident:INC-1"]
    assert at_five["security_perimeter"] == ["perimeter:PER-1"]
    assert at_five["drone_flight"] == ["drone:D-1"]
    at_eight = _kinds(EVENING, 8)  # resolved, lifted, landed: history, not situation
    assert set(at_eight) == {"unit"}


def test_an_open_incident_carries_its_assignments() -> None:
    picture = situation_of(EVENING, mode=Mode.LIVE, operation=OPERATION, at=at(3))
    (incident,) = [
        f for f in feature_collection(picture)["features"] if f["properties"]["kind"] == "incident"
    ]
    assert incident["geometry"]["type"] == "Point"
    assert incident["properties"]["status"] == "assigned"
    assert [a["assignee"] for a in incident["properties"]["assignments"]] == ["police_nationale"]


def test_the_recorded_clock_tells_what_was_known() -> None:
    late = record(
        9,
        event("incident.reported", incident="INC-LATE"),
        Agency.POLICE_MUNICIPALE,
        time=at(2),
    )
    late = TimelineRecord(
        mode=late.mode,
        seq=late.seq,
        envelope=late.envelope.model_copy(update={"recordedtime": at(30)}),
        deliveries=late.deliveries,
    )
    occurred = situation_of([late], mode=Mode.LIVE, operation=OPERATION, at=at(10))
    known = situation_of(
        [late], mode=Mode.LIVE, operation=OPERATION, at=at(10), basis=Basis.RECORDED
    )
    assert len(occurred.projection.incidents) == 1
    assert len(known.projection.incidents) == 0


def test_other_operations_and_modes_are_left_out() -> None:
    other = record(1, event("unit.checked_in", unit="GN-1"), operation="autre-op")
    drill = record(2, event("unit.checked_in", unit="EX-1"), mode=Mode.EXERCISE)
    picture = situation_of(
        [other, drill], mode=Mode.LIVE, operation=OPERATION, at=at(10) + timedelta(hours=1)
    )
    assert picture.records == 0
    assert feature_collection(picture)["properties"]["records"] == 0
