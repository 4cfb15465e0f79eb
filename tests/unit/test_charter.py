"""Operation charters: the shipped ones, the loader's error reports, the gap rules, the CLI."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from contracts.charter import Charter, load_charter, parse_charter
from contracts.charter.gaps import (
    Gap,
    GapCode,
    area_hectares,
    find_gaps,
    has_errors,
    sector_rows,
    summary_rows,
)
from contracts.errors import CharterError
from contracts.geo import Polygon
from contracts.vocabulary import (
    PRIVATE_SECURITY_SECTOR_KINDS,
    VIOLENT_CATEGORIES,
    Agency,
    IncidentCategory,
    SectorKind,
)
from interforces.cli import app

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "infra" / "charters"
FETE = SHIPPED / "fete-musique-presquile.yaml"
STADE = SHIPPED / "concert-stade.yaml"
BROKEN = ROOT / "tests" / "data" / "charters"

PARIS_SUMMER = "+02:00"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- Shipped charters ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [FETE, STADE], ids=["fete-musique", "concert-stade"])
def test_shipped_charter_loads_without_doctrine_errors(path: Path) -> None:
    charter = load_charter(path)
    gaps = find_gaps(charter)
    assert not has_errors(gaps), [g.message for g in gaps if g.severity == "error"]
    assert [g for g in gaps if g.severity == "warning"] == []


@pytest.mark.parametrize("path", [FETE, STADE], ids=["fete-musique", "concert-stade"])
def test_shipped_charter_sectors_are_around_lyon(path: Path) -> None:
    charter = load_charter(path)
    for sector in charter.sectors:
        assert isinstance(sector.geometry, Polygon)
        for lon, lat in sector.geometry.coordinates[0]:
            assert 4.75 < lon < 5.1, sector.id
            assert 45.70 < lat < 45.82, sector.id
    assert all(row.area_ha > 0.1 for row in sector_rows(charter))


@pytest.mark.parametrize("path", [FETE, STADE], ids=["fete-musique", "concert-stade"])
def test_shipped_charter_respects_the_doctrine_by_construction(path: Path) -> None:
    charter = load_charter(path)
    kinds = {s.id: s.kind for s in charter.sectors}
    private = charter.actor(Agency.SECURITE_PRIVEE)
    assert private is not None
    assert {kinds[s] for s in private.sectors} <= PRIVATE_SECURITY_SECTOR_KINDS
    for agency in (Agency.MEDIATION, Agency.SECURITE_PRIVEE):
        actor = charter.actor(agency)
        assert actor is not None
        assert not set(actor.competences.incident_categories) & VIOLENT_CATEGORIES
    crisis = charter.actor(Agency.CRISIS_CELL)
    assert crisis is not None
    assert {"public_alerting", "evacuation"} <= {c.value for c in crisis.capabilities}
    # Mediators get incidents of their own sectors without description, positions coarsened.
    mediation_rules = [
        r
        for r in charter.distribution
        if Agency.MEDIATION in r.recipients and "fr.interforces.incident.*" in r.types
    ]
    assert len(mediation_rules) == 1
    assert mediation_rules[0].scope == "own_sectors"
    assert mediation_rules[0].remove == ("description",)
    assert [(c.field, c.decimals) for c in mediation_rules[0].coarsen] == [("position", 3)]


def test_fete_musique_key_facts() -> None:
    charter = load_charter(FETE)
    operation = charter.operation
    assert operation.window.start == _at("2026-06-21T18:00:00" + PARIS_SUMMER)
    assert operation.window.end == _at("2026-06-22T05:00:00" + PARIS_SUMMER)
    assert len(charter.sectors) >= 10
    kinds = {s.kind for s in charter.sectors}
    assert {SectorKind.VENUE_INTERIOR, SectorKind.VENUE_ENTRANCE, SectorKind.STATION} <= kinds
    assert SectorKind.POLICE_ZONE in kinds
    municipal = charter.actor(Agency.POLICE_MUNICIPALE)
    assert municipal is not None
    assert municipal.armed is True
    assert "video_protection" in {c.value for c in municipal.capabilities}
    mediation = charter.actor(Agency.MEDIATION)
    assert mediation is not None
    evening = [u for u in mediation.units if u.window is not None]
    assert evening
    assert all(u.window.start.hour >= 20 for u in evening if u.window is not None)
    (extract,) = charter.authorisations.video_extracts
    assert set(extract.requesters) == {Agency.POLICE_NATIONALE, Agency.POLICE_MUNICIPALE}
    assert extract.granted_by is Agency.POLICE_MUNICIPALE
    national = charter.actor(Agency.POLICE_NATIONALE)
    assert national is not None
    assert {"gare-perrache", "ainay"} <= set(national.sectors)


def test_concert_stade_key_facts() -> None:
    charter = load_charter(STADE)
    assert len(charter.sectors) >= 20
    assert len(charter.actors) >= 6
    assert {a.agency for a in charter.actors} >= {
        Agency.POLICE_NATIONALE,
        Agency.GENDARMERIE,
        Agency.POLICE_MUNICIPALE,
        Agency.SECURITE_PRIVEE,
        Agency.MEDIATION,
        Agency.CRISIS_CELL,
    }
    entrances = [s for s in charter.sectors if s.kind is SectorKind.VENUE_ENTRANCE]
    assert len(entrances) >= 8
    for agency in (Agency.POLICE_NATIONALE, Agency.GENDARMERIE):
        actor = charter.actor(agency)
        assert actor is not None
        assert actor.armed
    (drone,) = charter.authorisations.drones
    assert drone.operator is Agency.POLICE_NATIONALE
    assert drone.reference == "Arrêté préfectoral n° 69-2026-07-01-00012"
    assert drone.window.start == _at("2026-07-04T20:00:00" + PARIS_SUMMER)
    assert drone.window.end == _at("2026-07-05T01:00:00" + PARIS_SUMMER)
    kinds = {s.id: s.kind for s in charter.sectors}
    assert all(kinds[s] is not SectorKind.VENUE_INTERIOR for s in drone.sectors)
    (analytics,) = charter.authorisations.video_analytics
    assert analytics.categories == ("abandoned_luggage",)
    assert charter.operation.window.covers(drone.window)


# --- Broken charters: file, path and line of every fault ----------------------------------


def _marker_line(path: Path, fragment: str) -> int:
    """The 1-based line of the fixture marked `# <- ERROR <fragment>`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if f"<- ERROR {fragment}" in line:
            return number
    raise AssertionError(f"no marker for {fragment!r} in {path}")


