"""Technology bounded by law (doctrine point 7), on what ships: the published schema files,
every pydantic model and enumeration of the project, and the two real charters decided by
the coordinator's core from raw proposal bytes.

- nothing biometric can be named *or described*, in any schema file or any model;
- a drone flight outside its authorisation is refused, and a charter without a drone
  authorisation refuses every flight;
- video analytics knows abandoned luggage only: any other category is refused by the
  published schema, the agency service and the coordinator alike.

The perimeter engine's own cases (every way out of an authorisation, on the doctrine
charter) are in tests/unit/perimeter/test_doctrine.py; the names in the rendered schemas in
tests/unit/test_schemas.py, whose biometric detector these scans use.
"""

from __future__ import annotations

import enum
import importlib
import json
import pkgutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import BaseModel, Field

from contracts import schema_export, subjects
from contracts.charter.loader import load_charter
from contracts.charter.model import Charter
from contracts.ids import OperationId
from contracts.reasons import ReasonCode
from contracts.routing import MSG_ID_HEADER
from contracts.vocabulary import Agency, Mode
from services.agency.domain import AgencyProfile, enrich
from services.agency.errors import ReportRefusedError
from services.coordinator.domain import Coordinator, Incoming, Outcome
from services.coordinator.perimeter import compile_charter
from simulations.festival.places import Places
from unit.agency.builders import engaged, report_of
from unit.test_schemas import _nodes, _smells_biometric

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILES = sorted((ROOT / "contracts" / "schemas").rglob("*.json"))
SCHEMA_FILES.append(ROOT / "services" / "crisis_api" / "openapi.json")
PACKAGES = ("contracts", "services", "simulations", "interforces", "infra")
STADIUM = ROOT / "infra/charters/concert-stade.yaml"
FESTIVAL = ROOT / "infra/charters/fete-musique-presquile.yaml"
DRONE_ORDER = "Arrêté préfectoral n° 69-2026-07-01-00012"
DRONE = "fr.interforces.drone.flight_started"
ANALYTICS = "fr.interforces.video_analytics.alerted"

# --- nothing biometric, in names or in words ----------------------------------------------


def flagged_in_document(document: Any) -> list[str]:
    """Names and words of a JSON document (schema or OpenAPI) that smell biometric."""
    found: list[str] = []
    for node in _nodes(document):
        words = [*node.get("properties", {}), *node.get("$defs", {})]
        words += [node[k] for k in ("title", "description", "summary", "const") if k in node]
        words += node.get("enum", [])
        found += [w for w in words if isinstance(w, str) and _smells_biometric(w)]
    return found


def flagged_in_model(model: type[BaseModel]) -> list[str]:
    """Names and words of a model (class, docstring, fields, aliases, descriptions)."""
    words = [model.__name__, model.__doc__ or ""]
    for name, info in model.model_fields.items():
        words += [name, info.alias or "", info.title or "", info.description or ""]
    return [f"{model.__name__}: {w}" for w in words if _smells_biometric(w)]


def flagged_in_enum(kind: type[enum.Enum]) -> list[str]:
    """Names and words of an enumeration (class, docstring, members, values)."""
    words = [kind.__name__, kind.__doc__ or ""]
    words += [m.name for m in kind] + [str(m.value) for m in kind]
    return [f"{kind.__name__}: {w}" for w in words if _smells_biometric(w)]


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@cache
def project_types() -> tuple[list[type[BaseModel]], list[type[enum.Enum]]]:
    """Every pydantic model and enumeration defined in the project's packages."""
    for package in PACKAGES:
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            if not module.name.endswith("__main__"):  # importing those would run a service
                importlib.import_module(module.name)

    def ours(cls: type) -> bool:
        return cls.__module__.split(".")[0] in PACKAGES

    models = sorted({m for m in _subclasses(BaseModel) if ours(m)}, key=lambda m: m.__qualname__)
    enums = sorted({e for e in _subclasses(enum.Enum) if ours(e)}, key=lambda e: e.__qualname__)
    return models, enums


