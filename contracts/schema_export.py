"""JSON Schemas (draft 2020-12) of the contracts, rendered from the pydantic models.

The schemas are checked in under `contracts/schemas/` so that a change of a model shows up
in review as a change of its published contract, and so that non-Python consumers (the
AsyncAPI document, a crisis-cell front end, a partner's gateway) read them without Python:

    envelope.schema.json                  the CloudEvents envelope with every event in `data`
    events/<family>.<action>.schema.json  one per event type, e.g. `incident.reported`
    charter.schema.json                   the operation charter

Building and rendering are pure; `write_all` and `diff` are the only functions that touch
the file system, and they only ever touch the files of that layout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts.charter.model import Charter
from contracts.envelope import Envelope
from contracts.events.base import EventPayload
from contracts.events.catalogue import EVENT_CLASSES, short_type

#: The JSON Schema dialect pydantic generates.
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Where the schemas are checked in (inside the `contracts` package, shipped with it).
DEFAULT_DIRECTORY = Path(__file__).parent / "schemas"

ENVELOPE_PATH = "envelope.schema.json"
CHARTER_PATH = "charter.schema.json"
EVENTS_DIRECTORY = "events"
SUFFIX = ".schema.json"


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    # Validation mode: the schema says what a consumer accepts, which is the contract.
    return {"$schema": SCHEMA_DIALECT, **model.model_json_schema(mode="validation")}


def envelope_schema() -> dict[str, Any]:
    """Schema of the envelope (structured mode), every event type in `data`."""
    return _model_schema(Envelope)


def event_schema(event_class: type[EventPayload]) -> dict[str, Any]:
    """Schema of one event payload, at its current schema version."""
    return _model_schema(event_class)


def charter_schema() -> dict[str, Any]:
    """Schema of an operation charter."""
    return _model_schema(Charter)


def event_schema_path(event_type: str) -> str:
    """Relative path of an event type's schema: `events/incident.reported.schema.json`."""
    return f"{EVENTS_DIRECTORY}/{short_type(event_type)}{SUFFIX}"


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every schema by its relative path (POSIX separators)."""
    schemas: dict[str, dict[str, Any]] = {
        ENVELOPE_PATH: envelope_schema(),
        CHARTER_PATH: charter_schema(),
    }
    for event_class in EVENT_CLASSES:
        event_type = event_class.model_fields["type"].default
        schemas[event_schema_path(event_type)] = event_schema(event_class)
    return dict(sorted(schemas.items()))


def render(schema: Mapping[str, Any]) -> str:
    """The canonical text of a schema: sorted keys, indent 2, UTF-8 kept, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_all() -> dict[str, str]:
    """The text of every schema file by its relative path."""
    return {path: render(schema) for path, schema in all_schemas().items()}


def _existing(directory: Path) -> set[str]:
    # Only the layout this module writes is ours: never look (or delete) anywhere else.
    found = {p.name for p in directory.glob(f"*{SUFFIX}") if p.is_file()}
    found |= {
        f"{EVENTS_DIRECTORY}/{p.name}"
        for p in (directory / EVENTS_DIRECTORY).glob(f"*{SUFFIX}")
        if p.is_file()
    }
    return found


def diff(directory: Path | str = DEFAULT_DIRECTORY) -> list[str]:
    """How `directory` differs from a fresh render, one `<state>: <path>` line per file.

    The state is `drifted` (content differs), `missing` or `extra` (a schema file of the
    layout that no model produces any more). Empty when everything is up to date.
    """
    directory = Path(directory)
    expected = render_all()
    existing = _existing(directory)
    problems: list[tuple[str, str]] = []
    for path, text in expected.items():
        if path not in existing:
            problems.append((path, "missing"))
        elif (directory / path).read_bytes() != text.encode("utf-8"):
            problems.append((path, "drifted"))
    problems.extend((path, "extra") for path in existing - expected.keys())
    return [f"{state}: {path}" for path, state in sorted(problems)]


def write_all(directory: Path | str = DEFAULT_DIRECTORY) -> list[str]:
    """Make `directory` equal to a fresh render; return what changed (as `diff` words it).

    Unchanged files are not rewritten; extra schema files of the layout are removed.
    """
    directory = Path(directory)
    changes = diff(directory)
    expected = render_all()
    for change in changes:
        state, path = change.split(": ", 1)
        target = directory / path
        if state == "extra":
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(expected[path].encode("utf-8"))
    return changes