@pytest.mark.parametrize(
    ("name", "where", "fragment"),
    [
        ("broken-charter.yaml", "actors[0].sectors[1]", "unknown sector 'bellecourt'"),
        (
            "broken-charter.yaml",
            "authorisations.video_extracts[0].sectors[0]",
            "unknown sector 'perrache'",
        ),
        ("broken-polygon.yaml", "sectors[1]", "invalid geometry: Self-intersection"),
        ("broken-window.yaml", "operation.window", "end must come after start"),
        (
            "broken-event-type.yaml",
            "actors[0].competences.events[1]",
            "unknown event type 'incident.reportd'",
        ),
        ("broken-yaml.yaml", "", "YAML"),
    ],
)
def test_broken_charter_names_file_path_and_line(name: str, where: str, fragment: str) -> None:
    path = BROKEN / name
    with pytest.raises(CharterError) as caught:
        load_charter(path)
    line = _marker_line(path, fragment)
    matching = [p for p in caught.value.problems if fragment in p.message]
    assert len(matching) == 1, caught.value.problems
    (problem,) = matching
    assert problem.source == str(path)
    assert problem.path == where
    assert problem.line == line
    assert f"{path}:{line}: {where or '<root>'}: " in str(caught.value)


def test_every_broken_fixture_is_covered() -> None:
    assert sorted(p.name for p in BROKEN.glob("broken-*.yaml")) == [
        "broken-charter.yaml",
        "broken-event-type.yaml",
        "broken-polygon.yaml",
        "broken-window.yaml",
        "broken-yaml.yaml",
    ]


