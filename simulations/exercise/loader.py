"""Read a scenario file, its inject table and its charter, with every fault located: the
file, the line, the path inside the document (the charter loader's approach)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml
from pydantic import ValidationError

from contracts.charter.loader import _dotted, _line, _line_map, load_charter
from contracts.charter.model import Charter, Location
from contracts.errors import CharterError
from simulations.exercise.csv_import import read_inject_table
from simulations.exercise.errors import ScenarioError, ScenarioProblem
from simulations.exercise.model import Inject, Scenario


@dataclass(frozen=True, slots=True)
class Where:
    """Where something was written: a file and a line."""

    source: str
    line: int | None


@dataclass(frozen=True, slots=True)
class LoadedScenario:
    """A scenario read with its inject table and its charter (as written: a live charter
    is turned into an exercise one for each run), and where each part was written."""

    path: Path
    scenario: Scenario
    injects: tuple[Inject, ...]
    charter_path: Path
    charter: Charter
    lines: Mapping[Location, int]
    inject_sources: tuple[Where, ...]

    def where(self, loc: Location) -> Where:
        """The file and line of a location; injects of the table point to their row."""
        index = loc[1] if len(loc) >= 2 and loc[0] == "injects" else None
        written = len(self.scenario.injects)
        if isinstance(index, int) and written <= index < len(self.inject_sources):
            return self.inject_sources[index]
        return Where(str(self.path), _line(dict(self.lines), loc))

    def problem(self, loc: Location, message: str) -> ScenarioProblem:
        """A fault at a location."""
        where = self.where(loc)
        return ScenarioProblem(where.source, where.line, _dotted(loc), message)


def load_scenario(path: Path | str) -> LoadedScenario:
    """Read a scenario, its inject table and its charter; raise `ScenarioError` listing
    every fault of structure (the checks against the charter are `validate_scenario`'s)."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, [ScenarioProblem(source, None, "", str(exc))]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(source, [ScenarioProblem(source, line, "", f"YAML: {exc}")]) from exc
    lines = _line_map(node) if node is not None else {}
    try:
        scenario = Scenario.model_validate(document)
    except ValidationError as exc:
        faults = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            faults.append(ScenarioProblem(source, _line(lines, loc), _dotted(loc), error["msg"]))
        raise ScenarioError(source, faults) from exc
    injects = list(scenario.injects)
    sources = [Where(source, _line(lines, ("injects", i))) for i in range(len(injects))]
    problems: list[ScenarioProblem] = []
    if scenario.inject_table is not None:
        table = path.parent / scenario.inject_table
        rows, faults = read_inject_table(table)
        problems += faults
        injects += [inject for inject, _ in rows]
        sources += [Where(str(table), line) for _, line in rows]
    charter_path = Path(os.path.normpath(path.parent / scenario.scenario.charter))
    try:
        charter = load_charter(charter_path)
    except CharterError as exc:
        at = _line(lines, ("scenario", "charter"))
        problems.append(ScenarioProblem(source, at, "scenario.charter", "invalid charter"))
        problems += [ScenarioProblem(p.source, p.line, p.path, p.message) for p in exc.problems]
        raise ScenarioError(source, problems) from exc
    if problems:
        raise ScenarioError(source, problems)
    return LoadedScenario(
        path=path,
        scenario=scenario,
        injects=tuple(injects),
        charter_path=charter_path,
        charter=charter,
        lines=MappingProxyType(lines),
        inject_sources=tuple(sources),
    )