def test_the_scans_see_a_biometric_name_or_word_wherever_it_hides() -> None:
    document = {"properties": {"faceprint": {"type": "string", "description": "x"}}}
    described = {"properties": {"match": {"description": "résultat de reconnaissance faciale"}}}
    assert flagged_in_document(document) == ["faceprint"]
    assert flagged_in_document(described) == ["résultat de reconnaissance faciale"]

    class Probe(BaseModel):
        """A camera alert."""

        gait_signature: str = Field(description="how the person walks")
        score: float = Field(description="Similarity given by the facial recognition engine.")

    assert flagged_in_model(Probe) == [
        "Probe: gait_signature",
        "Probe: Similarity given by the facial recognition engine.",
    ]

    class Kind(enum.StrEnum):
        """What was seen."""

        LUGGAGE = "abandoned_luggage"
        IRIS = "iris_scan"

    assert flagged_in_enum(Kind) == ["Kind: IRIS", "Kind: iris_scan"]


def test_the_files_scanned_are_every_published_schema() -> None:
    published = {ROOT / "contracts" / "schemas" / p for p in schema_export.all_schemas()}
    assert published <= set(SCHEMA_FILES)
    assert len(SCHEMA_FILES) > 30


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_no_schema_file_names_or_describes_anything_biometric(path: Path) -> None:
    assert flagged_in_document(json.loads(path.read_text(encoding="utf-8"))) == []


def test_no_model_or_enumeration_names_or_describes_anything_biometric() -> None:
    models, enums = project_types()
    names = {m.__name__ for m in models} | {e.__name__ for e in enums}
    # (the walk reaches the contracts, the services' settings and the API's answers)
    assert {"Envelope", "Charter", "VideoAnalyticsAlerted", "CheckedPerson"} <= names
    assert {"AgencySettings", "HierarchyView", "PublicReport", "ReasonCode"} <= names
    flagged = [f for m in models for f in flagged_in_model(m)]
    flagged += [f for e in enums for f in flagged_in_enum(e)]
    assert flagged == []


# --- drones and video analytics, decided from raw bytes on the shipped charters ----------


@cache
def charter(path: Path) -> Charter:
    return load_charter(path)


def decide(
    path: Path, data: dict[str, Any], *, agency: Agency, unit: str, sector: str, at: str
) -> Outcome:
    """The coordinator's core deciding one proposal as it arrives (structured CloudEvent)."""
    plan = charter(path)
    operation = plan.operation.id
    event_id = str(uuid.uuid4())
    document = {
        "specversion": "1.0",
        "id": event_id,
        "source": f"/interforces/{agency.value}/{unit}",
        "type": data["type"],
        "time": at,
        "datacontenttype": "application/json",
        "operation": operation,
        "mode": "live",
        "agency": agency.value,
        "unit": unit,
        "sector": sector,
        "classification": "restricted",
        "data": data,
    }
    core = Coordinator({OperationId(operation): compile_charter(plan)})
    incoming = Incoming(
        subject=subjects.proposal(Mode.LIVE, operation, agency, data["type"]),
        headers={MSG_ID_HEADER: event_id},
        body=json.dumps(document).encode(),
        received_at=datetime.fromisoformat(at),
    )
    return core.decide(Mode.LIVE, incoming)


def codes(outcome: Outcome) -> set[ReasonCode]:
    return {r.code for r in outcome.reasons}


def flight(path: Path, sector: str, reference: str = DRONE_ORDER) -> dict[str, Any]:
    return {
        "type": DRONE,
        "flight": "D-1",
        "authorisation": reference,
        "position": Places(charter(path)).centre(sector).model_dump(),
        "max_altitude_m": 80,
        "purpose": "Surveillance des flux de spectateurs",
    }


def alert(sector: str, category: str = "abandoned_luggage", path: Path = STADIUM) -> dict[str, Any]:
    return {
        "type": ANALYTICS,
        "alert": "VA-1",
        "category": category,
        "camera": "CAM-PARVIS-N-3",
        "position": Places(charter(path)).centre(sector).model_dump(),
        "confidence": 0.91,
    }


