"""Properties of the perimeter engine over generated proposals of every event type.

Half the generated proposals are clean (the right agency for the type, a position in its
sectors, one of its categories and units, a known incident, the charter's mode and operation,
a time in the night) so that enough are accepted for the properties of accepted events to
bite; in the other half any attribute may be spoiled: agency, credentials, subject, mode,
operation, time, position, sector, unit, authorisation, incident, category, CAP status, arms.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Any, cast

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from shapely.geometry import shape

from contracts import subjects
from contracts.charter import Actor, Charter
from contracts.envelope import Envelope
from contracts.events.base import EVENT_TYPE_PREFIX, EventPayload
from contracts.events.catalogue import EVENT_TYPES, Event
from contracts.events.exercise import ExerciseInjected
from contracts.events.incidents import (
    IncidentAcknowledged,
    IncidentAssigned,
    IncidentCorrected,
    IncidentDeclined,
    IncidentQualified,
    IncidentReported,
    IncidentResolved,
)
from contracts.events.private_security import SiteIncidentReported
from contracts.events.public_safety import CapStatus, PublicAlertIssued
from contracts.events.surveillance import (
    DroneFlightEnded,
    DroneFlightStarted,
    VideoAnalyticsAlerted,
    VideoExtractGranted,
    VideoExtractRequested,
)
from contracts.events.violations import PerimeterViolated
from contracts.geo import GeoPoint
from contracts.ids import IDENTIFIER_PATTERN, EventId, OperationId, SectorId, UnitId
from contracts.reasons import REASON_MESSAGES, ReasonCode
from contracts.vocabulary import (
    PRIVATE_ACTORS,
    Agency,
    Classification,
    IncidentCategory,
    Mode,
)
from services.coordinator.perimeter import (
    CompiledCharter,
    Decision,
    Delivery,
    IncidentState,
    Proposal,
    Situation,
    decide,
    record_of,
    render_delivery,
)

from .builders import (
    ANALYTICS_REF,
    DRONE_REF,
    EXTRACT_REF,
    OPERATION,
    POINTS,
    SECTORS,
    SHORT_TYPES,
    UNITS,
    at,
    defaults,
    exercise,
    live,
)

pytestmark = pytest.mark.unit

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INCIDENTS = ("INC-1", "INC-2", "INC-3")
ALL_UNITS = tuple(u for units in UNITS.values() for u in units)
EDGES_LON = (4.830, 4.834, 4.836, 4.840)
EDGES_LAT = (45.760, 45.762, 45.764, 45.766)

# --- strategies ----------------------------------------------------------------------------


def positions() -> SearchStrategy[GeoPoint]:
    """Points inside each sector, on their edges, around the map, anywhere on Earth."""
    return st.one_of(
        st.sampled_from(list(POINTS.values())),
        st.builds(GeoPoint, lon=st.sampled_from(EDGES_LON), lat=st.sampled_from(EDGES_LAT)),
        st.builds(
            GeoPoint,
            lon=st.floats(4.826, 4.844, allow_nan=False),
            lat=st.floats(45.757, 45.769, allow_nan=False),
        ),
        st.builds(
            GeoPoint,
            lon=st.floats(-180, 180, allow_nan=False),
            lat=st.floats(-90, 90, allow_nan=False),
        ),
    )


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=120
).filter(lambda s: bool(s.strip()))
_INCIDENT_IDS = st.sampled_from((*INCIDENTS, "INC-404")) | st.from_regex(
    IDENTIFIER_PATTERN, fullmatch=True
)
_REFERENCES = {
    DroneFlightStarted: DRONE_REF,
    DroneFlightEnded: DRONE_REF,
    VideoExtractRequested: EXTRACT_REF,
    VideoExtractGranted: EXTRACT_REF,
    VideoAnalyticsAlerted: ANALYTICS_REF,
}

#: Where the authorised means may be used (their authorisation's sectors).
_PLACES: dict[type[EventPayload], tuple[str, ...]] = {
    DroneFlightStarted: ("station", "police-zone"),
    DroneFlightEnded: ("station", "police-zone"),
    VideoExtractRequested: ("fest", "station", "police-zone"),
    VideoExtractGranted: ("fest", "station", "police-zone"),
    VideoAnalyticsAlerted: ("venue-gate",),
}


def _is_optional(cls: type[EventPayload], name: str) -> bool:
    return not cls.model_fields[name].is_required()


def _is_incident_category(cls: type[EventPayload], name: str) -> bool:
    annotation = cls.model_fields[name].annotation
    return annotation is IncidentCategory or IncidentCategory in typing.get_args(annotation)


def _square(center: GeoPoint) -> dict[str, Any]:
    lon = min(max(center.lon, -179.0), 179.0)
    lat = min(max(center.lat, -89.0), 89.0)
    ring = [[lon - 0.001, lat - 0.001], [lon + 0.001, lat - 0.001], [lon + 0.001, lat + 0.001]]
    return {"type": "Polygon", "coordinates": [[*ring, [lon - 0.001, lat + 0.001], ring[0]]]}


class Scenario:
    """A charter, what the coordinator knows, and one proposal."""

    def __init__(self, compiled: CompiledCharter, situation: Situation, proposal: Proposal):
        self.compiled = compiled
        self.situation = situation
        self.proposal = proposal

    def decide(self) -> Decision:
        return decide(self.proposal, self.compiled, self.situation)

    def __repr__(self) -> str:
        p = self.proposal
        return (
            f"Scenario({self.compiled.charter.operation.mode.value} charter, "
            f"incidents={dict(self.situation.incidents)!r}, subject={p.subject!r}, "
            f"credentials={p.credentials_agency!r}, received_at={p.received_at.isoformat()}, "
            f"envelope={p.envelope.model_dump_json(exclude_none=True)})"
        )


@st.composite
def situations(draw: st.DrawFn, assignees: SearchStrategy[Agency | None]) -> Situation:
    """Zero to three known incidents, anywhere on the map, assigned or not."""
    known: dict[str, IncidentState] = {}
    for incident in INCIDENTS:
        if draw(st.booleans()):
            known[incident] = IncidentState(
                category=draw(st.sampled_from(IncidentCategory)),
                position=draw(st.sampled_from(list(POINTS.values()))),
                armed_threat=draw(st.booleans()),
                reporter=draw(st.sampled_from(Agency)),
                assignee=draw(assignees),
                resolved=draw(st.booleans()),
            )
    return Situation(MappingProxyType(known))


class _Draw:
    """Draws values the well-behaved way when `clean`, else anything from a wider pool."""

    def __init__(self, draw: st.DrawFn, clean: bool) -> None:
        self.draw = draw
        self.clean = clean

    def __call__(self, good: SearchStrategy[Any], bad: SearchStrategy[Any]) -> Any:
        if self.clean or self.draw(st.booleans()):
            return self.draw(good)
        return self.draw(bad)


@dataclass(frozen=True)
class _Context:
    """What a payload is drawn for: the charter, the proposer, the known incidents, the mode."""

    charter: Charter
    agency: Agency
    situation: Situation
    mode: Mode

    @property
    def actor(self) -> Actor | None:
        return self.charter.actor(self.agency)


def _maybe_none(cls: type[EventPayload], name: str, strategy: SearchStrategy[Any]) -> Any:
    return st.none() | strategy if _is_optional(cls, name) else strategy


def _place(pick: _Draw, cls: type[EventPayload], ctx: _Context) -> dict[str, Any]:
    """Position (in the proposer's sectors when clean) and area."""
    if "position" not in cls.model_fields:
        return {}
    actor = ctx.actor
    mine = [s for s in actor.sectors if s in _PLACES.get(cls, SECTORS)] if actor else []
    good = st.sampled_from([POINTS[s] for s in mine] or [POINTS["fest"]])
    position: GeoPoint | None = pick(good, positions())
    if _is_optional(cls, "position") and pick.draw(st.integers(0, 5)) == 0:
        position = None
    out: dict[str, Any] = {"position": position}
    if "area" in cls.model_fields:
        out["area"] = _square(position or POINTS["fest"])
    return out


def _incident_fields(pick: _Draw, cls: type[EventPayload], ctx: _Context) -> dict[str, Any]:
    """Incident, category, arms and assignee: the proposer's own categories and a known
    incident when clean, an assignee that handles the incident's category."""
    fields = cls.model_fields
    out: dict[str, Any] = {}
    actor = ctx.actor
    if "category" in fields and _is_incident_category(cls, "category"):
        allowed = [] if actor is None else list(actor.competences.incident_categories)
        if actor is not None and cls in (IncidentReported, SiteIncidentReported):
            allowed += actor.competences.witness_categories
        good = st.sampled_from(allowed) if allowed else st.sampled_from(IncidentCategory)
        bad = _maybe_none(cls, "category", st.sampled_from(IncidentCategory))
        out["category"] = pick(good, bad)
    if "armed_threat" in fields:
        out["armed_threat"] = pick.draw(st.booleans())
    if "incident" in fields:
        known = sorted(ctx.situation.incidents)
        good = st.sampled_from(known) if known else _INCIDENT_IDS
        out["incident"] = pick(good, _maybe_none(cls, "incident", _INCIDENT_IDS))
    if "assignee" in fields:
        state = ctx.situation.incidents.get(out.get("incident") or "")
        handlers = [
            a.agency
            for a in ctx.charter.actors
            if state is not None and state.category in a.competences.incident_categories
        ]
        out["assignee"] = pick(st.sampled_from(handlers or list(Agency)), st.sampled_from(Agency))
    if "assignee_unit" in fields:
        out["assignee_unit"] = pick(st.none(), st.sampled_from((*ALL_UNITS, "GHOST-1")))
    return out


def _means_fields(pick: _Draw, cls: type[EventPayload], ctx: _Context) -> dict[str, Any]:
    """Units and arms, authorisations, CAP status, inject target."""
    fields = cls.model_fields
    out: dict[str, Any] = {}
    if "unit" in fields:
        own = UNITS.get(ctx.agency, ())
        good = st.sampled_from(own) if own else st.sampled_from(ALL_UNITS)
        bad = _maybe_none(cls, "unit", st.sampled_from((*ALL_UNITS, "GHOST-1")))
        out["unit"] = pick(good, bad)
    if "armed" in fields:
        out["armed"] = pick(st.just(False), st.booleans())
    if "authorisation" in fields:
        any_ref = st.sampled_from((DRONE_REF, EXTRACT_REF, ANALYTICS_REF, "AP-INCONNU")) | _TEXT
        out["authorisation"] = pick(st.just(_REFERENCES[cls]), any_ref)
    if "max_altitude_m" in fields:
        out["max_altitude_m"] = pick(st.integers(1, 100), st.integers(1, 120))
    if cls is PublicAlertIssued:
        matching = CapStatus.EXERCISE if ctx.mode is Mode.EXERCISE else CapStatus.ACTUAL
        out["status"] = pick(st.just(matching), st.sampled_from(CapStatus))
    if "target" in fields:
        out["target"] = pick.draw(st.sampled_from(Agency))
    return out


def _payload(pick: _Draw, cls: type[EventPayload], ctx: _Context) -> EventPayload:
    """A payload of `cls` whose perimeter-relevant fields are drawn through `pick`."""
    draw = pick.draw
    fields = cls.model_fields
    out = {
        **_place(pick, cls, ctx),
        **_incident_fields(pick, cls, ctx),
        **_means_fields(pick, cls, ctx),
    }
    if "case_notes" in fields:
        out["case_notes"] = draw(st.none() | _TEXT)
    if "description" in fields:
        out["description"] = draw(st.sampled_from(["", "Deux personnes en conflit"]))
    if "people_involved" in fields:
        out["people_involved"] = draw(st.none() | st.integers(0, 50))
    short = fields["type"].default.removeprefix(EVENT_TYPE_PREFIX)
    position = out.get("position")
    document = {**defaults(short, position or POINTS["fest"]), **out}
    if "position" in fields and position is None:
        document.pop("position")
    return cls.model_validate(document)


@st.composite
def scenarios(
    draw: st.DrawFn, charters: tuple[Callable[[], CompiledCharter], ...] = (live, exercise)
) -> Scenario:
    """A proposal of any type against a charter: half of them clean (each attribute drawn
    the well-behaved way), the others with any attribute possibly spoiled."""
    compiled = draw(st.sampled_from(charters))()
    charter = compiled.charter
    pick = _Draw(draw, clean=draw(st.booleans()))
    short = draw(st.sampled_from(SHORT_TYPES))
    event_type = EVENT_TYPE_PREFIX + short
    cls = EVENT_TYPES[event_type]

    able = [a.agency for a in charter.actors if event_type in a.competences.events]
    agency: Agency = pick(st.sampled_from(able or list(Agency)), st.sampled_from(Agency))
    # Known incidents, assigned to the proposer when clean (so that it may acknowledge).
    anyone = st.none() | st.sampled_from(Agency)
    situation = draw(situations(st.just(agency) if pick.clean else anyone))
    mode: Mode = pick(st.just(charter.operation.mode), st.sampled_from(Mode))
    data = _payload(pick, cls, _Context(charter, agency, situation, mode))
    actor = charter.actor(agency)

    # In the night (between 20:00 and 01:00 when clean: every window is open), or any time.
    minutes = pick(st.integers(120, 419), st.integers(-180, 900))
    time = at(18) + timedelta(minutes=minutes, seconds=draw(st.integers(0, 59)))
    operation: str = pick(st.just(OPERATION), st.just("other-op"))
    data_unit = getattr(data, "unit", None)
    unit: str | None = pick(
        st.just(data_unit) if data_unit is not None else st.none(),
        st.none() | st.sampled_from((*ALL_UNITS, "GHOST-1")),
    )
    own_sectors = list(actor.sectors) if actor is not None else []
    sector: str | None = pick(st.none(), st.sampled_from([*own_sectors, *SECTORS, "nowhere"]))
    envelope = Envelope(
        id=EventId(draw(st.uuids()).hex),
        source=f"/interforces/{agency.value}",
        type=event_type,
        time=time,
        operation=OperationId(operation),
        mode=mode,
        agency=agency,
        unit=UnitId(unit) if unit is not None else None,
        sector=SectorId(sector) if sector is not None else None,
        classification=draw(st.sampled_from(Classification)),
        data=cast("Event", data),
    )

    own_subject = subjects.proposal(mode, operation, agency, event_type)
    other_subjects = st.sampled_from(
        [
            subjects.proposal(mode, operation, draw(st.sampled_from(Agency)), event_type),
            subjects.proposal(draw(st.sampled_from(Mode)), operation, agency, event_type),
            subjects.proposal(mode, "other-op", agency, event_type),
            subjects.proposal(
                mode, operation, agency, EVENT_TYPE_PREFIX + draw(st.sampled_from(SHORT_TYPES))
            ),
            "not.a.proposal.subject",
            "ifc.live.doctrine-test.proposal.police_nationale.a b.c",
        ]
    )
    subject: str = pick(st.just(own_subject), other_subjects)
    credentials: Agency | None = pick(st.just(agency), st.none() | st.sampled_from(Agency))
    skew = pick(st.integers(-60, 3600), st.integers(-7200, 7200))
    proposal = Proposal(envelope, subject, credentials, time + timedelta(seconds=skew))
    return Scenario(compiled, situation, proposal)


# --- oracles -------------------------------------------------------------------------------

_INCIDENT_FLOW = (
    IncidentAssigned,
    IncidentAcknowledged,
    IncidentDeclined,
    IncidentQualified,
    IncidentResolved,
    IncidentCorrected,
)


def _where(envelope: Envelope, situation: Situation) -> GeoPoint | None:
    """Where an event happens: its position, or for the handling of an incident without a
    position of its own, where the incident is."""
    data = envelope.data
    position = getattr(data, "position", None)
    if isinstance(position, GeoPoint):
        return position
    if isinstance(data, _INCIDENT_FLOW):
        known = situation.incidents.get(data.incident)
        return known.position if known is not None else None
    return None


def _own(
    compiled: CompiledCharter, agency: Agency, envelope: Envelope, where: GeoPoint | None
) -> bool:
    """Whether an event lies in a recipient's sectors, computed from the charter itself."""
    actor = compiled.charter.actor(agency)
    assert actor is not None
    if envelope.sector is not None and envelope.sector in actor.sectors:
        return True
    if where is None:
        return False
    point = shapely.Point(where.lon, where.lat)
    geometries = {s.id: shape(s.geometry.model_dump()) for s in compiled.charter.sectors}
    return any(geometries[s].intersects(point) for s in actor.sectors)


def expected_recipients(
    envelope: Envelope, compiled: CompiledCharter, situation: Situation
) -> dict[Agency, Delivery]:
    """Who the doctrine and the charter entitle to an accepted event, in which form."""
    charter = compiled.charter
    data = envelope.data
    out = {Agency.CRISIS_CELL: Delivery(Agency.CRISIS_CELL)}
    out[envelope.agency] = Delivery(envelope.agency)
    if charter.operation.mode is Mode.EXERCISE and charter.actor(Agency.EXERCISE_CONTROL):
        out[Agency.EXERCISE_CONTROL] = Delivery(Agency.EXERCISE_CONTROL)
    if type(data).TRAITS.restricted_audience:
        return out
    if isinstance(data, ExerciseInjected) and charter.actor(data.target) is not None:
        out.setdefault(data.target, Delivery(data.target))
    public_alert = envelope.type.startswith("fr.interforces.public_alert.")
    where = _where(envelope, situation)
    for actor in charter.actors:
        agency = actor.agency
        if agency in out:
            continue
        rule = next(
            (
                r
                for r in charter.distribution
                if agency in r.recipients and any(fnmatchcase(envelope.type, t) for t in r.types)
            ),
            None,
        )
        if rule is None:
            continue
        own = _own(compiled, agency, envelope, where)
        if rule.scope == "own_sectors" and not own:
            continue
        private = agency in PRIVATE_ACTORS and not public_alert
        classification = envelope.classification.stricter(type(data).TRAITS.classification)
        if private and (not own or classification is Classification.RESTRICTED):
            continue
        # The delivery names only what this type carries and loses.
        fields = type(data).model_fields
        remove = tuple(name for name in rule.remove if name in fields)
        coarsen = tuple((c.field, c.decimals) for c in rule.coarsen if c.field in fields)
        out[agency] = Delivery(agency, remove, coarsen)
    return out


# --- properties ----------------------------------------------------------------------------


@PROPERTY
@given(scenarios())
def test_decide_is_total_and_every_record_is_a_catalogue_event(scenario: Scenario) -> None:
    """Whatever is proposed, deciding does not raise, is deterministic, and the record and
    every recipient's copy are valid events of the catalogue."""
    decision = scenario.decide()
    assert decision.accepted is (not decision.reasons)
    again = scenario.decide()
    assert (again.reasons, again.deliveries, again.withheld) == (
        decision.reasons,
        decision.deliveries,
        decision.withheld,
    )
    record = record_of(decision)
    assert Envelope.model_validate(record.model_dump()) == record
    for delivery in decision.deliveries:
        copy = render_delivery(record, delivery)
        assert Envelope.model_validate(copy.model_dump()) == copy


@PROPERTY
@given(scenarios())
def test_a_refusal_states_every_reason_in_the_operators_words(scenario: Scenario) -> None:
    decision = scenario.decide()
    if decision.accepted:
        return
    assert len(decision.reasons) >= 1
    for reason in decision.reasons:
        assert reason.message.startswith(REASON_MESSAGES[reason.code])
    record = record_of(decision)
    assert isinstance(record.data, PerimeterViolated)
    assert record.data.reasons == decision.reasons
    publisher = scenario.proposal.credentials_agency
    expected = {Agency.CRISIS_CELL} | ({publisher} if publisher is not None else set())
    assert set(decision.recipients) == expected
    assert len(decision.recipients) == len(expected)
    assert all(d.remove == () and d.coarsen == () for d in decision.deliveries)


@PROPERTY
@given(scenarios())
def test_every_recipient_of_an_accepted_event_is_entitled(scenario: Scenario) -> None:
    """The crisis cell, the proposer, exercise control in exercises, an inject's target, and
    the actors a distribution rule names (scope honoured, private security only for its own
    sectors or public alerts, restricted types to nobody else), each in the rule's form."""
    decision = scenario.decide()
    if not decision.accepted:
        return
    envelope = scenario.proposal.envelope
    expected = expected_recipients(envelope, scenario.compiled, scenario.situation)
    actual = {d.recipient: d for d in decision.deliveries}
    assert len(actual) == len(decision.deliveries), "a recipient is listed twice"
    missing = {a: d for a, d in expected.items() if actual.get(a) != d}
    assert missing == {}, "an entitled recipient is missing or gets another form"
    extra = set(actual) - set(expected)
    data = envelope.data
    # Only tolerated extra: the assignee of an assignment, in full (it must act on it).
    assert all(getattr(data, "assignee", None) is a for a in extra), extra


@PROPERTY
@given(scenarios())
def test_a_recipient_never_gets_more_than_its_rule_allows(scenario: Scenario) -> None:
    """Removed fields reach nobody (reset to their default), coarsened positions are rounded,
    nothing else changes, and holder-only fields are in neither the record nor any copy."""
    decision = scenario.decide()
    if not decision.accepted:
        return
    record = record_of(decision)
    cls = type(record.data)
    fields = cls.model_fields
    for name in cls.holder_only_fields():
        assert getattr(record.data, name) is None
    for delivery in decision.deliveries:
        copy = render_delivery(record, delivery)
        assert copy.model_dump(exclude={"data"}) == record.model_dump(exclude={"data"})
        touched = set(delivery.remove) | {f for f, _ in delivery.coarsen}
        for name in fields:
            got, had = getattr(copy.data, name), getattr(record.data, name)
            if name in cls.holder_only_fields():
                assert got is None
            if name in delivery.remove:
                assert got == fields[name].get_default(call_default_factory=True)
            elif name in touched and isinstance(had, GeoPoint):
                decimals = dict(delivery.coarsen)[name]
                assert isinstance(got, GeoPoint)
                assert (got.lon, got.lat) == (round(had.lon, decimals), round(had.lat, decimals))
            else:
                assert got == had, name


@PROPERTY
@given(scenarios())
def test_exercise_and_live_never_cross(scenario: Scenario) -> None:
    """A charter accepts no proposal of the other mode or another operation, and everything
    an accepted proposal produces stays in the charter's mode and operation."""
    decision = scenario.decide()
    operation = scenario.compiled.charter.operation
    envelope = scenario.proposal.envelope
    if envelope.mode is not operation.mode:
        assert ReasonCode.MODE_MISMATCH in decision.codes
    if envelope.operation != operation.id:
        assert ReasonCode.WRONG_OPERATION in decision.codes
    if type(envelope.data).TRAITS.exercise_only and operation.mode is Mode.LIVE:
        assert not decision.accepted
    if not decision.accepted:
        return
    assert (envelope.mode, envelope.operation) == (operation.mode, operation.id)
    assert subjects.parse_proposal(scenario.proposal.subject).mode is operation.mode
    record = record_of(decision)
    for delivery in decision.deliveries:
        copy = render_delivery(record, delivery)
        assert (copy.mode, copy.operation) == (operation.mode, operation.id)
    assert (Agency.EXERCISE_CONTROL in decision.recipients) is (operation.mode is Mode.EXERCISE)


def test_the_generator_accepts_a_fair_share() -> None:
    """A fixed sample of the generator must have accepted proposals of many types, in both
    modes: otherwise the properties above would hold vacuously."""
    accepted: set[tuple[str, Mode]] = set()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(scenarios())
    def sample(scenario: Scenario) -> None:
        decision = scenario.decide()
        if decision.accepted:
            accepted.add(
                (scenario.proposal.envelope.type, scenario.compiled.charter.operation.mode)
            )

    sample()
    assert len({t for t, _ in accepted}) >= 18, sorted(accepted)
    assert {m for _, m in accepted} == {Mode.LIVE, Mode.EXERCISE}
