"""A broken scenario is refused with every fault located: its file (the scenario, its inject
table), its line and the path inside it — YAML, structure, references, and what the dry run
finds (injects that would not end as written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulations.exercise.errors import ScenarioError
from simulations.exercise.validation import validate_scenario

from .scenarios import DATA, SHORT

pytestmark = pytest.mark.unit


def _faults(path: Path) -> set[tuple[str, int | None, str]]:
    with pytest.raises(ScenarioError) as caught:
        validate_scenario(path)
    return {(Path(p.source).name, p.line, p.path) for p in caught.value.problems}


def _messages(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        validate_scenario(path)
    return [str(p) for p in caught.value.problems]


def test_a_valid_scenario_validates() -> None:
    validated = validate_scenario(SHORT)
    assert validated.loaded.scenario.scenario.id == "court"
    assert len(validated.loaded.injects) == 3  # one in the file, two in its table


def test_a_yaml_error_names_its_line() -> None:
    [(name, line, path)] = _faults(DATA / "broken-yaml.yaml")
    assert name == "broken-yaml.yaml"
    assert line is not None
    assert line >= 9
    assert path == ""


def test_structure_errors_name_each_line() -> None:
    assert _faults(DATA / "broken-structure.yaml") == {
        ("broken-structure.yaml", 2, "scenario.id"),
        ("broken-structure.yaml", 5, "scenario.start"),
        ("broken-structure.yaml", 12, "injects[0].at"),
        ("broken-structure.yaml", 18, "injects[1].event"),
        ("broken-structure.yaml", 19, "injects[1].colour"),
    }


def test_reference_errors_name_each_line() -> None:
    assert _faults(DATA / "broken-references.yaml") == {
        ("broken-references.yaml", 5, "scenario.start"),  # outside the operation window
        ("broken-references.yaml", 10, "objectives[1]"),  # scored by nothing
        ("broken-references.yaml", 13, "population[0].unit"),  # unknown unit
        ("broken-references.yaml", 14, "population[1].unit"),  # the crisis cell's desk
        ("broken-references.yaml", 22, "injects[1].id"),  # duplicate id
        ("broken-references.yaml", 23, "injects[1].at"),  # after the end
        ("broken-references.yaml", 26, "injects[1].objective"),  # unknown objective
        ("broken-references.yaml", 27, "injects[1].payload"),  # unknown sector
        ("broken-references.yaml", 33, "expected[0].after"),  # unknown trigger
        ("broken-references.yaml", 35, "expected[0].match.couleur"),  # no such field
        ("broken-references.yaml", 39, "expected[1].after"),  # a cycle
        ("broken-references.yaml", 44, "expected[2].after"),
    }


def test_the_dry_run_finds_injects_that_would_not_end_as_written() -> None:
    messages = _messages(DATA / "broken-promises.yaml")
    assert len(messages) == 3
    # an inject outside its unit's territory, not declared as a deliberate attempt
    assert messages[0].startswith(f"{DATA / 'broken-promises.yaml'}:11: injects[0]")
    assert "Hors secteur" in messages[0]
    # a deliberate attempt that would be accepted
    assert (
        ":17: injects[1]: should be refused with outside_territory, but would be accepted"
        in (messages[1])
    )
    # a simulated answer the coordinator would refuse (private security cannot be assigned)
    assert ":32: expected[0].response: the simulated answer would be refused" in messages[2]
    assert "compétent(s)" in messages[2]


def test_an_inject_table_error_names_its_row() -> None:
    assert _faults(DATA / "broken-table.yaml") == {
        ("broken-table.csv", 3, "at"),
        ("broken-table.csv", 4, "payload"),
    }


def test_a_missing_file_is_one_fault(tmp_path: Path) -> None:
    [(name, line, _)] = _faults(tmp_path / "absent.yaml")
    assert (name, line) == ("absent.yaml", None)


def test_a_broken_charter_is_reported_with_its_own_lines(tmp_path: Path) -> None:
    # given a scenario naming a charter with a fault at its line 3
    charter = tmp_path / "charter.yaml"
    charter.write_text("operation:\n  id: x\n  mode: nowhere\n", encoding="utf-8")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        (SHORT.read_text(encoding="utf-8"))
        .replace("../../../../infra/charters/fete-musique-presquile.yaml", "charter.yaml")
        .replace("inject_table: short-injects.csv", ""),
        encoding="utf-8",
    )
    faults = _faults(scenario)
    # then the scenario's line naming it and the charter's own faults are reported
    assert ("scenario.yaml", 6, "scenario.charter") in faults
    assert ("charter.yaml", 3, "operation.mode") in faults