PN, PM = Agency.POLICE_NATIONALE, Agency.POLICE_MUNICIPALE
IN_WINDOW, BEFORE_WINDOW = "2026-07-04T21:00:00+02:00", "2026-07-04T19:45:00+02:00"
#: The stadium's drone pilots and its video-protection centre (which runs the analytics).
PILOT: Final[dict[str, Any]] = {"agency": PN, "unit": "PN-DRONE-1"}
CSU: Final[dict[str, Any]] = {"agency": PM, "unit": "PMD-CSU"}


def test_a_drone_flight_inside_its_authorisation_is_accepted() -> None:
    data = flight(STADIUM, "parvis-nord")
    outcome = decide(STADIUM, data, **PILOT, sector="parvis-nord", at=IN_WINDOW)
    assert outcome.accepted, outcome.reasons


@pytest.mark.parametrize(
    ("sector", "at", "reference"),
    [
        pytest.param("parvis-nord", BEFORE_WINDOW, DRONE_ORDER, id="before the order's window"),
        pytest.param("pelouse", IN_WINDOW, DRONE_ORDER, id="over a sector the order leaves out"),
        pytest.param("parvis-nord", IN_WINDOW, "Arrêté 69-2026-FAUX", id="under another order"),
    ],
)
def test_a_drone_flight_outside_its_authorisation_is_refused(
    sector: str, at: str, reference: str
) -> None:
    data = flight(STADIUM, sector, reference)
    outcome = decide(STADIUM, data, **PILOT, sector=sector, at=at)
    assert not outcome.accepted
    assert ReasonCode.DRONE_NOT_AUTHORISED in codes(outcome)


def test_a_charter_without_a_drone_order_refuses_every_flight() -> None:
    assert charter(FESTIVAL).authorisations.drones == ()
    at = "2026-06-21T22:00:00+02:00"
    data = flight(FESTIVAL, "terreaux")
    outcome = decide(FESTIVAL, data, agency=PN, unit="PN-AINAY-1", sector="terreaux", at=at)
    assert not outcome.accepted
    assert ReasonCode.DRONE_NOT_AUTHORISED in codes(outcome)


def test_abandoned_luggage_on_an_authorised_forecourt_is_accepted() -> None:
    outcome = decide(STADIUM, alert("parvis-nord"), **CSU, sector="parvis-nord", at=IN_WINDOW)
    assert outcome.accepted, outcome.reasons


OTHER_CATEGORIES = ["facial_recognition", "person_tracking", "crowd_counting", "weapon"]


@pytest.mark.parametrize("category", OTHER_CATEGORIES)
def test_any_other_analytics_category_is_refused_by_the_coordinator(category: str) -> None:
    data = alert("parvis-nord", category)
    outcome = decide(STADIUM, data, **CSU, sector="parvis-nord", at=IN_WINDOW)
    # the proposal cannot be read as an event: refused and recorded, with its reason
    assert not outcome.accepted
    assert codes(outcome) == {ReasonCode.INVALID_PAYLOAD}
    assert outcome.record.type == "fr.interforces.perimeter.violated"


@pytest.mark.parametrize("category", OTHER_CATEGORIES)
def test_any_other_analytics_category_is_refused_by_the_published_schema(category: str) -> None:
    schema = schema_export.all_schemas()[schema_export.event_schema_path(ANALYTICS)]
    jsonschema.Draft202012Validator(schema).validate(alert("parvis-nord"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(alert("parvis-nord", category))


@pytest.mark.parametrize("category", OTHER_CATEGORIES)
def test_any_other_analytics_category_is_refused_by_the_agency_service(category: str) -> None:
    key = b"k" * 32
    municipal = AgencyProfile(PM)
    report = report_of(key, PM, alert("terreaux", category, FESTIVAL), unit="PM-TERREAUX-1")
    with pytest.raises(ReportRefusedError) as refused:
        enrich(municipal, report, engaged(key, PM, report))
    assert refused.value.code is ReasonCode.INVALID_PAYLOAD
