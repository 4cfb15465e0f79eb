"""Check a scenario against itself and its charter, then dry-run it offline: every fault
is reported with its file and line, none stops the search for the others."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from contracts.charter.model import Charter, Location
from contracts.events.catalogue import EVENT_TYPES
from contracts.vocabulary import Agency
from simulations.exercise.cast import Cast, CastError, Via
from simulations.exercise.charter import exercise_charter, run_operation
from simulations.exercise.check import Judgement, judge_plan
from simulations.exercise.errors import ScenarioError, ScenarioProblem
from simulations.exercise.loader import LoadedScenario, load_scenario
from simulations.exercise.plan import Plan, build_plan
from simulations.exercise.resolver import Resolver
from simulations.exercise.steps import Origin

#: Records a fault at a location.
_Fault = Callable[[Location, str], None]
#: Run id of the dry run that validation plays.
CHECK_RUN = "check"


@dataclass(frozen=True, slots=True)
class Validated:
    """A valid scenario, the plan of its default seed and how each step would end."""

    loaded: LoadedScenario
    plan: Plan
    judgements: tuple[Judgement, ...]


def validate_scenario(path: Path | str, seed: int | None = None) -> Validated:
    """Load, check and dry-run a scenario; raise `ScenarioError` listing every fault."""
    loaded = load_scenario(path)
    header = loaded.scenario.scenario
    charter = exercise_charter(loaded.charter, run_operation(header.id, CHECK_RUN))
    problems = static_problems(loaded, charter)
    if problems:
        raise ScenarioError(str(loaded.path), problems)
    plan = build_plan(loaded, charter, header.seed if seed is None else seed)
    judgements = tuple(judge_plan(plan))
    problems = judgement_problems(loaded, judgements)
    if problems:
        raise ScenarioError(str(loaded.path), problems)
    return Validated(loaded, plan, judgements)


def static_problems(loaded: LoadedScenario, charter: Charter) -> list[ScenarioProblem]:
    """Faults of the scenario itself and against its (exercise) charter."""
    scenario = loaded.scenario
    header = scenario.scenario
    out: list[ScenarioProblem] = []

    def fault(loc: Location, message: str) -> None:
        out.append(loaded.problem(loc, message))

    window = charter.operation.window
    if not (window.start <= header.start and header.end <= window.end):
        fault(
            ("scenario", "start"),
            f"the scenario ({header.start.isoformat()} for {header.duration:g} min) must lie "
            f"inside the charter's operation window ({window.start.isoformat()} → "
            f"{window.end.isoformat()})",
        )
    duration = timedelta(minutes=header.duration)
    objectives = [o.id for o in scenario.objectives]
    _duplicates(fault, "objectives", objectives)
    refs = [i.id for i in loaded.injects] + [e.id for e in scenario.expected]
    _duplicates(fault, "injects", [i.id for i in loaded.injects])
    for index, wanted in enumerate(scenario.expected):
        if wanted.id in {i.id for i in loaded.injects}:
            fault(("expected", index, "id"), f"{wanted.id!r} is already an inject's id")
    cast = Cast(charter)
    resolver = Resolver(charter, header.start)
    sectors = {s.id for s in charter.sectors}
    used: set[str] = set()
    for index, inject in enumerate(loaded.injects):
        here: Location = ("injects", index)
        if inject.at >= duration:
            fault((*here, "at"), "after the end of the scenario")
        _performer(fault, cast, (*here, "by"), inject.by)
        _payload(fault, resolver, (*here, "payload"), inject.event, inject.payload)
        if inject.sector is not None and inject.sector not in sectors:
            fault((*here, "sector"), f"no sector {inject.sector!r} in the charter")
        if inject.objective is not None:
            used.add(inject.objective)
            if inject.objective not in objectives:
                fault((*here, "objective"), f"no objective {inject.objective!r}")
    for index, wanted in enumerate(scenario.expected):
        _expected_problems(fault, cast, loaded, index, objectives, refs, used)
        if wanted.response is not None:
            payload = {**wanted.match, **wanted.response.payload}
            loc: Location = ("expected", index, "response", "payload")
            _payload(fault, resolver, loc, wanted.event, payload)
    for index, objective in enumerate(scenario.objectives):
        if objective.id not in used:
            fault(("objectives", index), "no expected action nor inject scores it")
    _cycles(fault, loaded)
    _population_problems(fault, cast, loaded, duration)
    return out


def _expected_problems(  # noqa: PLR0917 (one expected action in its context)
    fault: _Fault,
    cast: Cast,
    loaded: LoadedScenario,
    index: int,
    objectives: Sequence[str],
    refs: Sequence[str],
    used: set[str],
) -> None:
    wanted = loaded.scenario.expected[index]
    here: Location = ("expected", index)
    if wanted.after not in refs:
        fault((*here, "after"), f"no inject nor expected action {wanted.after!r}")
    if cast.actor(wanted.agency) is None:
        fault((*here, "agency"), f"{wanted.agency.value} is not an actor of the charter")
    fields = EVENT_TYPES[wanted.event].model_fields
    for name in wanted.match:
        if name not in fields:
            fault((*here, "match", name), f"{wanted.event} has no field {name!r}")
    if wanted.objective is not None:
        used.add(wanted.objective)
        if wanted.objective not in objectives:
            fault((*here, "objective"), f"no objective {wanted.objective!r}")
    response = wanted.response
    if response is not None:
        performer = _performer(
            fault, cast, (*here, "response", "by"), response.by or wanted.agency.value
        )
        if performer is not None and performer is not wanted.agency:
            fault((*here, "response", "by"), f"acts for {performer.value}, not {wanted.agency}")


def _performer(fault: _Fault, cast: Cast, loc: Location, by: str) -> Agency | None:
    try:
        return cast.resolve(by).agency
    except CastError as exc:
        fault(loc, str(exc))
        return None


def _payload(
    fault: _Fault, resolver: Resolver, loc: Location, event: str, payload: Mapping[str, Any]
) -> None:
    try:
        resolver.payload(event, payload)
    except ValueError as exc:
        fault(loc, str(exc))


def _duplicates(fault: _Fault, where: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if value in seen:
            fault((where, index, "id"), f"duplicate id {value!r}")
        seen.add(value)


def _cycles(fault: _Fault, loaded: LoadedScenario) -> None:
    after = {e.id: e.after for e in loaded.scenario.expected}
    for index, wanted in enumerate(loaded.scenario.expected):
        seen = {wanted.id}
        current = wanted.after
        while current in after:
            if current in seen:
                fault(("expected", index, "after"), f"{wanted.id} waits for itself")
                break
            seen.add(current)
            current = after[current]


def _population_problems(
    fault: _Fault, cast: Cast, loaded: LoadedScenario, duration: timedelta
) -> None:
    seen: set[str] = set()
    for index, background in enumerate(loaded.scenario.population):
        here: Location = ("population", index)
        if background.unit in seen:
            fault((*here, "unit"), f"{background.unit} is already in the population")
        seen.add(background.unit)
        try:
            performer = cast.resolve(background.unit)
        except CastError as exc:
            fault((*here, "unit"), str(exc))
            continue
        if performer.via is not Via.UNIT or performer.unit != background.unit:
            fault((*here, "unit"), f"{background.unit} is not a field unit of the charter")
            continue
        actor = cast.actor(performer.agency)
        territory = set(actor.sectors) if actor is not None else set()
        for j, sector in enumerate(background.sectors):
            if sector not in territory:
                fault((*here, "sectors", j), f"{sector!r} is not a sector of its agency")
        for j, change in enumerate(background.statuses):
            if change.at >= duration:
                fault((*here, "statuses", j, "at"), "after the end of the scenario")
        for name in ("check_in", "check_out"):
            moment = getattr(background, name)
            if moment is not None and moment >= duration:
                fault((*here, name), "after the end of the scenario")


def judgement_problems(
    loaded: LoadedScenario, judgements: Iterable[Judgement]
) -> list[ScenarioProblem]:
    """Steps that would not end as the scenario promises, located where they are written."""
    injects = {inject.id: index for index, inject in enumerate(loaded.injects)}
    expected = {wanted.id: index for index, wanted in enumerate(loaded.scenario.expected)}
    population = {str(b.unit): index for index, b in enumerate(loaded.scenario.population)}
    out: list[ScenarioProblem] = []
    for judged in judgements:
        step = judged.step
        if judged.as_promised:
            continue
        if step.origin is Origin.INJECT and step.ref in injects:
            loc: Location = ("injects", injects[step.ref])
            if step.expected_codes:
                wanted = ", ".join(step.expected_codes)
                message = f"should be refused with {wanted}, but would be {judged.describe()}"
            else:
                message = f"would be {judged.describe()}"
        elif step.origin is Origin.RESPONSE and step.ref in expected:
            loc = ("expected", expected[step.ref], "response")
            message = f"the simulated answer would be {judged.describe()}"
        else:
            loc = ("population", population.get(step.unit or "", 0))
            message = f"{step.key} ({step.short_type}) would be {judged.describe()}"
        out.append(loaded.problem(loc, message))
    return out