def test_missing_file_is_a_charter_error() -> None:
    with pytest.raises(CharterError) as caught:
        load_charter(BROKEN / "no-such-charter.yaml")
    assert "no-such-charter.yaml" in str(caught.value)


# --- Gap rules on minimal crafted charters ------------------------------------------------

_ALL_CATEGORIES = [c.value for c in IncidentCategory]
_WINDOW = {"start": "2026-06-21T18:00:00+02:00", "end": "2026-06-22T05:00:00+02:00"}


def _square(lon: float, lat: float, side: float = 0.002) -> dict[str, Any]:
    ring = [[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _base() -> dict[str, Any]:
    """A minimal charter with no gap at all: every rule below breaks it in one way."""
    sectors = [
        ("fest", "Zone festive", "festivity_zone", 4.830),
        ("hall", "Salle", "venue_interior", 4.833),
        ("gate", "Entrée de la salle", "venue_entrance", 4.836),
        ("station", "Gare", "station", 4.839),
    ]
    all_ids = [s[0] for s in sectors]
    return {
        "operation": {
            "id": "gap-test",
            "name": "Banc d'essai des lacunes",
            "mode": "live",
            "window": dict(_WINDOW),
            "authority": "Préfet du Rhône",
        },
        "sectors": [
            {"id": i, "name": n, "kind": k, "geometry": _square(lon, 45.76)}
            for i, n, k, lon in sectors
        ],
        "actors": [
            {
                "agency": "police_nationale",
                "name": "DDSP du Rhône",
                "armed": True,
                "capabilities": ["public_order"],
                "sectors": list(all_ids),
                "units": [{"id": "PN-1"}],
                "competences": {
                    "events": ["incident.reported", "incident.acknowledged"],
                    "incident_categories": list(_ALL_CATEGORIES),
                },
            },
            {
                "agency": "securite_privee",
                "name": "Société de sécurité de la salle",
                "capabilities": ["screening", "site_surveillance"],
                "sectors": ["hall", "gate"],
                "competences": {
                    "events": ["screening.reported", "site_incident.reported"],
                    "incident_categories": ["entrance_incident", "medical", "theft"],
                },
            },
            {
                "agency": "mediation",
                "name": "Association de médiation",
                "capabilities": ["mediation"],
                "sectors": ["fest"],
                "units": [{"id": "MED-1"}],
                "competences": {
                    "events": ["mediation.started", "incident.reported"],
                    "incident_categories": ["noise_complaint", "vulnerable_person"],
                },
            },
            {
                "agency": "crisis_cell",
                "name": "COD préfecture",
                "capabilities": ["public_alerting"],
                "sectors": list(all_ids),
                "competences": {"events": ["incident.assigned", "public_alert.issued"]},
            },
        ],
        "distribution": [
            {"recipients": ["securite_privee"], "types": ["incident.*"], "scope": "own_sectors"},
            {"recipients": ["securite_privee"], "types": ["public_alert.*"]},
            {"recipients": ["police_nationale", "crisis_cell"], "types": ["*"]},
        ],
    }


def _charter(data: dict[str, Any]) -> Charter:
    return parse_charter(yaml.safe_dump(data, allow_unicode=True), source="<test>")


def _actor(data: dict[str, Any], agency: str) -> dict[str, Any]:
    return next(a for a in data["actors"] if a["agency"] == agency)


def _shifted(hours: float) -> str:
    return (_at(_WINDOW["end"]) + timedelta(hours=hours)).isoformat()


Mutation = Callable[[dict[str, Any]], None]


def _uncovered(d: dict[str, Any]) -> None:
    d["sectors"].append(
        {"id": "empty", "name": "Vide", "kind": "public_space", "geometry": _square(4.842, 45.76)}
    )
    _actor(d, "crisis_cell")["sectors"].append("empty")


def _unassignable(d: dict[str, Any]) -> None:
    categories = _actor(d, "police_nationale")["competences"]["incident_categories"]
    categories.remove("fire")
    categories.remove("flood")


def _private_outside(d: dict[str, Any]) -> None:
    _actor(d, "securite_privee")["sectors"].append("fest")


def _mediation_fight(d: dict[str, Any]) -> None:
    _actor(d, "mediation")["competences"]["incident_categories"].append("fight")


def _private_riot(d: dict[str, Any]) -> None:
    _actor(d, "securite_privee")["competences"]["incident_categories"].append("riot")


def _unarmed_municipal(d: dict[str, Any]) -> None:
    d["actors"].append(
        {
            "agency": "police_municipale",
            "name": "Police municipale non armée",
            "armed": False,
            "sectors": ["fest"],
            "competences": {
                "events": ["incident.reported"],
                "incident_categories": ["incivility", "armed_threat"],
            },
        }
    )


def _extract(requesters: list[str], end: str = _WINDOW["end"]) -> dict[str, Any]:
    return {
        "reference": "VP-1",
        "requesters": requesters,
        "granted_by": "police_nationale",
        "sectors": ["fest"],
        "window": {"start": _WINDOW["start"], "end": end},
    }


def _authorisation_late(d: dict[str, Any]) -> None:
    d["authorisations"] = {"video_extracts": [_extract(["police_nationale"], _shifted(2))]}


def _authorisation_absent(d: dict[str, Any]) -> None:
    d["authorisations"] = {"video_extracts": [_extract(["police_nationale", "gendarmerie"])]}


def _drone_operator_absent(d: dict[str, Any]) -> None:
    d["authorisations"] = {
        "drones": [
            {
                "reference": "AP-69-1",
                "operator": "gendarmerie",
                "sectors": ["station"],
                "window": dict(_WINDOW),
                "purpose": "Surveillance des flux",
            }
        ]
    }


def _analytics_not_held(d: dict[str, Any]) -> None:
    d["authorisations"] = {
        "video_analytics": [
            {
                "reference": "AP-69-2",
                "operator": "securite_privee",
                "sectors": ["gate", "station"],
                "window": dict(_WINDOW),
            }
        ]
    }


def _actor_late(d: dict[str, Any]) -> None:
    _actor(d, "mediation")["window"] = {"start": _WINDOW["start"], "end": _shifted(1)}


def _unit_late(d: dict[str, Any]) -> None:
    _actor(d, "police_nationale")["units"][0]["window"] = {
        "start": "2026-06-21T20:00:00+02:00",
        "end": _shifted(0.5),
    }


def _unit_outside_actor(d: dict[str, Any]) -> None:
    mediation = _actor(d, "mediation")
    mediation["window"] = {"start": _WINDOW["start"], "end": "2026-06-22T02:00:00+02:00"}
    mediation["units"][0]["window"] = {
        "start": "2026-06-21T20:00:00+02:00",
        "end": "2026-06-22T03:00:00+02:00",
    }


def _no_mediation_capability(d: dict[str, Any]) -> None:
    _actor(d, "mediation")["capabilities"] = []


def _private_sees_everything(d: dict[str, Any]) -> None:
    d["distribution"][0]["scope"] = "all"


def _private_in_star_rule(d: dict[str, Any]) -> None:
    d["distribution"][2]["recipients"].append("securite_privee")


def _drone_without_authorisation(d: dict[str, Any]) -> None:
    national = _actor(d, "police_nationale")
    national["capabilities"].append("drone")
    national["competences"]["events"] += ["drone.flight_started", "drone.flight_ended"]


def _analytics_without_authorisation(d: dict[str, Any]) -> None:
    private = _actor(d, "securite_privee")
    private["capabilities"].append("video_analytics")
    private["competences"]["events"].append("video_analytics.alerted")


def _inject_in_live(d: dict[str, Any]) -> None:
    _actor(d, "police_nationale")["competences"]["events"].append("exercise.injected")


def _no_crisis_cell(d: dict[str, Any]) -> None:
    d["actors"] = [a for a in d["actors"] if a["agency"] != "crisis_cell"]
    d["distribution"][2]["recipients"] = ["police_nationale"]


def _overlap(d: dict[str, Any]) -> None:
    d["sectors"].append(
        {
            "id": "fest-bis",
            "name": "Zone festive bis",
            "kind": "festivity_zone",
            "geometry": _square(4.831, 45.761),
        }
    )
    _actor(d, "police_nationale")["sectors"].append("fest-bis")


def _swapped(d: dict[str, Any]) -> None:
    d["sectors"].append(
        {
            "id": "swapped",
            "name": "Inversé",
            "kind": "public_space",
            "geometry": _square(45.76, 4.83),
        }
    )
    _actor(d, "police_nationale")["sectors"].append("swapped")


GAP_CASES: list[tuple[str, Mutation, GapCode, str, str]] = [
    ("uncovered", _uncovered, GapCode.SECTOR_UNCOVERED, "warning", "« empty »"),
    ("unassignable", _unassignable, GapCode.CATEGORY_UNASSIGNABLE, "warning", "fire, flood"),
    ("private-outside", _private_outside, GapCode.PRIVATE_SECURITY_OUTSIDE_VENUE, "error", "fest"),
    ("mediation-fight", _mediation_fight, GapCode.VIOLENT_CATEGORY_FORBIDDEN, "error", "fight"),
    ("private-riot", _private_riot, GapCode.VIOLENT_CATEGORY_FORBIDDEN, "error", "riot"),
    ("unarmed", _unarmed_municipal, GapCode.ARMED_CATEGORY_UNARMED, "error", "armed_threat"),
    ("auth-late", _authorisation_late, GapCode.AUTHORISATION_WINDOW, "warning", "VP-1"),
    (
        "auth-absent",
        _authorisation_absent,
        GapCode.AUTHORISATION_AGENCY_ABSENT,
        "error",
        "demandeur gendarmerie",
    ),
    (
        "drone-absent",
        _drone_operator_absent,
        GapCode.AUTHORISATION_AGENCY_ABSENT,
        "error",
        "opérateur gendarmerie",
    ),
    (
        "auth-not-held",
        _analytics_not_held,
        GapCode.AUTHORISATION_SECTOR_NOT_HELD,
        "warning",
        "station",
    ),
    ("actor-late", _actor_late, GapCode.ACTOR_WINDOW, "warning", "mediation"),
    ("unit-late", _unit_late, GapCode.UNIT_WINDOW, "warning", "PN-1"),
    ("unit-outside-actor", _unit_outside_actor, GapCode.UNIT_WINDOW, "warning", "son acteur"),
    (
        "capability",
        _no_mediation_capability,
        GapCode.CAPABILITY_MISSING,
        "warning",
        "mediation.started",
    ),
    (
        "private-all",
        _private_sees_everything,
        GapCode.PRIVATE_SECURITY_DISTRIBUTION,
        "error",
        "n° 1",
    ),
    (
        "private-star",
        _private_in_star_rule,
        GapCode.PRIVATE_SECURITY_DISTRIBUTION,
        "error",
        "n° 3",
    ),
    (
        "drone",
        _drone_without_authorisation,
        GapCode.DRONE_WITHOUT_AUTHORISATION,
        "warning",
        "police_nationale",
    ),
    (
        "analytics",
        _analytics_without_authorisation,
        GapCode.VIDEO_ANALYTICS_WITHOUT_AUTHORISATION,
        "warning",
        "securite_privee",
    ),
    ("inject-live", _inject_in_live, GapCode.EXERCISE_EVENT_IN_LIVE, "error", "exercise.injected"),
    ("no-crisis-cell", _no_crisis_cell, GapCode.NO_CRISIS_CELL, "warning", "cellule de crise"),
    ("overlap", _overlap, GapCode.SECTOR_OVERLAP, "warning", "« fest-bis »"),
    ("outlier", _swapped, GapCode.SECTOR_OUTLIER, "warning", "« swapped »"),
]


def test_base_charter_has_no_gap() -> None:
    assert find_gaps(_charter(_base())) == []


@pytest.mark.parametrize(
    ("mutate", "code", "severity", "needle"),
    [case[1:] for case in GAP_CASES],
    ids=[case[0] for case in GAP_CASES],
)
def test_gap_rule_fires(mutate: Mutation, code: GapCode, severity: str, needle: str) -> None:
    data = copy.deepcopy(_base())
    mutate(data)
    gaps = find_gaps(_charter(data))
    assert {g.code for g in gaps} == {code.value}, gaps
    assert all(g.severity == severity for g in gaps)
    assert any(needle in g.message for g in gaps), gaps
    assert has_errors(gaps) is (severity == "error")


def test_every_gap_code_has_a_case() -> None:
    assert {case[2] for case in GAP_CASES} == set(GapCode)


def test_unassignable_categories_are_listed_in_one_warning() -> None:
    data = _base()
    _unassignable(data)
    (gap,) = find_gaps(_charter(data))
    assert gap.message.endswith(": fire, flood.")


def test_witness_categories_are_not_a_doctrine_error() -> None:
    data = _base()
    _actor(data, "mediation")["competences"]["witness_categories"] = ["fight", "armed_threat"]
    assert find_gaps(_charter(data)) == []


def test_witness_categories_cannot_be_assigned() -> None:
    data = _base()
    _unassignable(data)
    _actor(data, "mediation")["competences"]["witness_categories"] = ["fire"]
    (gap,) = find_gaps(_charter(data))
    assert "fire" in gap.message


def test_violent_category_of_mediation_does_not_count_as_assignable() -> None:
    data = _base()
    categories = _actor(data, "police_nationale")["competences"]["incident_categories"]
    categories.remove("fight")
    _mediation_fight(data)
    codes = {g.code: g for g in find_gaps(_charter(data))}
    assert set(codes) == {GapCode.VIOLENT_CATEGORY_FORBIDDEN, GapCode.CATEGORY_UNASSIGNABLE}
    assert "fight" in codes[GapCode.CATEGORY_UNASSIGNABLE].message


def test_armed_municipal_police_may_take_armed_threats() -> None:
    data = _base()
    _unarmed_municipal(data)
    _actor(data, "police_municipale")["armed"] = True
    assert find_gaps(_charter(data)) == []


def test_public_alerts_everywhere_are_fine_for_private_security() -> None:
    data = _base()
    data["distribution"][1]["types"] = ["public_alert.issued"]
    assert find_gaps(_charter(data)) == []


def test_drone_inside_an_authorisation_is_fine() -> None:
    data = _base()
    _drone_without_authorisation(data)
    _drone_operator_absent(data)
    data["authorisations"]["drones"][0]["operator"] = "police_nationale"
    assert find_gaps(_charter(data)) == []


def test_exercise_injects_are_fine_in_an_exercise() -> None:
    data = _base()
    data["operation"]["mode"] = "exercise"
    _inject_in_live(data)
    assert find_gaps(_charter(data)) == []


def test_sectors_that_only_touch_do_not_overlap() -> None:
    data = _base()
    data["sectors"].append(
        {
            "id": "next",
            "name": "Voisin",
            "kind": "public_space",
            "geometry": _square(4.832, 45.76, 0.001),
        }
    )
    _actor(data, "police_nationale")["sectors"].append("next")
    assert find_gaps(_charter(data)) == []


def test_gap_is_frozen() -> None:
    gap = Gap(code="x", message="y", severity="warning")
    with pytest.raises(dataclasses.FrozenInstanceError):
        gap.code = "z"  # type: ignore[misc]


# --- Summaries ----------------------------------------------------------------------------


def test_area_matches_the_spherical_formula() -> None:
    lon, lat, side = 4.83, 45.76, 0.01
    radius = 6_371_008.8
    exact_m2 = (
        radius**2
        * math.radians(side)
        * (math.sin(math.radians(lat + side)) - math.sin(math.radians(lat)))
    )
    square = Polygon.model_validate(_square(lon, lat, side))
    assert area_hectares(square) == pytest.approx(exact_m2 / 10_000, rel=1e-3)


def test_stadium_pitch_area_is_a_pitch() -> None:
    rows = {row.id: row for row in sector_rows(load_charter(STADE))}
    assert rows["pelouse"].area_ha == pytest.approx(0.79, abs=0.02)  # 110 m x 72 m
    assert rows["pelouse"].holders == (
        Agency.POLICE_NATIONALE,
        Agency.SECURITE_PRIVEE,
        Agency.CRISIS_CELL,
    )


def test_summary_rows() -> None:
    charter = _charter(_base())
    rows = {row.agency: row for row in summary_rows(charter)}
    assert list(rows) == [a.agency for a in charter.actors]
    national = rows[Agency.POLICE_NATIONALE]
    assert national.name == "DDSP du Rhône"
    assert national.armed is True
    assert national.sectors == ("fest", "hall", "gate", "station")
    assert national.event_types == ("incident.reported", "incident.acknowledged")
    assert national.event_count == 2
    assert len(national.incident_categories) == len(IncidentCategory)
    assert national.window == charter.operation.window
    assert national.own_window is False
    assert [c.value for c in rows[Agency.SECURITE_PRIVEE].capabilities] == [
        "screening",
        "site_surveillance",
    ]


def test_summary_rows_actor_window() -> None:
    data = _base()
    _actor(data, "mediation")["window"] = {
        "start": "2026-06-21T20:00:00+02:00",
        "end": "2026-06-22T02:00:00+02:00",
    }
    rows = {row.agency: row for row in summary_rows(_charter(data))}
    assert rows[Agency.MEDIATION].own_window is True
    assert rows[Agency.MEDIATION].window.start == _at("2026-06-21T20:00:00+02:00")


# --- CLI ----------------------------------------------------------------------------------

runner = CliRunner()


def _check(*args: str) -> Any:
    return runner.invoke(app, ["charter", "check", *args])


def test_cli_check_shipped_charter() -> None:
    result = _check(str(FETE))
    assert result.exit_code == 0, result.output
    assert "Fête de la musique 2026" in result.stdout
    assert "terreaux" in result.stdout
    assert "Surface (ha)" in result.stdout
    assert "Aucune lacune" in result.stdout
    assert result.stderr == ""


def test_cli_check_json() -> None:
    result = _check(str(STADE), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["operation"]["id"] == "concert-stade-2026-07-04"
    assert len(summary["sectors"]) >= 20
    assert len(summary["actors"]) >= 6
    assert summary["gaps"] == []
    assert summary["errors"] == 0
    pelouse = next(s for s in summary["sectors"] if s["id"] == "pelouse")
    assert pelouse["kind"] == "venue_interior"
    assert pelouse["area_ha"] == pytest.approx(0.79, abs=0.02)
    national = next(a for a in summary["actors"] if a["agency"] == "police_nationale")
    assert "drone.flight_started" in national["event_types"]
    assert national["armed"] is True


def test_cli_invalid_charter_exits_1_with_located_problems() -> None:
    path = BROKEN / "broken-charter.yaml"
    result = _check(str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    line = _marker_line(path, "unknown sector 'bellecourt'")
    assert f"{path}:{line}: actors[0].sectors[1]: unknown sector 'bellecourt'" in result.stderr
    assert "authorisations.video_extracts[0].sectors[0]" in result.stderr


def test_cli_yaml_error_exits_1() -> None:
    result = _check(str(BROKEN / "broken-yaml.yaml"))
    assert result.exit_code == 1
    assert "broken-yaml.yaml:15: <root>: YAML" in result.stderr


def test_cli_missing_file_exits_1() -> None:
    result = _check(str(BROKEN / "no-such-charter.yaml"))
    assert result.exit_code == 1
    assert "no-such-charter.yaml" in result.stderr


def test_cli_doctrine_error_exits_2(tmp_path: Path) -> None:
    data = _base()
    _mediation_fight(data)
    path = tmp_path / "fight.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = _check(str(path))
    assert result.exit_code == 2, result.output
    assert "ERREUR [violent_category_forbidden]" in result.stdout
    as_json = _check(str(path), "--json")
    assert as_json.exit_code == 2
    summary = json.loads(as_json.stdout)
    assert summary["errors"] == 1
    assert summary["gaps"][0]["code"] == "violent_category_forbidden"


def test_cli_warnings_only_exits_0(tmp_path: Path) -> None:
    data = _base()
    _no_crisis_cell(data)
    path = tmp_path / "no-cell.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = _check(str(path))
    assert result.exit_code == 0, result.output
    assert "AVERTISSEMENT [no_crisis_cell]" in result.stdout
