"""The event catalogue: one discriminated union, versioned payloads, upcasting.

What these tests prove: every payload class is in the catalogue under its own type; a type
maps to the two subject tokens the broker walls on; the union decodes each type to its class;
old payloads are upcast to the current version and payloads from the future are refused.
"""

from __future__ import annotations

import json
import re
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from strategies import envelopes, events, type_of

from contracts.cloudevents import from_structured, to_structured
from contracts.envelope import Envelope
from contracts.errors import EnvelopeError
from contracts.events.base import EVENT_TYPE_PREFIX, EventPayload
from contracts.events.catalogue import (
    EVENT_ADAPTER,
    EVENT_CLASSES,
    EVENT_TYPES,
    event_class,
    short_type,
)
from contracts.events.incidents import IncidentReported
from contracts.geo import GeoPoint
from contracts.ids import SUBJECT_TOKEN_PATTERN
from contracts.reasons import ReasonCode
from contracts.subjects import type_tokens
from contracts.vocabulary import IncidentCategory, Severity

pytestmark = pytest.mark.unit

SOME = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

V1_INCIDENT: dict[str, Any] = {
    "type": "fr.interforces.incident.reported",
    "schema_version": 1,
    "incident": "INC-42",
    "category": "lost_child",
    "severity": "serious",
    "lon": 2.3522,
    "lat": 48.8566,
    "description": "Enfant de 6 ans, tee-shirt rouge",
}


