"""From a scenario and a seed to the timed steps of one run: the background population,
the injects, and the simulated players' answers to the expected actions.

The same scenario, charter and seed always give the same steps (each unit and each answer
draws from its own random stream, seeded by the run's seed and its own id). Steps about
one incident (or perimeter) form a thread that plays in order, each step after the
previous one is answered; times inside a thread are made strictly increasing.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

from contracts.charter.model import Charter
from contracts.credentials import unit_token
from contracts.ids import derived_event_id
from services.agency.domain import proposal_id
from simulations.exercise.cast import CastError, Via
from simulations.exercise.errors import ScenarioError, ScenarioProblem
from simulations.exercise.injects import control_event_id
from simulations.exercise.loader import LoadedScenario
from simulations.exercise.model import Expected, Inject
from simulations.exercise.population import background_steps
from simulations.exercise.resolver import Resolver, about, thread_of
from simulations.exercise.steps import Origin, Step
from simulations.field.desk import DESK_UNIT, desk_source
from simulations.field.unit import unit_report

#: Payload strings of the form `@ID`: the event id of another inject or answer.
_REFERENCE = re.compile(r"^@([A-Za-z0-9][A-Za-z0-9_-]{0,39})$")
#: A throwaway unit credential: event ids and offline checks do not depend on it.
_KEY: Final = b"exercise-plan"


def step_event_id(step: Step, operation: str) -> str:
    """The id of the proposal a step makes (as its agency service or desk derives it)."""
    if step.via is Via.DESK:
        return derived_event_id(desk_source(step.unit or DESK_UNIT), step.key)
    if step.via is Via.CONTROL:
        return control_event_id(step.unit, step.key)
    report = unit_report(
        operation,
        step.unit or "",
        unit_token(_KEY, operation, step.unit or ""),
        report=step.key,
        time=step.at,
        event=step.event,
        sector=step.sector,
        subject=step.subject,
    )
    return proposal_id(step.agency, report)


@dataclass(frozen=True, slots=True)
class Plan:
    """Every step of one run, in time order, and when each trigger happened."""

    charter: Charter
    seed: int
    start: datetime
    end: datetime
    steps: tuple[Step, ...]
    triggers: Mapping[str, datetime]

    @property
    def operation(self) -> str:
        """The run's operation id."""
        return self.charter.operation.id

    def threads(self) -> dict[str, tuple[Step, ...]]:
        """Steps by thread, each thread in playing order."""
        out: dict[str, list[Step]] = {}
        for step in self.steps:
            out.setdefault(step.thread, []).append(step)
        return {thread: tuple(steps) for thread, steps in out.items()}

    def by_ref(self) -> dict[str, Step]:
        """The step of each inject and answered expected action, by its id."""
        return {s.ref: s for s in self.steps if s.ref is not None}


def build_plan(loaded: LoadedScenario, charter: Charter, seed: int) -> Plan:
    """The steps of one run of `loaded` on its exercise `charter` with `seed` (raises
    `ScenarioError` on a payload it cannot resolve; validation reports those first)."""
    header = loaded.scenario.scenario
    start, end = header.start, header.end
    resolver = Resolver(charter, start)
    problems: list[ScenarioProblem] = []
    steps = list(background_steps(loaded.scenario.population, resolver, start, end, seed))
    for index, inject in enumerate(loaded.injects):
        try:
            steps.append(_inject_step(inject, resolver))
        except (ValueError, CastError) as exc:
            problems.append(loaded.problem(("injects", index), str(exc)))
    triggers: dict[str, datetime] = {s.ref: s.at for s in steps if s.ref is not None}
    answers, answer_problems = _answers(loaded, resolver, triggers, seed, end)
    problems += answer_problems
    if problems:
        raise ScenarioError(str(loaded.path), problems)
    steps += answers
    operation = charter.operation.id
    ordered = _strictly_increasing(sorted(steps, key=lambda s: s.at))
    ordered = _with_references(_desk_keys(ordered, operation), operation)
    triggers = {s.ref: s.at for s in ordered if s.ref is not None}
    return Plan(charter, seed, start, end, tuple(ordered), MappingProxyType(triggers))


