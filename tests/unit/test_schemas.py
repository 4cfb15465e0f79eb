"""The published JSON Schemas, and what the contracts refuse to express.

What these tests prove: the schemas checked in under `contracts/schemas/` are exactly what
the models render (a model change without `interforces schemas write` fails here); every
field says what it is; nothing biometric can be expressed, and video analytics knows only
abandoned luggage; events are frozen and closed; an identity-check record carries no
identity while the receipt does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import Any, get_args, get_origin

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from strategies import envelopes, events, type_of
from typer.testing import CliRunner

from contracts import schema_export
from contracts.charter.model import Charter, VideoAnalyticsAuthorisation
from contracts.envelope import Envelope
from contracts.events.base import EVENT_TYPE_PREFIX, HOLDER_KEY, EventPayload
from contracts.events.catalogue import EVENT_CLASSES, EVENT_TYPES, short_type
from contracts.events.identity_checks import IdentityCheckRecorded, RecepisseIssued
from contracts.events.mediation import MediationClosed, MediationStarted
from contracts.events.surveillance import VideoAnalyticsAlerted
from contracts.vocabulary import Agency
from interforces.commands.schemas import app as schemas_app

pytestmark = pytest.mark.unit

FEW = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCHEMAS = schema_export.all_schemas()
EVENT_SCHEMAS = {
    cls: SCHEMAS[schema_export.event_schema_path(cls.model_fields["type"].default)]
    for cls in EVENT_CLASSES
}

#: Words that would let a payload or a charter carry biometric data (in English and French).
BIOMETRIC_WORDS = {"face", "faces", "facial", "faciale", "visage", "visages", "iris", "retina"}
BIOMETRIC_WORDS |= {"retine", "gait", "voiceprint", "fingerprint", "fingerprints", "dna", "adn"}
BIOMETRIC_WORDS |= {"empreinte", "empreintes", "biometric", "biometrics", "biometrie"}
BIOMETRIC_WORDS |= {"biometrique", "embedding", "embeddings", "faceprint", "morphology"}
#: Roots that smell biometric even glued to other words (`reconnaissance_faciale`, `FaceId`).
BIOMETRIC_ROOTS: tuple[str, ...] = (
    "biometr",
    "biométr",
    "facial",
    "fingerprint",
    "voiceprint",
    "empreinte",
)
BIOMETRIC_ROOTS += ("reconnaissance", "recognition", "faceid")
#: Fields that would make an identity-check record a nominative file.
IDENTITY_FIELDS = {"person", "identity", "surname", "given_names", "birth_date", "name", "nom"}
IDENTITY_FIELDS |= {"first_name", "last_name", "prenom", "prénom", "date_of_birth", "address"}
IDENTITY_FIELDS |= {"birth_place", "nationality", "id_document", "document_number", "phone"}


def _nodes(schema: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a schema document, depth first."""
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from _nodes(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _nodes(value)


def _properties(schema: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(owner title, field name, field schema) of every property, $defs included."""
    for node in _nodes(schema):
        properties = node.get("properties")
        if isinstance(properties, dict) and node.get("type") == "object":
            for name, field in properties.items():
                yield str(node.get("title", "?")), name, field


def _words(schema: Any) -> set[str]:
    """Every name a schema can express: fields, definitions, titles, enum and const values."""
    found: set[str] = set()
    for node in _nodes(schema):
        found |= set(node.get("properties", {})) | set(node.get("$defs", {}))
        for key in ("title", "const"):
            if isinstance(node.get(key), str):
                found.add(node[key])
        found |= {v for v in node.get("enum", []) if isinstance(v, str)}
    return found


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """Every pydantic model reachable from a type annotation, the model itself included."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        for field in annotation.model_fields.values():
            yield from _models(field.annotation)
    elif get_origin(annotation) is not None or isinstance(annotation, UnionType):
        for arg in get_args(annotation):
            yield from _models(arg)


# The checked-in schemas.


def test_checked_in_schemas_equal_a_fresh_render() -> None:
    # Given the schema files checked in beside the contracts
    # When they are compared with what the models render now
    drift = schema_export.diff(schema_export.DEFAULT_DIRECTORY)
    # Then nothing drifted, is missing or is extra
    assert drift == [], "run `interforces schemas write` and commit the result:\n" + "\n".join(
        drift
    )


def test_the_render_is_canonical_and_complete() -> None:
    rendered = schema_export.render_all()
    # Then there is the envelope, the charter, and one schema per event type
    expected = {"envelope.schema.json", "charter.schema.json"}
    expected |= {f"events/{short_type(t)}.schema.json" for t in EVENT_TYPES}
    assert set(rendered) == expected
    assert "events/incident.reported.schema.json" in rendered
    # And each text is canonical JSON: sorted keys, indent 2, one trailing newline
    for path, text in rendered.items():
        document = json.loads(text)
        assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert not text.endswith("\n\n"), path
    # And rendering twice gives the same bytes
    assert schema_export.render_all() == rendered


@pytest.mark.parametrize("path", sorted(SCHEMAS))
def test_every_schema_is_a_valid_draft_2020_12_schema(path: str) -> None:
    schema = SCHEMAS[path]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@SOME
@given(envelope=envelopes())
def test_envelopes_and_events_validate_against_their_published_schemas(envelope: Envelope) -> None:
    # Given any valid envelope, as it goes on the wire
    document = json.loads(envelope.model_dump_json(exclude_none=True))
    data = document["data"]
    # Then the envelope schema accepts it, and its event's schema accepts the payload
    jsonschema.Draft202012Validator(SCHEMAS["envelope.schema.json"]).validate(document)
    event_schema = SCHEMAS[schema_export.event_schema_path(type_of(envelope.data))]
    jsonschema.Draft202012Validator(event_schema).validate(data)


def test_write_and_diff_keep_a_directory_in_step(tmp_path: Path) -> None:
    # Given an empty directory, then every schema is missing from it
    assert schema_export.diff(tmp_path) == [f"missing: {p}" for p in sorted(SCHEMAS)]
    # When the schemas are written, then nothing differs any more
    assert len(schema_export.write_all(tmp_path)) == len(SCHEMAS)
    assert schema_export.diff(tmp_path) == []
    assert schema_export.write_all(tmp_path) == []  # nothing to rewrite
    # When one is edited, one deleted, and a stale one left behind
    (tmp_path / "envelope.schema.json").write_text("{}\n")
    (tmp_path / "charter.schema.json").unlink()
    (tmp_path / "events" / "incident.vanished.schema.json").write_text("{}\n")
    # And files outside the layout sit beside them
    (tmp_path / "README.md").write_text("notes\n")
    (tmp_path / "events" / "notes.json").write_text("{}\n")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x.schema.json").write_text("{}\n")
    # Then diff names each fault
    assert schema_export.diff(tmp_path) == [
        "missing: charter.schema.json",
        "drifted: envelope.schema.json",
        "extra: events/incident.vanished.schema.json",
    ]
    # And writing repairs them, without touching anything outside the layout
    schema_export.write_all(tmp_path)
    assert schema_export.diff(tmp_path) == []
    assert (tmp_path / "README.md").exists()
    assert (tmp_path / "events" / "notes.json").exists()
    assert (tmp_path / "old" / "x.schema.json").exists()


def test_the_command_writes_then_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    # Given an empty directory, when checked, then the command fails listing what is missing
    missing = runner.invoke(schemas_app, ["check", "--dir", str(tmp_path)])
    assert missing.exit_code == 1
    assert "missing: events/incident.reported.schema.json" in missing.output
    # When the schemas are written, then the check passes
    written = runner.invoke(schemas_app, ["write", "--dir", str(tmp_path)])
    assert written.exit_code == 0, written.output
    checked = runner.invoke(schemas_app, ["check", "--dir", str(tmp_path)])
    assert checked.exit_code == 0, checked.output
    # When a file drifts, then the check fails naming it
    (tmp_path / "charter.schema.json").write_text("{}\n")
    drifted = runner.invoke(schemas_app, ["check", "--dir", str(tmp_path)])
    assert drifted.exit_code == 1
    assert "drifted: charter.schema.json" in drifted.output


# Every field is documented.


def _is_event_tag(field: dict[str, Any]) -> bool:
    return str(field.get("const", "")).startswith(EVENT_TYPE_PREFIX)


@pytest.mark.parametrize("path", sorted(SCHEMAS))
def test_every_field_has_a_description(path: str) -> None:
    # Given every property of the schema, nested models and $defs included
    undocumented = [
        f"{owner}.{name}"
        for owner, name, field in _properties(SCHEMAS[path])
        if not str(field.get("description", "")).strip()
        # The event tag is covered by test_every_event_tag_has_a_description.
        and not (name == "type" and _is_event_tag(field))
    ]
    # Then each says what it holds (it becomes the AsyncAPI documentation)
    assert undocumented == []


@pytest.mark.parametrize("path", sorted(SCHEMAS))
def test_every_model_and_enum_has_a_description(path: str) -> None:
    schema = SCHEMAS[path]
    for name, definition in {"<root>": schema, **schema.get("$defs", {})}.items():
        assert str(definition.get("description", "")).strip(), name


def test_every_event_tag_has_a_description() -> None:
    undocumented = [
        cls.__name__ for cls in EVENT_CLASSES if not cls.model_fields["type"].description
    ]
    assert undocumented == []


# Nothing biometric can be expressed.


def _smells_biometric(word: str) -> bool:
    lowered = word.lower()
    tokens = set(re.split(r"[^a-zà-ÿ0-9]+", re.sub(r"(?<=[a-z])(?=[A-Z])", "_", word).lower()))
    return bool(tokens & BIOMETRIC_WORDS) or any(root in lowered for root in BIOMETRIC_ROOTS)


def test_the_biometric_detector_detects() -> None:
    for word in ("face_embedding", "reconnaissance_faciale", "FaceMatch", "irisScan", "gait"):
        assert _smells_biometric(word), word
    for word in ("surface", "interface", "officer_number", "position", "category"):
        assert not _smells_biometric(word), word


@pytest.mark.parametrize("path", sorted(SCHEMAS))
def test_no_name_in_any_schema_smells_biometric(path: str) -> None:
    # Given every field, definition, title and enumerated value a schema can express
    # Then none of them is a biometric notion
    assert sorted(w for w in _words(SCHEMAS[path]) if _smells_biometric(w)) == []


def test_video_analytics_knows_abandoned_luggage_only() -> None:
    # Given the published schemas of the video-analytics alert and authorisation
    alert = EVENT_SCHEMAS[VideoAnalyticsAlerted]["properties"]["category"]
    charter = SCHEMAS["charter.schema.json"]["$defs"]["VideoAnalyticsAuthorisation"]
    authorised = charter["properties"]["categories"]
    # Then the only category either can hold is abandoned luggage
    assert alert["const"] == "abandoned_luggage"
    assert alert.get("enum", ["abandoned_luggage"]) == ["abandoned_luggage"]
    assert authorised["items"]["const"] == "abandoned_luggage"
    assert VideoAnalyticsAuthorisation.model_fields["categories"].default == ("abandoned_luggage",)


@pytest.mark.parametrize(
    "category", ["face_recognition", "person_tracking", "crowd_counting", "gait", "intrusion", ""]
)
def test_any_other_video_analytics_category_is_refused(category: str) -> None:
    alert = {
        "type": "fr.interforces.video_analytics.alerted",
        "alert": "VA-1",
        "category": category,
        "camera": "CAM-12",
        "position": {"lon": 4.83, "lat": 45.76},
        "confidence": 0.9,
    }
    with pytest.raises(ValidationError):
        VideoAnalyticsAlerted.model_validate(alert)
    authorisation = {
        "reference": "AP-1",
        "operator": "police_municipale",
        "categories": ["abandoned_luggage", category],
        "sectors": ["S1"],
        "window": {"start": "2025-06-21T18:00:00Z", "end": "2025-06-22T04:00:00Z"},
    }
    with pytest.raises(ValidationError):
        VideoAnalyticsAuthorisation.model_validate(authorisation)


# Events are frozen and closed.


def _all_models() -> list[type[BaseModel]]:
    found = {m for root in (*EVENT_CLASSES, Envelope, Charter) for m in _models(root)}
    return sorted(found, key=lambda m: m.__name__)


@pytest.mark.parametrize("model", _all_models(), ids=[m.__name__ for m in _all_models()])
def test_every_model_is_frozen_and_forbids_extra_fields(model: type[BaseModel]) -> None:
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("path", sorted(SCHEMAS))
def test_every_object_in_the_schemas_is_closed(path: str) -> None:
    objects = [n for n in _nodes(SCHEMAS[path]) if n.get("type") == "object" and "properties" in n]
    assert objects
    for node in objects:
        assert node.get("additionalProperties") is False, node.get("title")


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
@FEW
@given(data=st.data())
def test_an_event_refuses_an_extra_field_and_cannot_be_changed(
    cls: type[EventPayload], data: st.DataObject
) -> None:
    # Given any valid event of this class
    event = data.draw(events([cls]), label="event")
    # When it is built again with a face embedding added
    with pytest.raises(ValidationError) as refused:
        cls.model_validate({**event.model_dump(), "face_embedding": [0.12, -0.5, 0.33]})
    # Then the extra field is refused by name
    assert [(e["type"], e["loc"]) for e in refused.value.errors()] == [
        ("extra_forbidden", ("face_embedding",))
    ]
    # And an existing event cannot be edited (corrections are new events)
    with pytest.raises(ValidationError):
        event.schema_version = 99  # type: ignore[misc]


def test_a_nested_model_refuses_an_extra_field_too() -> None:
    alert = {
        "type": "fr.interforces.video_analytics.alerted",
        "alert": "VA-1",
        "category": "abandoned_luggage",
        "camera": "CAM-12",
        "position": {"lon": 4.83, "lat": 45.76, "face_embedding": [0.1]},
        "confidence": 0.9,
    }
    with pytest.raises(ValidationError) as refused:
        VideoAnalyticsAlerted.model_validate(alert)
    assert refused.value.errors()[0]["loc"] == ("position", "face_embedding")


# Identity checks: traceable without a nominative file.


def test_an_identity_check_record_holds_no_identity() -> None:
    # Given the record the forces keep, with every field of every nested model
    fields = {name for model in _models(IdentityCheckRecorded) for name in model.model_fields}
    published = {name for _, name, _ in _properties(EVENT_SCHEMAS[IdentityCheckRecorded])}
    # Then no field can hold who was checked
    assert not fields & IDENTITY_FIELDS
    assert not published & IDENTITY_FIELDS


def test_the_receipt_holds_the_identity_and_the_same_facts() -> None:
    record = set(IdentityCheckRecorded.model_fields)
    receipt = set(RecepisseIssued.model_fields)
    # Then the receipt is the record plus the person, and nothing else
    assert receipt - record == {"person"}
    assert record - receipt == set()
    person = RecepisseIssued.model_fields["person"].annotation
    assert isinstance(person, type)
    assert issubclass(person, BaseModel)
    assert {"surname", "given_names"} <= set(person.model_fields)
    # And the receipt never enters the coordinator, while the record stays restricted
    assert RecepisseIssued.TRAITS.shareable is False
    assert IdentityCheckRecorded.TRAITS.restricted_audience is True


def test_a_record_refuses_an_identity_smuggled_in() -> None:
    facts = {
        "type": "fr.interforces.identity_check.recorded",
        "check": "R-2025-0001",
        "legal_basis": "cpp_78_2_al1",
        "motives": ["signalement correspondant"],
        "possible_consequences": "vérification au poste",
        "place": "quai Saint-Antoine",
        "position": {"lon": 4.83, "lat": 45.76},
        "checked_at": "2025-06-21T22:10:00+02:00",
        "officer_number": "1234567",
        "grade": "gardien de la paix",
        "service": "DIPN 69",
    }
    IdentityCheckRecorded.model_validate(facts)
    with pytest.raises(ValidationError):
        IdentityCheckRecorded.model_validate(
            {**facts, "person": {"surname": "Martin", "given_names": "Léa"}}
        )


def test_holder_only_fields_are_marked_in_the_published_schemas() -> None:
    # Mediation case notes never leave the mediation service: the schema says so
    for cls in (MediationStarted, MediationClosed):
        assert cls.holder_only_fields() == {"case_notes": Agency.MEDIATION}
        assert EVENT_SCHEMAS[cls]["properties"]["case_notes"][HOLDER_KEY] == "mediation"


def test_the_model_walker_reaches_nested_models() -> None:
    # (guards the helper the tests above rely on)
    reached = {m.__name__ for m in _models(RecepisseIssued | None)}
    assert {"RecepisseIssued", "CheckedPerson", "GeoPoint"} <= reached
