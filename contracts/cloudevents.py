"""CloudEvents encodings of an envelope: JSON structured mode and the NATS binary binding.

Structured: the whole envelope as one JSON object (`application/cloudevents+json`).
Binary: attributes as `ce-<name>` headers (values percent-encoded as the HTTP binding
specifies, which the NATS binding follows), `content-type` for `datacontenttype`, and
`data` as the message body.

Decoding never raises anything but `EnvelopeError`, whose `code` is a stable reason code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from pydantic import ValidationError

from contracts.envelope import (
    CONTENT_TYPE_JSON,
    CORE_ATTRIBUTES,
    EXTENSION_ATTRIBUTES,
    Envelope,
)
from contracts.errors import EnvelopeError
from contracts.events.catalogue import EVENT_TYPES
from contracts.reasons import ReasonCode

HEADER_PREFIX = "ce-"
CONTENT_TYPE_HEADER = "content-type"
_ATTRIBUTES = frozenset(CORE_ATTRIBUTES + EXTENSION_ATTRIBUTES) - {"datacontenttype"}
_FORBIDDEN_HEADERS = frozenset({HEADER_PREFIX + "data", HEADER_PREFIX + "datacontenttype"})

#: Printable ASCII except space, `"` and `%` go as they are; everything else is %XX of UTF-8.
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')


def percent_encode(value: str) -> str:
    """Encode a header value as the CloudEvents HTTP binding specifies (section 3.1.3.2)."""
    return quote(value, safe=_SAFE, encoding="utf-8", errors="strict")


def percent_decode(value: str) -> str:
    """Decode a percent-encoded header value; invalid UTF-8 is an error."""
    return unquote(value, encoding="utf-8", errors="strict")


def to_structured(envelope: Envelope) -> bytes:
    """The CloudEvents JSON (structured mode) bytes of an envelope."""
    return envelope.model_dump_json(exclude_none=True).encode()


def to_binary(envelope: Envelope) -> tuple[dict[str, str], bytes]:
    """NATS binary binding: (`ce-*` headers plus `content-type`, data bytes)."""
    attributes = envelope.model_dump(mode="json", exclude_none=True, exclude={"data"})
    headers = {CONTENT_TYPE_HEADER: str(attributes.pop("datacontenttype"))}
    for name, value in attributes.items():
        headers[HEADER_PREFIX + name] = percent_encode(str(value))
    return headers, envelope.data.model_dump_json(exclude_none=True).encode()


def from_structured(raw: bytes | str) -> Envelope:
    """Decode CloudEvents JSON into an envelope, or raise `EnvelopeError`."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise EnvelopeError(ReasonCode.MALFORMED, f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise EnvelopeError(ReasonCode.MALFORMED, "a CloudEvent must be a JSON object")
    return envelope_from_mapping(document)


def from_binary(headers: Mapping[str, str], body: bytes) -> Envelope:
    """Decode the NATS binary binding into an envelope, or raise `EnvelopeError`."""
    attributes: dict[str, Any] = {}
    for key, value in headers.items():
        name = key.lower()
        if name in _FORBIDDEN_HEADERS:
            raise EnvelopeError(
                ReasonCode.INVALID_ENVELOPE,
                f"header {key}: data travels in the body and its type in content-type",
            )
        if name == CONTENT_TYPE_HEADER:
            attributes["datacontenttype"] = value.split(";")[0].strip()
        elif name.startswith(HEADER_PREFIX):
            try:
                attributes[name.removeprefix(HEADER_PREFIX)] = percent_decode(value)
            except UnicodeDecodeError as exc:
                raise EnvelopeError(
                    ReasonCode.INVALID_ENVELOPE, f"header {key}: invalid percent-encoding"
                ) from exc
    if attributes.get("datacontenttype", CONTENT_TYPE_JSON) != CONTENT_TYPE_JSON:
        raise EnvelopeError(
            ReasonCode.INVALID_ENVELOPE,
            f"content-type {attributes['datacontenttype']!r} is not {CONTENT_TYPE_JSON}",
        )
    try:
        attributes["data"] = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise EnvelopeError(ReasonCode.MALFORMED, f"body is not JSON: {exc}") from exc
    return envelope_from_mapping(attributes)


def envelope_from_mapping(document: Mapping[str, Any]) -> Envelope:
    """Validate a decoded JSON object as an envelope, naming the failure with a reason code."""
    unknown = set(document) - _ATTRIBUTES - {"data", "datacontenttype"}
    if unknown:
        raise EnvelopeError(
            ReasonCode.INVALID_ENVELOPE, f"unknown attribute(s): {', '.join(sorted(unknown))}"
        )
    event_type = document.get("type")
    if isinstance(event_type, str) and event_type not in EVENT_TYPES:
        raise EnvelopeError(ReasonCode.UNKNOWN_TYPE, f"unknown event type {event_type[:200]!r}")
    data = document.get("data")
    if isinstance(data, dict) and "type" not in data and isinstance(event_type, str):
        document = {**document, "data": {**data, "type": event_type}}
    try:
        return Envelope.model_validate(document)
    except ValidationError as exc:
        raise EnvelopeError(_reason_of(exc), _summary(exc)) from exc


def _reason_of(exc: ValidationError) -> ReasonCode:
    errors = exc.errors(include_url=False)
    if any(e["type"] == "unsupported_schema_version" for e in errors):
        return ReasonCode.UNSUPPORTED_SCHEMA_VERSION
    if all(e["loc"] and e["loc"][0] == "data" for e in errors):
        return ReasonCode.INVALID_PAYLOAD
    return ReasonCode.INVALID_ENVELOPE


def _summary(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "<envelope>"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
