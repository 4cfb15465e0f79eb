"""The CloudEvents codecs: structured JSON and the NATS binary binding.

What these tests prove: every event type survives both encodings unchanged, whatever its
text holds; the structured form is a valid CloudEvent by the official JSON schema; binary
headers are printable ASCII that percent-decode to the exact attribute; and no input, however
broken, makes a decoder raise anything but `EnvelopeError` with a stable reason code.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from strategies import envelopes, sources, subjects

from contracts.cloudevents import (
    CONTENT_TYPE_HEADER,
    HEADER_PREFIX,
    from_binary,
    from_structured,
    percent_decode,
    percent_encode,
    to_binary,
    to_structured,
)
from contracts.envelope import Envelope
from contracts.errors import EnvelopeError
from contracts.events.catalogue import EVENT_TYPES
from contracts.events.incidents import IncidentReported
from contracts.reasons import ReasonCode

pytestmark = pytest.mark.unit

ROUND_TRIP = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CLOUDEVENTS_SCHEMA = json.loads(
    (Path(__file__).parents[1] / "data" / "cloudevents-1.0.schema.json").read_text("utf-8")
)
REASON_CODES = {code.value for code in ReasonCode}


# Format checkers for the two formats the CloudEvents schema uses. jsonschema only checks
# them with optional dependencies, so they are written here from RFC 3986 and RFC 3339.

_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_AUTHORITY = (
    rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"
    rf"(?:\[[0-9A-Fa-f:.vV]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*)"
    r"(?::[0-9]*)?"
)
_PATH_ABEMPTY = rf"(?:/{_PCHAR}*)*"
_PATH_ABSOLUTE = rf"/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?"
_PATH_NOSCHEME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}@]|{_PCT})+(?:/{_PCHAR}*)*"
_PATH_ROOTLESS = rf"{_PCHAR}+(?:/{_PCHAR}*)*"
_TAIL = rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
_URI = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.\-]*:(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}"
    rf"|{_PATH_ROOTLESS}|){_TAIL}"
)
_RELATIVE_REF = re.compile(
    rf"(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}|{_PATH_NOSCHEME}|){_TAIL}"
)
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("uri")  # type: ignore[untyped-decorator]
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or _URI.fullmatch(value) is not None


@FORMATS.checks("uri-reference")  # type: ignore[untyped-decorator]
def _is_uri_reference(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return _URI.fullmatch(value) is not None or _RELATIVE_REF.fullmatch(value) is not None


@FORMATS.checks("date-time", raises=ValueError)  # type: ignore[untyped-decorator]
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _RFC3339.fullmatch(value) is None:
        return False
    datetime.fromisoformat(value.replace("z", "Z"))  # raises on 2025-02-30 and the like
    return True


CLOUDEVENTS_VALIDATOR = jsonschema.Draft7Validator(CLOUDEVENTS_SCHEMA, format_checker=FORMATS)


def test_the_format_checkers_tell_good_from_bad() -> None:
    # Given values that are and are not URI-references and RFC 3339 timestamps
    good_refs = ["/pm/units/PM-12", "urn:uuid:6e8b", "https://a.example/x?y=1#z", "a%20b", ""]
    bad_refs = ["a b", 'a"b', "a%zz", "<x>", "a\\b", "1:x/ok", "{x}"]
    good_times = ["2025-06-21T20:00:00Z", "2025-06-21T20:00:00.5+02:00"]
    bad_times = ["2025-06-21 20:00:00Z", "2025-06-21T20:00:00", "2025-02-30T00:00:00Z"]
    # Then the checkers accept the first and refuse the second
    assert all(FORMATS.conforms(v, "uri-reference") for v in good_refs)
    assert not any(FORMATS.conforms(v, "uri-reference") for v in bad_refs)
    assert all(FORMATS.conforms(v, "date-time") for v in good_times)
    assert not any(FORMATS.conforms(v, "date-time") for v in bad_times)


def _valid_document() -> dict[str, Any]:
    return {
        "id": "6a0e6c1e-51b5-4bb3-9b9f-0e8f8b1d2c3a",
        "source": "/police_municipale/units/PM-12",
        "specversion": "1.0",
        "type": "fr.interforces.incident.reported",
        "time": "2025-06-21T21:30:00+02:00",
        "subject": "incident/INC-1",
        "datacontenttype": "application/json",
        "operation": "fete-musique-2025",
        "mode": "live",
        "agency": "police_municipale",
        "unit": "PM-12",
        "data": {
            "type": "fr.interforces.incident.reported",
            "schema_version": 2,
            "incident": "INC-1",
            "category": "noise_complaint",
            "position": {"lon": 4.8357, "lat": 45.764},
            "description": "Sono trop forte place des Terreaux",
        },
    }


def _structured(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def _binary(document: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    headers = {
        CONTENT_TYPE_HEADER: str(document.get("datacontenttype", "application/json")),
        **{
            HEADER_PREFIX + name: percent_encode(str(value))
            for name, value in document.items()
            if name not in {"data", "datacontenttype"}
        },
    }
    return headers, json.dumps(document.get("data")).encode()


# Round trips.


def _decoded(**changes: Any) -> Envelope:
    return from_structured(_structured({**_valid_document(), **changes}))


TRICKY = _decoded(
    subject='%" 100 % "sûr" – 🚨 %25 \\ spaces  ',
    source="/police_municipale/units/PM%2012?x=%25#f",
)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
@ROUND_TRIP
@given(data=st.data())
def test_every_event_type_round_trips_in_both_modes(event_type: str, data: st.DataObject) -> None:
    # Given any valid envelope of this type
    envelope = data.draw(envelopes([event_type]), label="envelope")
    # When it is encoded and decoded in structured mode, then in binary mode
    structured = to_structured(envelope)
    headers, body = to_binary(envelope)
    # Then both give back the same envelope, and re-encode to the same bytes
    assert from_structured(structured) == envelope
    assert from_binary(headers, body) == envelope
    assert to_structured(from_structured(structured)) == structured
    assert to_binary(from_binary(headers, body)) == (headers, body)


@MANY
@given(envelope=envelopes(subject=subjects(), source=sources()))
@example(envelope=TRICKY)
def test_tricky_subjects_and_sources_round_trip(envelope: Envelope) -> None:
    # Given an envelope whose subject holds quotes, percent signs, spaces and any script
    # When it goes through either encoding
    # Then the subject and source come back exactly
    for decoded in (from_structured(to_structured(envelope)), from_binary(*to_binary(envelope))):
        assert decoded.subject == envelope.subject
        assert decoded.source == envelope.source
        assert decoded == envelope


def test_a_violation_with_unknown_proposer_round_trips() -> None:
    # Given a violation whose proposer could not be told (an unreadable proposal)
    violation = {
        "type": "fr.interforces.perimeter.violated",
        "proposal_id": "garbled-1",
        "proposal_type": "fr.interforces.incident.reported",
        "proposer": None,
        "reasons": [{"code": "malformed", "message": "Message illisible (JSON invalide)"}],
    }
    envelope = _decoded(type=violation["type"], agency="crisis_cell", data=violation)
    # When it is encoded and decoded, then it is the same violation
    assert from_structured(to_structured(envelope)) == envelope


# The structured form is a CloudEvent; the binary form is printable and exact.


@MANY
@given(envelope=envelopes())
def test_structured_mode_is_a_valid_cloudevent(envelope: Envelope) -> None:
    # Given any envelope, when encoded in structured mode
    document = json.loads(to_structured(envelope))
    # Then the official CloudEvents 1.0 JSON schema (with its formats checked) accepts it
    errors = [e.message for e in CLOUDEVENTS_VALIDATOR.iter_errors(document)]
    assert errors == []
    # And every extension attribute is named as the spec requires
    for name in document:
        assert re.fullmatch(r"[a-z0-9]{1,20}", name), name


def test_an_empty_subject_is_refused() -> None:
    # Given a valid structured envelope, when its subject is emptied
    # Then decoding refuses it
    with pytest.raises(EnvelopeError):
        _decoded(subject="")


@MANY
@given(envelope=envelopes())
def test_binary_headers_are_printable_ascii_and_decode_exactly(envelope: Envelope) -> None:
    # Given any envelope, when encoded in binary mode
    headers, body = to_binary(envelope)
    attributes = envelope.model_dump(mode="json", exclude_none=True, exclude={"data"})
    # Then the content type says JSON and the body is the payload alone
    assert headers[CONTENT_TYPE_HEADER] == attributes.pop("datacontenttype")
    assert json.loads(body) == envelope.data.model_dump(mode="json", exclude_none=True)
    # And every attribute has its header, of printable ASCII without spaces or quotes
    assert {f"{HEADER_PREFIX}{name}" for name in attributes} == set(headers) - {CONTENT_TYPE_HEADER}
    for name, value in attributes.items():
        header = headers[f"{HEADER_PREFIX}{name}"]
        assert all(0x21 <= ord(c) <= 0x7E for c in header), header
        assert '"' not in header
        # And percent-decoding the header gives back the exact value
        assert percent_decode(header) == str(value)


@MANY
@given(value=st.text())
def test_percent_encoding_is_printable_and_reversible(value: str) -> None:
    # Given any text (surrogates excepted: they are not UTF-8)
    try:
        encoded = percent_encode(value)
    except UnicodeEncodeError:
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in value)
        return
    # Then its encoding is printable ASCII, and decodes to the text itself
    assert all(0x21 <= ord(c) <= 0x7E for c in encoded)
    assert percent_decode(encoded) == value


def test_foreign_headers_are_ignored_in_binary_mode() -> None:
    # Given a binary message to which NATS and tracing added their own headers
    envelope = _decoded()
    headers, body = to_binary(envelope)
    headers = {**headers, "Nats-Msg-Id": envelope.id, "traceparent": "00-abc-def-01"}
    # And header names in another case, and a charset on the content type
    headers = {k.upper() if k.startswith(HEADER_PREFIX) else k: v for k, v in headers.items()}
    headers[CONTENT_TYPE_HEADER] = "application/json; charset=utf-8"
    # When it is decoded, then it is the envelope sent
    assert from_binary(headers, body) == envelope


# Decoding garbage: only EnvelopeError, with the right stable code.


def test_the_valid_document_decodes_both_ways() -> None:
    # Given the document the garbage cases below are derived from
    document = _valid_document()
    # Then it is valid in both modes (so each case fails for its own reason)
    assert from_structured(_structured(document)).data == IncidentReported.model_validate(
        document["data"]
    )
    assert from_binary(*_binary(document)) == from_structured(_structured(document))


Mutation = Callable[[dict[str, Any]], None]


def _set(*path: str | int, value: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        target: Any = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(*path: str) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        target: Any = document
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _retype(event_type: str) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        document["type"] = document["data"]["type"] = event_type

    return mutate


INVALID_DOCUMENTS: dict[str, tuple[Mutation, ReasonCode]] = {
    "unknown type": (_retype("fr.interforces.ovni.sighted"), ReasonCode.UNKNOWN_TYPE),
    "foreign type": (_retype("com.example.object.deleted"), ReasonCode.UNKNOWN_TYPE),
    "schema version too new": (
        _set("data", "schema_version", value=IncidentReported.SCHEMA_VERSION + 1),
        ReasonCode.UNSUPPORTED_SCHEMA_VERSION,
    ),
    "schema version zero": (
        _set("data", "schema_version", value=0),
        ReasonCode.UNSUPPORTED_SCHEMA_VERSION,
    ),
    "schema version not an integer": (
        _set("data", "schema_version", value="2"),
        ReasonCode.UNSUPPORTED_SCHEMA_VERSION,
    ),
    "payload field missing": (_delete("data", "incident"), ReasonCode.INVALID_PAYLOAD),
    "payload position missing": (_delete("data", "position"), ReasonCode.INVALID_PAYLOAD),
    "envelope id missing": (_delete("id"), ReasonCode.INVALID_ENVELOPE),
    "envelope time missing": (_delete("time"), ReasonCode.INVALID_ENVELOPE),
    "envelope operation missing": (_delete("operation"), ReasonCode.INVALID_ENVELOPE),
    "extra attribute": (
        _set("dataschema", value="https://x.example/s"),
        ReasonCode.INVALID_ENVELOPE,
    ),
    "extra extension": (_set("facematch", value="0.98"), ReasonCode.INVALID_ENVELOPE),
    "extra payload field": (
        _set("data", "face_embedding", value="[0.1, 0.2]"),
        ReasonCode.INVALID_PAYLOAD,
    ),
    "longitude NaN": (_set("data", "position", "lon", value=math.nan), ReasonCode.INVALID_PAYLOAD),
    "latitude infinite": (
        _set("data", "position", "lat", value=math.inf),
        ReasonCode.INVALID_PAYLOAD,
    ),
    "longitude minus infinity": (
        _set("data", "position", "lon", value=-math.inf),
        ReasonCode.INVALID_PAYLOAD,
    ),
    "longitude out of range": (
        _set("data", "position", "lon", value=180.0001),
        ReasonCode.INVALID_PAYLOAD,
    ),
    "latitude out of range": (
        _set("data", "position", "lat", value=-90.5),
        ReasonCode.INVALID_PAYLOAD,
    ),
    "NUL in free text": (
        _set("data", "description", value="sono\x00forte"),
        ReasonCode.INVALID_PAYLOAD,
    ),
    "escape sequence in free text": (
        _set("data", "description", value="\x1b[31mrouge"),
        ReasonCode.INVALID_PAYLOAD,
    ),
    "bell in free text": (
        _set("data", "description", value="ding\x07"),
        ReasonCode.INVALID_PAYLOAD,
    ),
    "DEL in free text": (_set("data", "description", value="a\x7fb"), ReasonCode.INVALID_PAYLOAD),
    "unknown category": (
        _set("data", "category", value="facial_recognition"),
        ReasonCode.INVALID_PAYLOAD,
    ),
    "type differs from data.type": (
        _set("type", value="fr.interforces.incident.resolved"),
        ReasonCode.INVALID_ENVELOPE,
    ),
    "naive time": (_set("time", value="2025-06-21T21:30:00"), ReasonCode.INVALID_ENVELOPE),
    "unknown mode": (_set("mode", value="training"), ReasonCode.INVALID_ENVELOPE),
    "unknown agency": (_set("agency", value="douane"), ReasonCode.INVALID_ENVELOPE),
    "operation not a token": (_set("operation", value="Fete.2025"), ReasonCode.INVALID_ENVELOPE),
    "other spec version": (_set("specversion", value="0.3"), ReasonCode.INVALID_ENVELOPE),
    "control character in subject": (
        _set("subject", value="incident\nINC-1"),
        ReasonCode.INVALID_ENVELOPE,
    ),
    "space in source": (_set("source", value="/police municipale"), ReasonCode.INVALID_ENVELOPE),
    "sequence zero": (_set("sequence", value=0), ReasonCode.INVALID_ENVELOPE),
}


@pytest.mark.parametrize(
    ("mutate", "code"), INVALID_DOCUMENTS.values(), ids=list(INVALID_DOCUMENTS)
)
def test_invalid_documents_are_refused_with_a_stable_code(
    mutate: Mutation, code: ReasonCode
) -> None:
    # Given a valid document, broken in one way
    document = copy.deepcopy(_valid_document())
    mutate(document)
    # When it is decoded in structured mode, or in binary mode
    decoders: list[Callable[[], Envelope]] = [
        lambda: from_structured(_structured(document)),
        lambda: from_binary(*_binary(document)),
    ]
    for decode in decoders:
        # Then the decoder raises EnvelopeError with the code of that fault
        with pytest.raises(EnvelopeError) as refused:
            decode()
        assert refused.value.code == code, refused.value.message


def test_a_v1_payload_missing_its_position_is_invalid_not_crashing() -> None:
    # Given a version 1 incident (flat lon/lat) that lost its latitude
    document = _valid_document()
    document["data"] = {**document["data"], "schema_version": 1, "lon": 4.8}
    del document["data"]["position"]
    # Then the upcast payload is refused as invalid
    with pytest.raises(EnvelopeError) as refused:
        from_structured(_structured(document))
    assert refused.value.code == ReasonCode.INVALID_PAYLOAD


MALFORMED_JSON = [b"", b"{", b"not json", b"\xff\xfe\xfa", b"{'single': 'quotes'}", b"[]", b"42"]
MALFORMED_JSON += [b"null", b'"a string"', b"{}{}", b'{"id": 1,}', "é".encode("latin-1")]


@pytest.mark.parametrize("raw", MALFORMED_JSON)
def test_malformed_json_is_refused_as_malformed(raw: bytes) -> None:
    # Given bytes that are not a JSON object, then structured decoding says `malformed`
    with pytest.raises(EnvelopeError) as refused:
        from_structured(raw)
    assert refused.value.code == ReasonCode.MALFORMED


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe\xfa", b"{'a': 1}"])
def test_a_binary_body_that_is_not_json_is_refused_as_malformed(body: bytes) -> None:
    # Given valid binary headers and a body that is not JSON
    headers, _ = _binary(_valid_document())
    # Then binary decoding says `malformed`
    with pytest.raises(EnvelopeError) as refused:
        from_binary(headers, body)
    assert refused.value.code == ReasonCode.MALFORMED


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (CONTENT_TYPE_HEADER, "text/plain"),
        (CONTENT_TYPE_HEADER, "application/cloudevents+json"),
        ("ce-subject", "%C3%28"),  # percent-encoded invalid UTF-8
        ("ce-subject", "%FF"),
        ("ce-dataschema", "https%3A%2F%2Fx.example"),
        ("ce-facematch", "0.98"),
        ("ce-sequence", "premier"),
    ],
)
def test_invalid_binary_headers_are_refused_as_invalid_envelope(header: str, value: str) -> None:
    # Given valid binary headers with one header broken
    headers, body = _binary(_valid_document())
    headers[header] = value
    # Then binary decoding says `invalid_envelope`
    with pytest.raises(EnvelopeError) as refused:
        from_binary(headers, body)
    assert refused.value.code == ReasonCode.INVALID_ENVELOPE


def test_deeply_nested_json_is_refused_as_malformed() -> None:
    # Given a JSON document nested deeper than the parser's recursion limit
    raw = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    # Then decoding refuses it as malformed, like any unreadable input
    with pytest.raises(EnvelopeError) as refused:
        from_structured(raw)
    assert refused.value.code == ReasonCode.MALFORMED


# Fuzzing: whatever comes in, the decoders answer with EnvelopeError or an envelope.


def _decodes_or_refuses(decode: Callable[[], Envelope]) -> None:
    refused: EnvelopeError | None = None
    try:
        envelope = decode()
    except EnvelopeError as exc:
        refused = exc
    if refused is not None:
        assert refused.code in REASON_CODES
        assert isinstance(refused.message, str)
        return
    # What is accepted can be sent on: it re-encodes, and decodes to itself.
    assert from_structured(to_structured(envelope)) == envelope
    assert from_binary(*to_binary(envelope)) == envelope


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["live", "exercise", "1.0", "application/json", "2025-06-21T20:00:00Z"]),
    st.sampled_from(sorted(EVENT_TYPES)),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
ATTRIBUTE_NAMES = st.sampled_from(
    [*Envelope.model_fields, "dataschema", "data_base64", "Type", "ce-id", ""]
)
JSON_OBJECTS = st.dictionaries(st.one_of(ATTRIBUTE_NAMES, st.text(max_size=12)), JSON_VALUES)


@MANY
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_structured_decoding_of_arbitrary_input_raises_only_envelope_error(
    raw: bytes | str,
) -> None:
    _decodes_or_refuses(lambda: from_structured(raw))


@MANY
@given(document=JSON_OBJECTS)
def test_structured_decoding_of_arbitrary_objects_raises_only_envelope_error(
    document: dict[str, Any],
) -> None:
    _decodes_or_refuses(lambda: from_structured(json.dumps(document)))


@MANY
@given(
    headers=st.dictionaries(
        st.one_of(ATTRIBUTE_NAMES.map(lambda n: HEADER_PREFIX + n), st.text(max_size=12)),
        st.text(max_size=30),
    ),
    body=st.one_of(st.binary(max_size=100), JSON_VALUES.map(lambda v: json.dumps(v).encode())),
)
def test_binary_decoding_of_arbitrary_input_raises_only_envelope_error(
    headers: dict[str, str], body: bytes
) -> None:
    _decodes_or_refuses(lambda: from_binary(headers, body))


def _replace_somewhere(document: dict[str, Any], data: st.DataObject) -> None:
    """Replace, add or delete one value at a random place of a decoded JSON document."""
    target: Any = document
    if isinstance(document.get("data"), dict) and data.draw(st.booleans()):
        target = document["data"]  # half the time, break the payload rather than the envelope
    while True:
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        if not keys:
            break
        key = data.draw(st.sampled_from(keys))
        if isinstance(target[key], dict | list) and data.draw(st.booleans()):
            target = target[key]
            continue
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            target[key] = data.draw(JSON_VALUES)
        elif action == "delete":
            del target[key]
        elif isinstance(target, dict):
            target[data.draw(st.text(max_size=12))] = data.draw(JSON_VALUES)
        else:
            target.append(data.draw(JSON_VALUES))
        break


@MANY
@given(envelope=envelopes(), data=st.data())
def test_decoding_mutated_envelopes_raises_only_envelope_error(
    envelope: Envelope, data: st.DataObject
) -> None:
    # Given a valid envelope, with one value replaced, added or deleted somewhere
    document = json.loads(to_structured(envelope))
    for _ in range(data.draw(st.integers(1, 3))):
        _replace_somewhere(document, data)
    # When it is decoded, in either mode, then it decodes or is refused with a reason code
    raw = json.dumps(document)
    _decodes_or_refuses(lambda: from_structured(raw))
    if isinstance(document, dict):
        headers = {
            HEADER_PREFIX + k: percent_encode(v if isinstance(v, str) else json.dumps(v))
            for k, v in document.items()
            if k != "data"
        }
        body = json.dumps(document.get("data")).encode()
        _decodes_or_refuses(lambda: from_binary(headers, body))


# Times whose instant does not exist in UTC (every consumer compares instants in UTC).


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("time", "9999-12-31T23:59:59-23:59"),
        ("time", "0001-01-01T00:00:00+23:59"),
        ("recordedtime", "9999-12-31T23:30:00-01:00"),
    ],
)
def test_a_time_beyond_the_utc_range_is_an_invalid_envelope(attribute: str, value: str) -> None:
    # Given a valid document whose time is a valid RFC 3339 time outside UTC's years 1-9999
    document = _valid_document() | {attribute: value}
    # Then both decoders refuse it as an invalid envelope (nothing downstream overflows)
    decoders: list[Callable[[], Envelope]] = [
        lambda: from_structured(_structured(document)),
        lambda: from_binary(*_binary(document)),
    ]
    for decode in decoders:
        with pytest.raises(EnvelopeError) as refused:
            decode()
        assert refused.value.code == ReasonCode.INVALID_ENVELOPE


def test_the_extreme_times_inside_the_utc_range_are_kept() -> None:
    # Given the first and last instants UTC can hold, written with offsets
    for value in ("9999-12-31T23:59:59+00:00", "0001-01-01T23:58:00+23:58"):
        document = _valid_document() | {"time": value}
        # Then they decode to that very instant
        assert from_structured(_structured(document)).time.isoformat() == value