def _all_subclasses(cls: type[EventPayload]) -> set[type[EventPayload]]:
    found: set[type[EventPayload]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


# The catalogue itself.


def test_every_payload_class_of_the_contracts_is_in_the_catalogue() -> None:
    # Given every concrete payload class defined in the contracts package
    defined = {c for c in _all_subclasses(EventPayload) if c.__module__.startswith("contracts.")}
    # Then each is a member of the discriminated union, and nothing else is
    assert defined == set(EVENT_CLASSES)


def test_every_type_is_unique_and_names_its_class() -> None:
    # Given the catalogue by type
    # Then no two classes share a type, and the lookup finds each class by its type
    assert len(EVENT_TYPES) == len(EVENT_CLASSES)
    for event_type, cls in EVENT_TYPES.items():
        assert event_type.startswith(EVENT_TYPE_PREFIX)
        assert event_class(event_type) is cls
        assert cls.model_fields["type"].default == event_type
    assert event_class("fr.interforces.ovni.sighted") is None
    assert event_class("incident.reported") is None  # the short form is not a type


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_events_are_past_tense_documented_and_versioned(cls: type[EventPayload]) -> None:
    # Then the class is named in the past tense and has a docstring
    assert re.search(r"[a-z]ed(?=[A-Z]|$)", cls.__name__), cls.__name__
    assert cls.__doc__
    assert cls.__doc__.strip()
    # And its schema_version field defaults to the class's current version
    assert cls.model_fields["schema_version"].default == cls.SCHEMA_VERSION
    # And it has an upcaster from each older version to the next
    for version in range(1, cls.SCHEMA_VERSION):
        assert callable(getattr(cls, f"upcast_v{version}_v{version + 1}"))


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_type_maps_to_two_subject_tokens(event_type: str) -> None:
    # When the type is turned into subject tokens
    tokens = type_tokens(event_type)
    # Then they are exactly two, each a valid NATS token, and the short type
    assert tokens == short_type(event_type)
    family, action = tokens.split(".")
    for token in (family, action):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", token)
        assert not set(token) & {"*", ">", " ", "."}
    # And the short type rebuilds the full type
    assert EVENT_TYPE_PREFIX + tokens == event_type


def test_subject_tokens_pattern_forbids_what_nats_reserves() -> None:
    # Given the pattern every operation and session token must match
    pattern = re.compile(SUBJECT_TOKEN_PATTERN)
    # Then none of the characters NATS gives a meaning to can appear
    for bad in ("a.b", "*", ">", "a b", "a\tb", "A"):
        assert not pattern.fullmatch(bad)


# The discriminated union.


@SOME
@given(event=events())
def test_the_union_decodes_each_type_to_its_class(event: EventPayload) -> None:
    # Given any event, dumped to Python and to JSON
    python, text = event.model_dump(), event.model_dump_json()
    # When the union validates them
    from_python = EVENT_ADAPTER.validate_python(python)
    from_json = EVENT_ADAPTER.validate_json(text)
    # Then the class chosen is the one the `type` names, and the event is unchanged
    assert type(from_python) is type(event) is EVENT_TYPES[type_of(event)]
    assert from_python == from_json == event


def test_the_union_refuses_a_missing_or_unknown_tag() -> None:
    # Given an incident payload
    payload = {"incident": "INC-1", "category": "fire", "position": {"lon": 0, "lat": 0}}
    # When its tag is missing, then the union says so
    with pytest.raises(ValidationError) as missing:
        EVENT_ADAPTER.validate_python(payload)
    assert missing.value.errors()[0]["type"] == "union_tag_not_found"
    # When its tag is unknown, then the union says so
    with pytest.raises(ValidationError) as unknown:
        EVENT_ADAPTER.validate_python({**payload, "type": "fr.interforces.ovni.sighted"})
    assert unknown.value.errors()[0]["type"] == "union_tag_invalid"


def test_the_tag_decides_even_when_fields_fit_another_type() -> None:
    # Given fields that make a valid incident.qualified, tagged as incident.reported
    payload = {
        "type": "fr.interforces.incident.reported",
        "incident": "INC-1",
        "category": "fire",
        "severity": "critical",
        "armed_threat": False,
    }
    # Then it is refused as an incident.reported (no position), not guessed into another type
    with pytest.raises(ValidationError) as refused:
        EVENT_ADAPTER.validate_python(payload)
    assert {e["loc"][-1] for e in refused.value.errors()} == {"position"}


# Upcasting.


def test_a_v1_incident_is_upcast_to_v2_with_a_position() -> None:
    # Given an incident.reported payload as version 1 wrote it (flat lon/lat)
    # When it is validated, through its class or the union
    for event in (
        IncidentReported.model_validate(V1_INCIDENT),
        EVENT_ADAPTER.validate_python(V1_INCIDENT),
        EVENT_ADAPTER.validate_json(json.dumps(V1_INCIDENT)),
    ):
        # Then it is a version 2 incident, its coordinates now a position
        assert isinstance(event, IncidentReported)
        assert event.schema_version == IncidentReported.SCHEMA_VERSION == 2
        assert event.position == GeoPoint(lon=2.3522, lat=48.8566)
        assert event.category is IncidentCategory.LOST_CHILD
        assert event.severity is Severity.SERIOUS
        assert "lon" not in event.model_dump()


def test_a_v1_incident_in_an_envelope_is_upcast_and_re_encoded_as_v2() -> None:
    # Given a structured CloudEvent carrying a version 1 incident
    document = {
        "id": "evt-1",
        "source": "/police_nationale/units/BAC-75",
        "type": V1_INCIDENT["type"],
        "time": "2025-06-21T22:00:00Z",
        "operation": "fete-musique-2025",
        "mode": "live",
        "agency": "police_nationale",
        "data": V1_INCIDENT,
    }
    # When it is decoded then encoded again
    envelope = from_structured(json.dumps(document))
    data = json.loads(to_structured(envelope))["data"]
    # Then what goes on is version 2
    assert data["schema_version"] == 2
    assert data["position"] == {"lon": 2.3522, "lat": 48.8566}
    assert "lon" not in data
    assert "lat" not in data


@SOME
@given(event=events(["incident.reported"]))
def test_downgrading_any_incident_to_v1_then_upcasting_gives_it_back(event: EventPayload) -> None:
    # Given any current incident, written back as version 1 would have written it
    assert isinstance(event, IncidentReported)
    v1 = event.model_dump(mode="json")
    position = v1.pop("position")
    v1 |= {"schema_version": 1, "lon": position["lon"], "lat": position["lat"]}
    # When it is read, then it is the same incident
    assert IncidentReported.model_validate(v1) == event


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("offset", [1, 2, 1000])
def test_a_payload_from_a_newer_version_is_refused(cls: type[EventPayload], offset: int) -> None:
    # Given a payload claiming a version newer than this code knows
    payload = {
        "type": cls.model_fields["type"].default,
        "schema_version": cls.SCHEMA_VERSION + offset,
    }
    # When it is validated, then it is refused as an unsupported schema version
    with pytest.raises(ValidationError) as refused:
        EVENT_ADAPTER.validate_python(payload)
    assert [e["type"] for e in refused.value.errors()] == ["unsupported_schema_version"]


@pytest.mark.parametrize("version", [0, -1, True, 1.5, "2", None])
def test_a_schema_version_that_is_not_a_positive_integer_is_refused(version: object) -> None:
    # Given an incident whose schema_version is not a positive integer
    payload = {**V1_INCIDENT, "schema_version": version}
    # Then it is refused as an unsupported schema version
    with pytest.raises(ValidationError) as refused:
        IncidentReported.model_validate(payload)
    assert [e["type"] for e in refused.value.errors()] == ["unsupported_schema_version"]


@SOME
@given(envelope=envelopes(["incident.reported"]), data=st.data())
def test_a_newer_version_in_an_envelope_is_refused_with_its_reason_code(
    envelope: Envelope, data: st.DataObject
) -> None:
    # Given a valid envelope whose payload claims a version from the future
    document = json.loads(to_structured(envelope))
    document["data"]["schema_version"] = data.draw(
        st.integers(IncidentReported.SCHEMA_VERSION + 1, 2**31), label="version"
    )
    # When it is decoded, then it is refused with the stable code
    with pytest.raises(EnvelopeError) as refused:
        from_structured(json.dumps(document))
    assert refused.value.code == ReasonCode.UNSUPPORTED_SCHEMA_VERSION


def test_a_class_raising_its_version_without_an_upcaster_is_a_programming_error() -> None:
    # When a payload class declares version 2 without upcast_v1_v2
    # Then defining it fails at import time, not at the first old message
    with pytest.raises(TypeError, match="upcast_v1_v2"):
        type("BrokenEventRaised", (EventPayload,), {"SCHEMA_VERSION": 2, "__module__": __name__})


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_no_field_is_both_required_and_nullable(event_type: str) -> None:
    # Given an event class of the catalogue
    cls = EVENT_TYPES[event_type]
    # Then every field that may be None defaults to None: the codecs drop None values
    # (exclude_none), and what they drop must come back as it was
    for name, info in cls.model_fields.items():
        if info.is_required():
            assert not _accepts_none(info.annotation), f"{event_type}.{name}"


def _accepts_none(annotation: object) -> bool:
    return annotation is type(None) or type(None) in get_args(annotation)
