"""The hierarchy's view of identity checks: who checked, where and why, with counts, built
from the records the forces keep (which hold no identity)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.events.identity_checks import IdentityCheckRecorded
from contracts.vocabulary import Agency, Mode
from services.crisis_api.auth import Principal, Role
from services.crisis_api.hierarchy import UNCATEGORISED, CheckLine, checks_of, hierarchy_of
from unit.agency.builders import identity_check_recorded
from unit.timeline.builders import event, record

pytestmark = pytest.mark.unit

PN, GN = Agency.POLICE_NATIONALE, Agency.GENDARMERIE
STATION, SQUARE = "Gare de Lyon-Perrache", "Place Carnot"
REQUISITIONS = "Réquisitions du procureur : vols en réunion"
SUSPICION = "Signalement correspondant à la description"


def check(number: str, officer: str, place: str, *motives: str, **fields: Any) -> Any:
    document = {
        **identity_check_recorded(),
        "check": number,
        "officer_number": officer,
        "place": place,
        "motives": list(motives),
        **fields,
    }
    return IdentityCheckRecorded.model_validate(document)


def test_checks_are_counted_by_officer_place_motive_ground_and_legal_basis() -> None:
    # given four checks by two police officers and a gendarme, and an incident
    records = [
        record(1, check("RC-1", "1111111", STATION, REQUISITIONS), PN),
        record(2, event("incident.reported"), PN),
        record(3, check("RC-2", "1111111", STATION, REQUISITIONS, SUSPICION), PN),
        record(4, check("RC-3", "2222222", SQUARE, SUSPICION, SUSPICION, ground=None), PN),
        record(5, check("RC-4", "3333333", SQUARE, REQUISITIONS, grade="Maréchal des logis"), GN),
    ]
    # when the hierarchy looks at them
    view = hierarchy_of(records, mode=Mode.LIVE, operation="timeline-test")
    # then every check is listed in timeline order, the incident is not
    assert view.total == 4
    assert [c.check for c in view.checks] == ["RC-1", "RC-2", "RC-3", "RC-4"]

    def counts(tallies: Any) -> dict[str, tuple[int, list[str]]]:
        return {t.key: (t.count, t.checks) for t in tallies}

    # and each officer with their checks, the most active first
    assert counts(view.by_officer) == {
        "1111111": (2, ["RC-1", "RC-2"]),
        "2222222": (1, ["RC-3"]),
        "3333333": (1, ["RC-4"]),
    }
    assert [t.key for t in view.by_officer] == ["1111111", "2222222", "3333333"]
    gendarme = view.by_officer[2]
    assert (gendarme.agency, gendarme.grade) == ("gendarmerie", "Maréchal des logis")
    # and places; motives (a check with two counts for both, a motive stated twice once)
    assert counts(view.by_place) == {STATION: (2, ["RC-1", "RC-2"]), SQUARE: (2, ["RC-3", "RC-4"])}
    assert counts(view.by_motive) == {
        REQUISITIONS: (3, ["RC-1", "RC-2", "RC-4"]),
        SUSPICION: (2, ["RC-2", "RC-3"]),
    }
    # and grounds (one not categorised) and legal bases
    assert counts(view.by_ground) == {
        "prosecutor_requisitions": (3, ["RC-1", "RC-2", "RC-4"]),
        UNCATEGORISED: (1, ["RC-3"]),
    }
    assert counts(view.by_legal_basis) == {"cpp_78_2_al2": (4, ["RC-1", "RC-2", "RC-3", "RC-4"])}


def test_the_view_has_no_place_for_an_identity() -> None:
    # (the record has none: the view is built from the record only)
    assert not {"person", "surname", "given_names", "birth_date"} & set(CheckLine.model_fields)


def test_a_force_lists_its_own_checks_and_the_crisis_cell_every_force() -> None:
    police = Principal(name="pn", role=Role.AGENCY, agency=PN)
    assert checks_of(police) == "police_nationale"
    assert checks_of(Principal(name="cic", role=Role.CRISIS_CELL)) is None
    assert checks_of(Principal(name="formateur", role=Role.TRAINER)) is None


def test_no_checks_make_an_empty_view() -> None:
    view = hierarchy_of([record(1, event("incident.reported"))], mode=Mode.LIVE, operation="x")
    assert (view.total, view.by_officer, view.checks) == (0, [], [])