def _inject_step(inject: Inject, resolver: Resolver) -> Step:
    performer = resolver.cast.resolve(inject.by)
    event = resolver.payload(inject.event, inject.payload)
    if inject.event == "fr.interforces.exercise.injected":
        event.setdefault("inject", inject.id)
    sector = resolver.sector(performer.agency, event, inject.sector)
    return Step(
        key=f"inj-{inject.id}",
        at=resolver.start + inject.at,
        via=performer.via,
        agency=performer.agency,
        unit=performer.unit,
        event=event,
        sector=sector,
        subject=inject.subject or about(event),
        thread=thread_of(event, f"inject:{inject.id}"),
        origin=Origin.INJECT,
        ref=inject.id,
        expected_codes=tuple(code.value for code in inject.refused),
    )


def _answers(
    loaded: LoadedScenario,
    resolver: Resolver,
    triggers: dict[str, datetime],
    seed: int,
    end: datetime,
) -> tuple[list[Step], list[ScenarioProblem]]:
    """The simulated players' answers, each after its trigger (an inject, or another
    answer: an answer whose trigger was not answered does not happen either)."""
    expected = {e.id: (i, e) for i, e in enumerate(loaded.scenario.expected)}
    draws = {e.id: _draw(e, seed) for e in loaded.scenario.expected}
    steps: list[Step] = []
    problems: list[ScenarioProblem] = []
    pending = dict(expected)
    while pending:
        ready = [
            k for k, (_, e) in pending.items() if e.after in triggers or e.after not in pending
        ]
        if not ready:
            break  # a cycle: validation reports it
        for key in ready:
            index, wanted = pending.pop(key)
            delay = draws[key]
            if wanted.response is None or delay is None or wanted.after not in triggers:
                continue
            at = triggers[wanted.after] + delay
            if at >= end:
                continue
            try:
                step = _answer_step(wanted, resolver, at)
            except (ValueError, CastError) as exc:
                problems.append(loaded.problem(("expected", index, "response"), str(exc)))
                continue
            steps.append(step)
            triggers[wanted.id] = at
    return steps, problems


def _draw(wanted: Expected, seed: int) -> timedelta | None:
    """The answer's delay after its trigger (None: the simulated player forgets it)."""
    response = wanted.response
    if response is None:
        return None
    rng = random.Random(f"{seed}:answer:{wanted.id}")  # noqa: S311 (a reproducible run)
    delay = timedelta(seconds=round(rng.uniform(*response.delay) * 60))
    return None if rng.random() < response.miss else delay


def _answer_step(wanted: Expected, resolver: Resolver, at: datetime) -> Step:
    response = wanted.response
    if response is None:
        raise ValueError("no response")
    performer = resolver.cast.resolve(response.by or wanted.agency.value)
    if performer.agency is not wanted.agency:
        raise ValueError(f"{response.by} acts for {performer.agency.value}, not {wanted.agency}")
    event = resolver.payload(wanted.event, {**wanted.match, **response.payload})
    sector = resolver.sector(performer.agency, event, response.sector)
    return Step(
        key=f"rsp-{wanted.id}",
        at=at,
        via=performer.via,
        agency=performer.agency,
        unit=performer.unit,
        event=event,
        sector=sector,
        subject=about(event),
        thread=thread_of(event, f"answer:{wanted.id}"),
        origin=Origin.RESPONSE,
        ref=wanted.id,
    )


def _strictly_increasing(steps: list[Step]) -> list[Step]:
    """Steps of one thread one second apart at least (a thread plays one step at a time)."""
    last: dict[str, datetime] = {}
    out: list[Step] = []
    for step in steps:
        previous = last.get(step.thread)
        moved = step
        if previous is not None and step.at <= previous:
            moved = replace(step, at=previous + timedelta(seconds=1))
        last[moved.thread] = moved.at
        out.append(moved)
    return sorted(out, key=lambda s: s.at)


def _desk_keys(steps: list[Step], operation: str) -> list[Step]:
    """Desks derive their event ids from their keys alone: a desk step's key names its
    operation, so that two runs of a scenario never share an event id (JetStream would
    take the second run's proposals for duplicates)."""
    return [
        replace(s, key=desk_key(operation, s.key)) if s.via is not Via.UNIT else s for s in steps
    ]


def desk_key(operation: str, key: str) -> str:
    """The key of a desk's action in one operation."""
    return f"{operation}:{key}"


def _with_references(steps: list[Step], operation: str) -> list[Step]:
    """`@ID` payload values replaced by the event id of that inject's or answer's step."""
    ids = {s.ref: step_event_id(s, operation) for s in steps if s.ref is not None}

    def resolve(value: Any) -> Any:
        if isinstance(value, str):
            found = _REFERENCE.fullmatch(value)
            if found and found[1] in ids:
                return ids[found[1]]
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    return [replace(s, event=resolve(s.event)) for s in steps]
