"""Hypothesis strategies for the contracts: valid events of every type, and their envelopes.

Import them as `from strategies import envelopes, events` (the `tests` directory is the
import base of the test suite).

Every value drawn is one the models accept: events are built by `model_validate`, so what a
test receives is exactly what a service would hold after decoding. Everything the perimeter
looks at can be pinned or drawn from the caller's own strategy:

    envelopes(mode=Mode.LIVE, operation="fete-2025", agency=Agency.POLICE_MUNICIPALE,
              types=["incident.reported"], positions=points_in_sector, times=during_window)

where `points_in_sector` and `during_window` are the caller's own strategies (`geo_points`
over a sector's bounding box, `aware_datetimes` between the window's bounds, filtered).

A parameter takes a fixed value, a strategy, or `None` for the default strategy. For an
optional envelope attribute (`unit`, `sector`, `subject`, `recordedtime`, `sequence`) the
default draws it present or absent; pass `st.none()` to force it absent.

By default the drawn data is *coherent* with itself, as a well-behaved service would send it:
the envelope's `type` and default classification follow the event, the payload's unit is the
envelope's unit, a public alert's CAP status matches the mode, exercise-only types only
appear in exercises (unless asked for by name), dates inside a payload precede the envelope's
`time`, `recordedtime` follows it. Pass `coherent=False` to drop those ties.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, TypeAlias, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from contracts.envelope import Envelope
from contracts.events.base import EVENT_TYPE_PREFIX, EventPayload
from contracts.events.catalogue import EVENT_CLASSES, EVENT_TYPES
from contracts.events.exercise import ExerciseInjected
from contracts.events.identity_checks import (
    IdentityCheckRecorded,
    LegalBasis,
    RecepisseIssued,
)
from contracts.events.incidents import (
    IncidentAcknowledged,
    IncidentAssigned,
    IncidentCorrected,
    IncidentDeclined,
    IncidentQualified,
    IncidentReported,
    IncidentResolved,
)
from contracts.events.mediation import (
    HelpRequested,
    HelpSituation,
    MediationClosed,
    MediationStarted,
    MediationTopic,
)
from contracts.events.private_security import EntranceScreeningReported, SiteIncidentReported
from contracts.events.public_safety import (
    CapCategory,
    CapCertainty,
    CapMsgType,
    CapScope,
    CapSeverity,
    CapStatus,
    CapUrgency,
    CrisisCellDecisionLogged,
    CrowdDensityReported,
    DensityTrend,
    EvacuationOrdered,
    PublicAlertIssued,
    SecurityPerimeterEstablished,
    SecurityPerimeterLifted,
)
from contracts.events.surveillance import (
    DroneFlightEnded,
    DroneFlightStarted,
    VideoAnalyticsAlerted,
    VideoExtractGranted,
    VideoExtractRequested,
)
from contracts.events.units import (
    UnitCheckedIn,
    UnitCheckedOut,
    UnitPositionReported,
    UnitStatusChanged,
)
from contracts.events.violations import PerimeterViolated
from contracts.geo import GeoPoint
from contracts.reasons import REASON_MESSAGES, ReasonCode
from contracts.vocabulary import (
    Agency,
    Classification,
    IncidentCategory,
    Mode,
    Severity,
    UnitStatus,
)

T = TypeVar("T")
#: A fixed value or a strategy of values.
Given: TypeAlias = T | SearchStrategy[T]
#: An event type: full (`fr.interforces.incident.reported`), short, or its class.
EventKind: TypeAlias = str | type[EventPayload]

#: Event types an agency may propose at all (not coordinator-only, shareable).
PROPOSABLE_TYPES: tuple[str, ...] = tuple(
    t for t, cls in EVENT_TYPES.items() if cls.TRAITS.shareable and not cls.TRAITS.coordinator_only
)


def as_strategy(value: Given[T] | None, default: SearchStrategy[T]) -> SearchStrategy[T]:
    """The strategy a parameter stands for: `default` for None, `just` for a fixed value."""
    if value is None:
        return default
    if isinstance(value, SearchStrategy):
        return value
    return st.just(value)


def type_of(event: EventPayload) -> str:
    """The CloudEvents `type` of a payload (every payload class sets it as a Literal)."""
    return str(type(event).model_fields["type"].default)


def event_classes(types: Iterable[EventKind] | None = None) -> tuple[type[EventPayload], ...]:
    """The classes of some event types (every class when `types` is None)."""
    if types is None:
        return EVENT_CLASSES
    classes: list[type[EventPayload]] = []
    for kind in types:
        if isinstance(kind, type):
            cls: type[EventPayload] | None = kind if kind in EVENT_CLASSES else None
        else:
            full = kind if kind.startswith(EVENT_TYPE_PREFIX) else EVENT_TYPE_PREFIX + kind
            cls = EVENT_TYPES.get(full)
        if cls is None:
            raise ValueError(f"{kind!r} is not an event type of the catalogue")
        if cls not in classes:
            classes.append(cls)
    if not classes:
        raise ValueError("no event type to draw from")
    return tuple(classes)


# Text. Each strategy mixes values chosen to break codecs (quotes, percent signs, spaces,
# non-Latin scripts, zero-width and combining characters) with arbitrary ones.

_C0_AND_DEL = [chr(c) for c in range(0x20)] + ["\x7f"]
#: One line: no C0 control character nor DEL (C1 controls are allowed by the contracts).
ONE_LINE_CHARACTERS = st.characters(codec="utf-8", exclude_characters=_C0_AND_DEL)
#: Free text: as one line, plus tab, line feed and carriage return.
FREE_TEXT_CHARACTERS = st.characters(
    codec="utf-8", exclude_characters=[c for c in _C0_AND_DEL if c not in "\t\n\r"]
)
TRICKY_TEXTS = (
    'il a dit "stop"',
    "l'arrêt de bus",
    "100 % sûr",
    "%25 %zz % %C3%A9",
    "deux  espaces",
    "Fête de la musique – « quai Saint-Antoine »",
    "🚨 alerte 🚒",
    "مرحبا بكم",
    "東京駅",
    "e\u0301te\u0301",
    "zero\u200bwidth",
    "back\\slash \\u0000",
    "{json: [1, 2]}",
    "ifc.live.*.>",
    "<script>alert(1)</script>",
    "\u202eRTL override",
    "nel\x85inside",
)


def short_texts(max_size: int = 40) -> SearchStrategy[str]:
    """`ShortText`: one line, 1–200 characters, no surrounding whitespace."""
    return st.one_of(
        st.sampled_from(TRICKY_TEXTS),
        st.text(ONE_LINE_CHARACTERS, min_size=1, max_size=max_size).map(str.strip).filter(bool),
    )


def free_texts(min_size: int = 0, max_size: int = 80) -> SearchStrategy[str]:
    """`FreeText`: several lines allowed, no other control character."""
    tricky = [t for t in (*TRICKY_TEXTS, "ligne 1\nligne 2\r\n\tindentée") if len(t) >= min_size]
    return st.one_of(
        st.sampled_from(tricky),
        st.text(FREE_TEXT_CHARACTERS, min_size=min_size, max_size=max_size),
    )


def references() -> SearchStrategy[str]:
    """`Reference`: an order, authorisation or file reference (one line, not stripped)."""
    return st.one_of(
        st.sampled_from(("AP-2025-06-21-001", "arrêté n° 2025/142", " espace autour ")),
        st.text(ONE_LINE_CHARACTERS, min_size=1, max_size=40),
    )


# Identifiers.


def operation_ids() -> SearchStrategy[str]:
    """Operation ids: subject tokens."""
    return st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)


def identifiers() -> SearchStrategy[str]:
    """Unit call signs, sector codes, incident ids (`IDENTIFIER_PATTERN`)."""
    return st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,23}", fullmatch=True)


def event_ids() -> SearchStrategy[str]:
    """CloudEvents ids: UUIDs, or any printable ASCII without space (`%` and `"` included)."""
    printable = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
    return st.one_of(st.uuids().map(str), st.text(printable, min_size=1, max_size=40))


_UNRESERVED = string.ascii_letters + string.digits + "-._~"
_PCHAR = st.one_of(
    st.sampled_from(_UNRESERVED + "!$&'()*+,;=:@"),
    st.integers(0, 255).map(lambda b: f"%{b:02X}"),
)
_SEGMENT = st.lists(_PCHAR, max_size=8).map("".join)
_SEGMENT_NZ = st.lists(_PCHAR, min_size=1, max_size=8).map("".join)


def sources() -> SearchStrategy[str]:
    """CloudEvents sources that are URI-references (RFC 3986), percent-escapes included."""
    absolute_path = st.builds(
        lambda first, rest: "/" + "/".join([first, *rest]),
        _SEGMENT_NZ,
        st.lists(_SEGMENT, max_size=3),
    )
    with_suffix = st.builds(
        lambda path, query, fragment: path + query + fragment,
        absolute_path,
        st.one_of(st.just(""), _SEGMENT.map(lambda q: "?" + q)),
        st.one_of(st.just(""), _SEGMENT.map(lambda f: "#" + f)),
    )
    known = st.sampled_from(
        (
            "/police_municipale/units/PM-12",
            "https://interforces.example/agencies/gendarmerie",
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            "mailto:cellule-crise@example.org",
            "/mediation/%C3%A9quipe",
            "/coordinator?op=fete%202025#live",
        )
    )
    return st.one_of(known, with_suffix.filter(lambda s: len(s) <= 256))


def subjects() -> SearchStrategy[str]:
    """CloudEvents subjects: non-empty, any character but C0 controls and DEL."""
    return st.one_of(
        st.sampled_from(TRICKY_TEXTS),
        st.text(ONE_LINE_CHARACTERS, min_size=1, max_size=60),
    )


# Time and space.


def fixed_offsets() -> SearchStrategy[timezone]:
    """Time zones as RFC 3339 can write them: whole minutes within ±23:59."""
    return st.one_of(
        st.sampled_from((UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5)))),
        st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m))),
    )


def aware_datetimes(
    min_value: datetime = datetime(2000, 1, 1),
    max_value: datetime = datetime(2099, 12, 31),
) -> SearchStrategy[datetime]:
    """Aware datetimes with a whole-minute offset (bounds are local wall-clock times)."""
    return st.datetimes(min_value=min_value, max_value=max_value, timezones=fixed_offsets())


def geo_points(
    west: float = -180.0, south: float = -90.0, east: float = 180.0, north: float = 90.0
) -> SearchStrategy[GeoPoint]:
    """Points inside a bounding box (the whole Earth by default, its edges included)."""
    return st.builds(
        GeoPoint,
        lon=st.floats(west, east, allow_nan=False, allow_infinity=False),
        lat=st.floats(south, north, allow_nan=False, allow_infinity=False),
    )


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def square_around(point: GeoPoint, half_side: float) -> list[list[float]]:
    """A closed ring: the square of `half_side` degrees around `point`, clamped to the Earth."""
    west, east = (_clamp(point.lon + d, -180.0, 180.0) for d in (-half_side, half_side))
    south, north = (_clamp(point.lat + d, -90.0, 90.0) for d in (-half_side, half_side))
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def areas_around(point: GeoPoint) -> SearchStrategy[dict[str, Any]]:
    """GeoJSON Polygons or MultiPolygons containing `point` (as event payloads carry them)."""
    half_sides = st.floats(1e-4, 0.05, allow_nan=False)
    polygon = half_sides.map(
        lambda h: {"type": "Polygon", "coordinates": [square_around(point, h)]}
    )
    multi = st.lists(half_sides, min_size=1, max_size=3).map(
        lambda hs: {"type": "MultiPolygon", "coordinates": [[square_around(point, h)] for h in hs]}
    )
    return st.one_of(polygon, multi)


# Events.


@dataclass(frozen=True, slots=True)
class Scene:
    """What one event is drawn around: its mode, when and where it happens, who and what."""

    mode: Mode
    time: datetime
    position: GeoPoint
    unit: str
    incident: str
    coherent: bool


Builder: TypeAlias = Callable[[st.DrawFn, Scene], dict[str, Any]]
_BUILDERS: dict[type[EventPayload], Builder] = {}


def _builds(cls: type[EventPayload]) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        _BUILDERS[cls] = builder
        return builder

    return register


def _maybe(draw: st.DrawFn, strategy: SearchStrategy[Any]) -> Any:
    """A value, or None (the field's default, for optional fields)."""
    return draw(st.one_of(st.none(), strategy))


def _point(scene: Scene) -> dict[str, float]:
    return scene.position.model_dump()


def _enum(values: Iterable[T]) -> SearchStrategy[T]:
    return st.sampled_from(list(values))


def _counts(high: int) -> SearchStrategy[int]:
    return st.integers(0, high)


def _before(draw: st.DrawFn, scene: Scene) -> tuple[datetime, datetime]:
    """A period ending at the scene's time (or anywhere, when not coherent)."""
    end = scene.time if scene.coherent else draw(aware_datetimes())
    start = end - timedelta(minutes=draw(st.integers(1, 24 * 60)))
    return start, end


@_builds(UnitCheckedIn)
def _unit_checked_in(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "unit": scene.unit,
        "position": _point(scene),
        "personnel": draw(st.integers(1, 500)),
        "vehicles": draw(st.integers(0, 100)),
        "armed": draw(st.booleans()),
    }


@_builds(UnitCheckedOut)
def _unit_checked_out(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "unit": scene.unit,
        "position": _maybe(draw, st.just(_point(scene))),
        "reason": _maybe(draw, short_texts()),
    }


@_builds(UnitStatusChanged)
def _unit_status_changed(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "unit": scene.unit,
        "status": draw(_enum(UnitStatus)),
        "position": _maybe(draw, st.just(_point(scene))),
        "incident": _maybe(draw, st.just(scene.incident)),
    }


@_builds(UnitPositionReported)
def _unit_position_reported(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "unit": scene.unit,
        "position": _point(scene),
        "heading": _maybe(draw, st.floats(0, 360, exclude_max=True, allow_nan=False)),
        "speed_kmh": _maybe(draw, st.floats(0, 300, allow_nan=False)),
    }


@_builds(IncidentReported)
def _incident_reported(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "incident": scene.incident,
        "category": draw(_enum(IncidentCategory)),
        "severity": draw(_enum(Severity)),
        "position": _point(scene),
        "armed_threat": draw(st.booleans()),
        "people_involved": _maybe(draw, _counts(100_000)),
        "description": draw(free_texts()),
    }


@_builds(IncidentQualified)
def _incident_qualified(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "incident": scene.incident,
        "category": draw(_enum(IncidentCategory)),
        "severity": draw(_enum(Severity)),
        "armed_threat": draw(st.booleans()),
        "people_involved": _maybe(draw, _counts(100_000)),
    }


@_builds(IncidentAssigned)
def _incident_assigned(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "incident": scene.incident,
        "assignee": draw(_enum(Agency)),
        "assignee_unit": _maybe(draw, identifiers()),
        "instructions": draw(free_texts()),
    }


@_builds(IncidentAcknowledged)
def _incident_acknowledged(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {"incident": scene.incident, "eta_minutes": _maybe(draw, _counts(600))}


@_builds(IncidentDeclined)
def _incident_declined(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {"incident": scene.incident, "reason": draw(short_texts())}


@_builds(IncidentResolved)
def _incident_resolved(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "incident": scene.incident,
        "outcome": draw(short_texts()),
        "people_assisted": _maybe(draw, _counts(100_000)),
    }


@_builds(IncidentCorrected)
def _incident_corrected(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "incident": scene.incident,
        "corrects": draw(event_ids()),
        "category": _maybe(draw, _enum(IncidentCategory)),
        "severity": _maybe(draw, _enum(Severity)),
        "position": _maybe(draw, st.just(_point(scene))),
        "description": _maybe(draw, free_texts()),
        "reason": draw(short_texts()),
    }


@_builds(SecurityPerimeterEstablished)
def _perimeter_established(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "perimeter": draw(references()),
        "area": draw(areas_around(scene.position)),
        "position": _point(scene),
        "reason": draw(short_texts()),
        "incident": _maybe(draw, st.just(scene.incident)),
    }


@_builds(SecurityPerimeterLifted)
def _perimeter_lifted(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {"perimeter": draw(references()), "reason": draw(short_texts())}


@_builds(EvacuationOrdered)
def _evacuation_ordered(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "area": draw(areas_around(scene.position)),
        "position": _point(scene),
        "assembly_point": _maybe(draw, short_texts()),
        "authority": draw(short_texts()),
        "order_reference": draw(references()),
    }


@_builds(CrowdDensityReported)
def _crowd_density(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "position": _point(scene),
        "persons_per_m2": draw(st.floats(0, 12, allow_nan=False)),
        "trend": draw(_enum(DensityTrend)),
    }


_ALERT_STATUS = {Mode.LIVE: CapStatus.ACTUAL, Mode.EXERCISE: CapStatus.EXERCISE}


@_builds(PublicAlertIssued)
def _public_alert(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    status = _ALERT_STATUS[scene.mode] if scene.coherent else draw(_enum(CapStatus))
    return {
        "status": status,
        "msg_type": draw(_enum(CapMsgType)),
        "scope": draw(_enum(CapScope)),
        "category": draw(_enum(CapCategory)),
        "event": draw(short_texts()),
        "urgency": draw(_enum(CapUrgency)),
        "severity": draw(_enum(CapSeverity)),
        "certainty": draw(_enum(CapCertainty)),
        "headline": draw(short_texts()),
        "instruction": draw(free_texts()),
        "area_desc": draw(short_texts()),
        "area": draw(areas_around(scene.position)),
        "position": _point(scene),
        "references": _maybe(draw, references()),
    }


@_builds(CrisisCellDecisionLogged)
def _decision_logged(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    others = st.lists(identifiers(), max_size=4)
    return {
        "decision": draw(free_texts(min_size=1)),
        "authority": draw(short_texts()),
        "rationale": draw(free_texts()),
        "incidents": (scene.incident, *draw(others)) if draw(st.booleans()) else (),
    }


@_builds(EntranceScreeningReported)
def _screening(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    start, end = _before(draw, scene)
    return {
        "position": _point(scene),
        "period_start": start,
        "period_end": end,
        "persons_screened": draw(_counts(1_000_000)),
        "items_refused": draw(_counts(1_000_000)),
        "entries_refused": draw(_counts(1_000_000)),
        "queue_minutes": _maybe(draw, _counts(600)),
    }


@_builds(SiteIncidentReported)
def _site_incident(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "incident": scene.incident,
        "category": draw(_enum(IncidentCategory)),
        "severity": draw(_enum(Severity)),
        "position": _point(scene),
        "armed_threat": draw(st.booleans()),
        "description": draw(free_texts()),
    }


@_builds(MediationStarted)
def _mediation_started(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "mediation": draw(short_texts()),
        "topic": draw(_enum(MediationTopic)),
        "position": _point(scene),
        "incident": _maybe(draw, st.just(scene.incident)),
        "case_notes": _maybe(draw, free_texts()),
    }


@_builds(MediationClosed)
def _mediation_closed(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "mediation": draw(short_texts()),
        "outcome": draw(short_texts()),
        "case_notes": _maybe(draw, free_texts()),
    }


@_builds(HelpRequested)
def _help_requested(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "request": draw(short_texts()),
        "situation": draw(_enum(HelpSituation)),
        "position": _point(scene),
        "relayed_by": _maybe(draw, short_texts()),
        "description": draw(free_texts()),
    }


def _check_facts(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "check": draw(short_texts()),
        "legal_basis": draw(_enum(LegalBasis)),
        "motives": tuple(draw(st.lists(short_texts(), min_size=1, max_size=3))),
        "possible_consequences": draw(short_texts()),
        "place": draw(short_texts()),
        "position": _point(scene),
        "checked_at": scene.time if scene.coherent else draw(aware_datetimes()),
        "officer_number": draw(st.from_regex(r"[0-9]{7}", fullmatch=True)),
        "grade": draw(short_texts()),
        "service": draw(short_texts()),
    }


@_builds(IdentityCheckRecorded)
def _identity_check_recorded(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return _check_facts(draw, scene)


@_builds(RecepisseIssued)
def _recepisse_issued(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    person = {
        "surname": draw(short_texts()),
        "given_names": draw(short_texts()),
        "birth_date": _maybe(draw, st.dates(date(1900, 1, 1), date(2015, 12, 31))),
    }
    return {**_check_facts(draw, scene), "person": person}


@_builds(DroneFlightStarted)
def _drone_started(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "flight": draw(short_texts()),
        "authorisation": draw(references()),
        "position": _point(scene),
        "max_altitude_m": draw(st.integers(1, 120)),
        "purpose": draw(short_texts()),
    }


@_builds(DroneFlightEnded)
def _drone_ended(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "flight": draw(short_texts()),
        "authorisation": draw(references()),
        "position": _point(scene),
    }


@_builds(VideoExtractRequested)
def _video_extract_requested(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    start, end = _before(draw, scene)
    return {
        "request": draw(short_texts()),
        "authorisation": draw(references()),
        "camera": draw(short_texts()),
        "position": _point(scene),
        "window_start": start,
        "window_end": end,
        "motive": draw(free_texts(min_size=1)),
    }


@_builds(VideoExtractGranted)
def _video_extract_granted(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "request": draw(short_texts()),
        "authorisation": draw(references()),
        "position": _point(scene),
        "retention_days": draw(st.integers(1, 30)),
    }


@_builds(VideoAnalyticsAlerted)
def _video_analytics(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "alert": draw(short_texts()),
        "category": "abandoned_luggage",
        "camera": draw(short_texts()),
        "position": _point(scene),
        "confidence": draw(st.floats(0, 1, allow_nan=False)),
    }


@_builds(ExerciseInjected)
def _exercise_injected(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    return {
        "inject": draw(short_texts()),
        "target": draw(_enum(Agency)),
        "message": draw(free_texts(min_size=1)),
        "position": _maybe(draw, st.just(_point(scene))),
    }


@_builds(PerimeterViolated)
def _perimeter_violated(draw: st.DrawFn, scene: Scene) -> dict[str, Any]:
    codes = st.lists(_enum(ReasonCode), min_size=1, max_size=4, unique=True)
    return {
        "proposal_id": draw(event_ids()),
        "proposal_type": draw(st.sampled_from(sorted(EVENT_TYPES))),
        "proposer": _maybe(draw, _enum(Agency)),
        "proposal_subject": _maybe(draw, short_texts()),
        "reasons": tuple({"code": c, "message": REASON_MESSAGES[c]} for c in draw(codes)),
        "competent_agencies": tuple(draw(st.lists(_enum(Agency), max_size=3, unique=True))),
    }


_MISSING = [cls.__name__ for cls in EVENT_CLASSES if cls not in _BUILDERS]
if _MISSING:  # a new event type needs a builder here before any test can draw it
    raise RuntimeError(f"tests/strategies.py has no builder for {', '.join(_MISSING)}")


@st.composite
def _events(
    draw: st.DrawFn,
    *,
    classes: tuple[type[EventPayload], ...],
    explicit: bool,
    modes: SearchStrategy[Mode],
    positions: SearchStrategy[GeoPoint],
    times: SearchStrategy[datetime],
    units: SearchStrategy[str],
    incidents: SearchStrategy[str],
    coherent: bool,
) -> EventPayload:
    mode = draw(modes)
    candidates = classes
    if coherent and not explicit and mode is not Mode.EXERCISE:
        candidates = tuple(c for c in classes if not c.TRAITS.exercise_only)
    cls = draw(st.sampled_from(candidates))
    scene = Scene(
        mode=mode,
        time=draw(times),
        position=draw(positions),
        unit=draw(units),
        incident=draw(incidents),
        coherent=coherent,
    )
    return cls.model_validate(_BUILDERS[cls](draw, scene))


def events(
    types: Iterable[EventKind] | None = None,
    *,
    mode: Given[Mode] | None = None,
    positions: SearchStrategy[GeoPoint] | None = None,
    times: SearchStrategy[datetime] | None = None,
    units: Given[str] | None = None,
    incidents: Given[str] | None = None,
    coherent: bool = True,
) -> SearchStrategy[EventPayload]:
    """Valid event payloads of the given types (all by default).

    `mode` only shapes the content (CAP status, exercise-only types); `positions` and
    `times` are where and when the event happens (an area is drawn around the position,
    the periods a payload carries end at that time); `units` and `incidents` the ids the
    payload refers to.
    """
    return _events(
        classes=event_classes(types),
        explicit=types is not None,
        modes=as_strategy(mode, st.sampled_from(Mode)),
        positions=as_strategy(positions, geo_points()),
        times=as_strategy(times, aware_datetimes()),
        units=as_strategy(units, identifiers()),
        incidents=as_strategy(incidents, identifiers()),
        coherent=coherent,
    )


@st.composite
def _envelopes(
    draw: st.DrawFn,
    *,
    types: tuple[type[EventPayload], ...] | None,
    modes: SearchStrategy[Mode],
    operations: SearchStrategy[str],
    agencies: SearchStrategy[Agency],
    units: SearchStrategy[str | None],
    sectors: SearchStrategy[str | None],
    times: SearchStrategy[datetime],
    positions: SearchStrategy[GeoPoint] | None,
    incidents: SearchStrategy[str] | None,
    ids: SearchStrategy[str],
    sources_: SearchStrategy[str],
    subjects_: SearchStrategy[str | None],
    classifications: SearchStrategy[Classification] | None,
    recordedtimes: SearchStrategy[datetime | None] | None,
    sequences: SearchStrategy[int | None],
    data: SearchStrategy[EventPayload] | None,
    coherent: bool,
) -> Envelope:
    mode = draw(modes)
    time = draw(times)
    unit = draw(units)
    if data is None:
        data = events(
            types,
            mode=mode,
            positions=positions,
            times=st.just(time) if coherent else None,
            units=unit if coherent and unit is not None else None,
            incidents=incidents,
            coherent=coherent,
        )
    event = draw(data)
    if classifications is None:
        classifications = (
            st.just(event.TRAITS.classification) if coherent else st.sampled_from(Classification)
        )
    if recordedtimes is None:
        lag = st.timedeltas(timedelta(0), timedelta(minutes=5))
        recorded = lag.map(lambda d: time + d) if coherent else aware_datetimes()
        recordedtimes = st.one_of(st.none(), recorded)
    return Envelope.model_validate(
        {
            "id": draw(ids),
            "source": draw(sources_),
            "type": type_of(event),
            "time": time,
            "subject": draw(subjects_),
            "operation": draw(operations),
            "mode": mode,
            "agency": draw(agencies),
            "unit": unit,
            "sector": draw(sectors),
            "classification": draw(classifications),
            "recordedtime": draw(recordedtimes),
            "sequence": draw(sequences),
            "data": event,
        }
    )


def envelopes(
    types: Iterable[EventKind] | None = None,
    *,
    mode: Given[Mode] | None = None,
    operation: Given[str] | None = None,
    agency: Given[Agency] | None = None,
    unit: Given[str | None] | None = None,
    sector: Given[str | None] | None = None,
    times: SearchStrategy[datetime] | None = None,
    positions: SearchStrategy[GeoPoint] | None = None,
    incidents: Given[str] | None = None,
    ids: SearchStrategy[str] | None = None,
    source: Given[str] | None = None,
    subject: Given[str | None] | None = None,
    classification: Given[Classification] | None = None,
    recordedtime: Given[datetime | None] | None = None,
    sequence: Given[int | None] | None = None,
    data: SearchStrategy[EventPayload] | None = None,
    coherent: bool = True,
) -> SearchStrategy[Envelope]:
    """Valid envelopes around events of the given types (all by default).

    `mode`, `operation`, `agency` pin or draw the proposer's identity; `times` and
    `positions` say when and where the event happens; `data` replaces the drawn payload
    altogether (its consistency with the envelope is then the caller's business).
    """
    return _envelopes(
        types=event_classes(types) if types is not None else None,
        modes=as_strategy(mode, st.sampled_from(Mode)),
        operations=as_strategy(operation, operation_ids()),
        agencies=as_strategy(agency, st.sampled_from(Agency)),
        units=as_strategy(unit, st.one_of(st.none(), identifiers())),
        sectors=as_strategy(sector, st.one_of(st.none(), identifiers())),
        times=as_strategy(times, aware_datetimes()),
        positions=positions,
        incidents=None if incidents is None else as_strategy(incidents, identifiers()),
        ids=as_strategy(ids, event_ids()),
        sources_=as_strategy(source, sources()),
        subjects_=as_strategy(subject, st.one_of(st.none(), subjects())),
        classifications=(
            None
            if classification is None
            else as_strategy(classification, st.sampled_from(Classification))
        ),
        recordedtimes=None if recordedtime is None else as_strategy(recordedtime, st.none()),
        sequences=as_strategy(sequence, st.one_of(st.none(), st.integers(1, 2**53))),
        data=data,
        coherent=coherent,
    )
