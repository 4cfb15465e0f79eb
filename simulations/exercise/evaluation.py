"""The evaluation of a run, computed from its timeline only: each expected action met,
late or missed with its delay; each deliberate attempt refused as it should be; per
agency the time to assign its incidents and to acknowledge its assignments (p50, p90);
every perimeter violation; each objective scored.

Scores: an action met on time counts 1, late ½, missed 0; a deliberate attempt refused
with its codes counts 1, else 0. An objective scores the mean of its items (0–100), the
exercise the mean of its objectives weighted by their weights.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from statistics import median, quantiles
from typing import Any, Final

from contracts.envelope import Envelope
from contracts.events.base import EVENT_TYPE_PREFIX
from contracts.events.violations import PerimeterViolated
from services.timeline.domain import TimelineRecord
from simulations.exercise.loader import LoadedScenario
from simulations.exercise.model import Expected
from simulations.exercise.plan import Plan, step_event_id
from simulations.exercise.resolver import Resolver
from simulations.exercise.steps import Origin, Step

_REPORTED: Final = frozenset(
    {"fr.interforces.incident.reported", "fr.interforces.site_incident.reported"}
)
_ASSIGNED: Final = "fr.interforces.incident.assigned"
_ACKNOWLEDGED: Final = "fr.interforces.incident.acknowledged"
_INJECTED: Final = "fr.interforces.exercise.injected"
#: Credit of each status in an objective's score.
CREDIT: Final = {"met": 1.0, "late": 0.5, "missed": 0.0}


class Status(StrEnum):
    """What became of an expected action."""

    MET = "met"
    LATE = "late"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class ExpectedResult:
    """One expected action: its trigger, its deadline, when it was done and how late."""

    id: str
    objective: str | None
    agency: str
    event: str
    description: str
    after: str
    within_min: float
    trigger_at: datetime | None
    deadline: datetime | None
    done_at: datetime | None
    delay_min: float | None
    status: Status
    note: str = ""


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """A deliberate out-of-perimeter attempt and whether it was refused as it should be."""

    inject: str
    objective: str | None
    agency: str
    event: str
    at: datetime
    expected_codes: tuple[str, ...]
    codes: tuple[str, ...]
    outcome: str  # refused | refused_otherwise | accepted | absent

    @property
    def as_planned(self) -> bool:
        """Refused with exactly the expected codes."""
        return self.outcome == "refused"


@dataclass(frozen=True, slots=True)
class Delays:
    """Minutes of scenario time: how many, median, 90th percentile, longest."""

    n: int
    p50: float | None
    p90: float | None
    max: float | None

    @classmethod
    def of(cls, minutes: Sequence[float]) -> Delays:
        """The statistics of some delays."""
        if not minutes:
            return cls(0, None, None, None)
        ordered = sorted(minutes)
        p90 = quantiles(ordered, n=10, method="inclusive")[-1] if len(ordered) > 1 else ordered[0]
        return cls(len(ordered), round(median(ordered), 1), round(p90, 1), round(ordered[-1], 1))


@dataclass(frozen=True, slots=True)
class AgencyDelays:
    """Per agency: report → assignment of the incidents it was assigned, and assignment
    → acknowledgement of its answers."""

    agency: str
    assign: Delays
    acknowledge: Delays


@dataclass(frozen=True, slots=True)
class ViolationLine:
    """A perimeter violation on the timeline (`at`: the proposal's scenario time, when
    the plan knows it; `planned`: a deliberate attempt of the scenario)."""

    at: datetime | None
    agency: str | None
    unit: str | None
    proposal_type: str
    codes: tuple[str, ...]
    planned: bool
    step: str | None


@dataclass(frozen=True, slots=True)
class ObjectiveScore:
    """An objective and its score (0–100; None when nothing scored it)."""

    id: str
    title: str
    weight: float
    items: int
    score: float | None


@dataclass(frozen=True, slots=True)
class LiveInjectLine:
    """A trainer's live inject as the timeline holds it."""

    inject: str
    at: datetime
    target: str
    message: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything the after-action report says, computed from the timeline."""

    scenario: str
    title: str
    operation: str
    seed: int
    start: datetime
    end: datetime
    expected: tuple[ExpectedResult, ...]
    attempts: tuple[AttemptResult, ...]
    agencies: tuple[AgencyDelays, ...]
    violations: tuple[ViolationLine, ...]
    objectives: tuple[ObjectiveScore, ...]
    live_injects: tuple[LiveInjectLine, ...]
    records: int
    accepted: int
    score: float | None
    digest: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def count(self, status: Status) -> int:
        """How many expected actions ended so."""
        return sum(1 for e in self.expected if e.status is status)

    def summary(self) -> dict[str, Any]:
        """The evaluation summary (`interforces exercise run --json`)."""
        planned = sum(1 for v in self.violations if v.planned)
        return {
            "scenario": self.scenario,
            "operation": self.operation,
            "seed": self.seed,
            "expected": len(self.expected),
            "met": self.count(Status.MET),
            "late": self.count(Status.LATE),
            "missed": self.count(Status.MISSED),
            "violations": len(self.violations),
            "violations_planned": planned,
            "violations_unplanned": len(self.violations) - planned,
            "attempts_refused_as_planned": sum(a.as_planned for a in self.attempts),
            "attempts": len(self.attempts),
            "score": self.score,
            "objectives": {o.id: o.score for o in self.objectives},
            "live_injects": len(self.live_injects),
            "records": self.records,
            "digest": self.digest,
            **self.extra,
        }

    def as_json(self) -> dict[str, Any]:
        """Everything, JSON-ready (datetimes as RFC 3339)."""
        document: dict[str, Any] = _jsonable(asdict(self))
        return document


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _minutes(span: timedelta) -> float:
    return round(span.total_seconds() / 60, 2)


def evaluate(
    loaded: LoadedScenario, plan: Plan, records: Sequence[TimelineRecord], digest: str = ""
) -> Evaluation:
    """Evaluate one run of `loaded` (played from `plan`) from its timeline records."""
    scenario = loaded.scenario
    accepted = [r.envelope for r in records if not isinstance(r.envelope.data, PerimeterViolated)]
    accepted.sort(key=lambda e: e.time)
    operation = plan.operation
    steps = {step_event_id(s, operation): s for s in plan.steps}
    injects = {s.ref: s for s in plan.steps if s.origin is Origin.INJECT and s.ref is not None}
    expected = _expected(loaded, plan, accepted, steps)
    objective_of = {i.id: i.objective for i in loaded.injects}
    attempts = _attempts(records, injects, operation, objective_of)
    objectives = _objectives(loaded, expected, attempts)
    weighted = [(o.weight, o.score) for o in objectives if o.score is not None]
    total = sum(w for w, _ in weighted)
    score = round(sum(w * s for w, s in weighted) / total, 1) if total else None
    return Evaluation(
        scenario=scenario.scenario.id,
        title=scenario.scenario.title,
        operation=operation,
        seed=plan.seed,
        start=plan.start,
        end=plan.end,
        expected=tuple(expected),
        attempts=tuple(attempts),
        agencies=tuple(agency_delays(accepted)),
        violations=tuple(_violations(records, steps)),
        objectives=tuple(objectives),
        live_injects=tuple(_live(accepted)),
        records=len(records),
        accepted=len(accepted),
        score=score,
        digest=digest,
    )


def _expected(
    loaded: LoadedScenario,
    plan: Plan,
    accepted: Sequence[Envelope],
    steps: Mapping[str, Step],
) -> list[ExpectedResult]:
    """Each expected action, resolved in trigger order: a trigger is an inject's record
    (else its scenario time), or another expected action when it was done."""
    resolver = Resolver(plan.charter, plan.start)
    happened: dict[str, datetime] = {}
    for envelope in accepted:
        step = steps.get(envelope.id)
        if step is not None and step.origin is Origin.INJECT and step.ref is not None:
            happened.setdefault(step.ref, envelope.time)
    for ref, at in plan.triggers.items():
        if any(i.id == ref for i in loaded.injects):
            happened.setdefault(ref, at)
    results: dict[str, ExpectedResult] = {}
    used: set[str] = set()
    pending = list(loaded.scenario.expected)
    while pending:
        waiting = {e.id for e in pending}
        ready = [e for e in pending if e.after not in waiting]
        if not ready:
            break
        for wanted in ready:
            pending.remove(wanted)
            result = _one(wanted, happened.get(wanted.after), accepted, used, resolver, plan)
            if result.done_at is not None:
                happened[wanted.id] = result.done_at
            results[wanted.id] = result
    order = [e.id for e in loaded.scenario.expected]
    return [results[i] for i in order if i in results]


def _one(  # noqa: PLR0917 (one expected action in its context)
    wanted: Expected,
    trigger: datetime | None,
    accepted: Sequence[Envelope],
    used: set[str],
    resolver: Resolver,
    plan: Plan,
) -> ExpectedResult:
    missed = ExpectedResult(
        id=wanted.id,
        objective=wanted.objective,
        agency=wanted.agency.value,
        event=wanted.event.removeprefix(EVENT_TYPE_PREFIX),
        description=wanted.description,
        after=wanted.after,
        within_min=wanted.within,
        trigger_at=trigger,
        deadline=None,
        done_at=None,
        delay_min=None,
        status=Status.MISSED,
        note=f"son déclencheur {wanted.after} n'a pas eu lieu",
    )
    if trigger is None:
        return missed
    deadline = trigger + timedelta(minutes=wanted.within)
    try:
        match = resolver.payload(wanted.event, wanted.match)
    except ValueError:
        match = {"type": wanted.event, **wanted.match}
    match.pop("type")
    found = next(
        (
            e
            for e in accepted
            if e.id not in used
            and e.type == wanted.event
            and e.agency is wanted.agency
            and e.time >= trigger
            and _matches(e, match)
        ),
        None,
    )
    if found is None:
        note = f"rien avant la fin ({plan.end.strftime('%H:%M')})"
        return replace(missed, deadline=deadline, note=note)
    used.add(found.id)
    return replace(
        missed,
        deadline=deadline,
        done_at=found.time,
        delay_min=_minutes(found.time - trigger),
        status=Status.MET if found.time <= deadline else Status.LATE,
        note="",
    )


def _matches(envelope: Envelope, match: Mapping[str, Any]) -> bool:
    data = envelope.data.model_dump(mode="json")
    return all(_same(data.get(name), value) for name, value in match.items())


def _same(held: Any, wanted: Any) -> bool:
    if isinstance(held, str) and isinstance(wanted, str) and held != wanted:
        try:
            return datetime.fromisoformat(held) == datetime.fromisoformat(wanted)
        except ValueError:
            return False
    return bool(held == wanted)


def _attempts(
    records: Sequence[TimelineRecord],
    injects: Mapping[str, Step],
    operation: str,
    objective_of: Mapping[str, str | None],
) -> list[AttemptResult]:
    """Each deliberate attempt (an inject with `refused` codes) and how it ended."""
    by_id = {r.envelope.id: r.envelope for r in records}
    refusals = {
        r.envelope.data.proposal_id: r.envelope.data
        for r in records
        if isinstance(r.envelope.data, PerimeterViolated)
    }
    out: list[AttemptResult] = []
    for ref, step in injects.items():
        if not step.expected_codes:
            continue
        event_id = step_event_id(step, operation)
        codes: tuple[str, ...] = ()
        if event_id in refusals:
            codes = tuple(sorted(r.code.value for r in refusals[event_id].reasons))
            outcome = "refused" if set(codes) == set(step.expected_codes) else "refused_otherwise"
        elif event_id in by_id:
            outcome = "accepted"
        else:
            outcome = "absent"
        out.append(
            AttemptResult(
                inject=ref,
                objective=objective_of.get(ref),
                agency=step.agency.value,
                event=step.short_type,
                at=step.at,
                expected_codes=step.expected_codes,
                codes=codes,
                outcome=outcome,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class DelaySamples:
    """Every delay of every agency, minutes: report → assignment, assignment → acknowledgement."""

    assign: Mapping[str, tuple[float, ...]]
    acknowledge: Mapping[str, tuple[float, ...]]


def delay_samples(accepted: Sequence[Envelope]) -> DelaySamples:
    """From accepted records in occurrence order: per agency, report → assignment of the
    incidents assigned to it (its first assignment of each incident), and assignment →
    acknowledgement of its own acknowledgements."""
    reported: dict[str, datetime] = {}
    assigned: dict[tuple[str, str], datetime] = {}
    assign: defaultdict[str, list[float]] = defaultdict(list)
    acknowledge: defaultdict[str, list[float]] = defaultdict(list)
    for envelope in sorted(accepted, key=lambda e: e.time):
        incident = getattr(envelope.data, "incident", None)
        if not isinstance(incident, str):
            continue
        if envelope.type in _REPORTED:
            reported.setdefault(incident, envelope.time)
        elif envelope.type == _ASSIGNED:
            assignee = str(getattr(envelope.data, "assignee"))  # noqa: B009
            key = (incident, assignee)
            if key not in assigned and incident in reported:
                assign[assignee].append(_minutes(envelope.time - reported[incident]))
            assigned[key] = envelope.time
        elif envelope.type == _ACKNOWLEDGED:
            key = (incident, envelope.agency.value)
            if key in assigned:
                acknowledge[envelope.agency.value].append(_minutes(envelope.time - assigned[key]))
    return DelaySamples(
        {a: tuple(v) for a, v in assign.items()}, {a: tuple(v) for a, v in acknowledge.items()}
    )


def agency_delays(accepted: Sequence[Envelope]) -> list[AgencyDelays]:
    """Per agency, the statistics of `delay_samples`."""
    samples = delay_samples(accepted)
    agencies = sorted(set(samples.assign) | set(samples.acknowledge))
    return [
        AgencyDelays(
            a,
            Delays.of(samples.assign.get(a, ())),
            Delays.of(samples.acknowledge.get(a, ())),
        )
        for a in agencies
    ]


def _violations(
    records: Sequence[TimelineRecord], steps: Mapping[str, Step]
) -> list[ViolationLine]:
    out: list[ViolationLine] = []
    for record in records:
        data = record.envelope.data
        if not isinstance(data, PerimeterViolated):
            continue
        step = steps.get(data.proposal_id)
        codes = tuple(sorted(r.code.value for r in data.reasons))
        out.append(
            ViolationLine(
                at=step.at if step is not None else None,
                agency=data.proposer.value if data.proposer else None,
                unit=record.envelope.unit,
                proposal_type=data.proposal_type.removeprefix(EVENT_TYPE_PREFIX),
                codes=codes,
                planned=step is not None and set(step.expected_codes) == set(codes),
                step=step.ref or step.key if step is not None else None,
            )
        )
    return out


def _objectives(
    loaded: LoadedScenario,
    expected: Sequence[ExpectedResult],
    attempts: Sequence[AttemptResult],
) -> list[ObjectiveScore]:
    credits: defaultdict[str, list[float]] = defaultdict(list)
    for result in expected:
        if result.objective is not None:
            credits[result.objective].append(CREDIT[result.status.value])
    for attempt in attempts:
        if attempt.objective is not None:
            credits[attempt.objective].append(1.0 if attempt.as_planned else 0.0)
    out = []
    for objective in loaded.scenario.objectives:
        items = credits.get(objective.id, [])
        score = round(100 * sum(items) / len(items), 1) if items else None
        out.append(
            ObjectiveScore(objective.id, objective.title, objective.weight, len(items), score)
        )
    return out


def _live(accepted: Sequence[Envelope]) -> list[LiveInjectLine]:
    out = []
    for envelope in accepted:
        data = envelope.model_dump(mode="json")["data"]
        if envelope.type == _INJECTED and str(data.get("inject", "")).startswith("LIVE-"):
            out.append(
                LiveInjectLine(str(data["inject"]), envelope.time, data["target"], data["message"])
            )
    return out
