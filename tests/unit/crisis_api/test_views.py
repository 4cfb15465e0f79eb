"""An agency sees exactly what its feed received; the crisis cell sees the record."""

from __future__ import annotations

from contracts.events.incidents import IncidentReported
from contracts.geo import GeoPoint
from contracts.routing import RecordDelivery
from contracts.vocabulary import Agency, Mode
from services.crisis_api.auth import Principal, Role
from services.crisis_api.views import delivered_filter, visible
from services.timeline.domain import TimelineRecord
from unit.timeline.builders import FEST, event, record

CRISIS = Principal(name="cic", role=Role.CRISIS_CELL)
PRIVATE = Principal(name="sp", role=Role.AGENCY, agency=Agency.SECURITE_PRIVEE)
MEDIATION = Principal(name="med", role=Role.AGENCY, agency=Agency.MEDIATION)
TRAINER = Principal(name="t", role=Role.TRAINER)

DELIVERIES = (
    RecordDelivery(to=Agency.CRISIS_CELL),
    RecordDelivery(to=Agency.SECURITE_PRIVEE, remove=("description",), coarsen=(("position", 2),)),
)


def _reported() -> TimelineRecord:
    return record(
        1,
        event("incident.reported", description="homme blessé au couteau, rue Mercière"),
        deliveries=DELIVERIES,
    )


def test_the_crisis_cell_sees_the_record_itself() -> None:
    rec = _reported()
    assert visible(CRISIS, rec) is rec


def test_an_agency_sees_its_feed_copy_with_the_same_redaction() -> None:
    seen = visible(PRIVATE, _reported())
    assert seen is not None
    data = seen.envelope.data
    assert isinstance(data, IncidentReported)
    assert not data.description
    assert data.position == GeoPoint(lon=round(FEST["lon"], 2), lat=round(FEST["lat"], 2))


def test_an_agency_not_among_the_recipients_sees_nothing() -> None:
    assert visible(MEDIATION, _reported()) is None
    no_routing = record(1, event("incident.reported"), deliveries=None)
    assert visible(PRIVATE, no_routing) is None


def test_a_trainer_sees_exercises_only() -> None:
    live = record(1, event("incident.reported"))
    drill = record(2, event("incident.reported"), mode=Mode.EXERCISE)
    assert visible(TRAINER, live) is None
    assert visible(TRAINER, drill) is drill


def test_the_sql_filter_names_the_agency_only_for_agencies() -> None:
    assert delivered_filter(CRISIS) is None
    assert delivered_filter(PRIVATE) == '[{"to": "securite_privee"}]'
