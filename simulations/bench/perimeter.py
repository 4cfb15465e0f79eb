"""The perimeter benchmark: microseconds per decision of our engine, and of Cedar on the same
competence, territory, time, capability and identity checks, on realistic proposals.

A measurement, not a test: targets (p50 ≤ 20 µs, faster than cedarpy) are reported as
PASS or MISS. What must hold is agreement: on every proposal, Cedar allows exactly when our
engine finds no failure among the checks Cedar makes (`CEDAR_CHECKS`).

Method: proposals are generated and validated first (nothing parsed while timing); every
path is warmed up; the garbage collector is paused while timing, as `timeit` does; each
decision is timed with `time.perf_counter_ns`. Cedar is timed from the same proposal objects:
building the request (territory by shapely, as the engine does it) plus `cedarpy` with
pre-parsed `PolicySet` and `Entities` handles — per call with `is_authorized`, and in
batches with `is_authorized_batch` (per decision = batch time / batch size); the faster of
the two is Cedar's figure. Cedar's evaluation alone, on requests built in advance, is
reported beside it as a lower bound.
"""

from __future__ import annotations

import gc
import platform
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import cedarpy

from contracts.charter import Charter, load_charter
from services.coordinator.perimeter import Situation, compile_charter, decide
from services.coordinator.perimeter.decision import Decision, Proposal
from simulations.bench.cedar_policy import CedarPerimeter, within_cedar_checks
from simulations.bench.proposals import CaseKind, generate

#: The charter measured by default: a stadium concert, the densest perimeter we ship.
DEFAULT_CHARTER = Path(__file__).resolve().parents[2] / "infra" / "charters" / "concert-stade.yaml"
DEFAULT_DECISIONS = 20_000
DEFAULT_BATCH = 100
TARGET_P50_US = 20.0

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Timing:
    """Microseconds per decision: median, 99th percentile, mean, over `samples` samples."""

    p50_us: float
    p99_us: float
    mean_us: float
    samples: int

    @classmethod
    def of(cls, samples_ns: Sequence[float]) -> Timing:
        ordered = sorted(samples_ns)
        return cls(
            p50_us=_percentile(ordered, 50) / 1000,
            p99_us=_percentile(ordered, 99) / 1000,
            mean_us=sum(ordered) / len(ordered) / 1000,
            samples=len(ordered),
        )


def _percentile(ordered: Sequence[float], q: int) -> float:
    """Nearest-rank percentile of sorted samples."""
    rank = max(1, -(-q * len(ordered) // 100))  # ceil(q·n/100)
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A proposal on which Cedar and our engine (restricted to Cedar's checks) differ."""

    index: int
    kind: str
    type: str
    agency: str
    ours: tuple[str, ...]
    cedar_allowed: tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class PerimeterBench:
    """Everything one run measured."""

    charter: str
    operation: str
    sectors: int
    actors: int
    decisions: int
    seed: int
    warmup: int
    batch_size: int
    ours: Timing
    cedar_call: Timing
    cedar_batch: Timing
    cedar_eval_only: Timing
    accepted: int
    cedar_allowed: int
    expected: int
    agreeing: int
    cases: dict[str, int]
    disagreements: tuple[Disagreement, ...] = field(default=())

    @property
    def cedar_api(self) -> str:
        """The faster cedarpy API, which gives Cedar's figures."""
        if self.cedar_batch.p50_us < self.cedar_call.p50_us:
            return "is_authorized_batch"
        return "is_authorized"

    @property
    def cedar(self) -> Timing:
        """Cedar's figures: its faster API, from proposal to verdict."""
        return self.cedar_batch if self.cedar_api == "is_authorized_batch" else self.cedar_call

    @property
    def agreement(self) -> float:
        """Share of proposals on which every Cedar run agrees with our engine."""
        return self.agreeing / self.decisions

    @property
    def p50_target_met(self) -> bool:
        return self.ours.p50_us <= TARGET_P50_US

    @property
    def faster_than_cedar(self) -> bool:
        return self.ours.p50_us < self.cedar.p50_us

    def as_dict(self) -> dict[str, Any]:
        """The JSON report (flat keys, microseconds)."""
        cedar = self.cedar
        report: dict[str, Any] = {
            "charter": self.charter,
            "operation": self.operation,
            "sectors": self.sectors,
            "actors": self.actors,
            "decisions": self.decisions,
            "seed": self.seed,
            "warmup": self.warmup,
            "p50_us": _round(self.ours.p50_us),
            "p99_us": _round(self.ours.p99_us),
            "mean_us": _round(self.ours.mean_us),
            "cedar_p50_us": _round(cedar.p50_us),
            "cedar_p99_us": _round(cedar.p99_us),
            "cedar_mean_us": _round(cedar.mean_us),
            "cedar_api": self.cedar_api,
            "cedar_per_decision": (
                f"batch time / batch size ({self.batch_size})"
                if self.cedar_api == "is_authorized_batch"
                else "one call per decision"
            ),
            "speedup_p50": _round(cedar.p50_us / self.ours.p50_us),
        }
        for name, timing in (
            ("cedar_call", self.cedar_call),
            ("cedar_batch", self.cedar_batch),
            ("cedar_eval_only", self.cedar_eval_only),
        ):
            report[f"{name}_p50_us"] = _round(timing.p50_us)
            report[f"{name}_p99_us"] = _round(timing.p99_us)
            report[f"{name}_mean_us"] = _round(timing.mean_us)
        report |= {
            "cedar_batch_size": self.batch_size,
            "speedup_p50_vs_eval_only": _round(self.cedar_eval_only.p50_us / self.ours.p50_us),
            "accepted_ratio": _round(self.accepted / self.decisions, 4),
            "cedar_allowed_ratio": _round(self.cedar_allowed / self.decisions, 4),
            "agreement": self.agreement,
            "expected_outcomes": _round(self.expected / self.decisions, 4),
            "cases": self.cases,
            "targets": {
                "p50_le_20us": self.p50_target_met,
                "faster_than_cedarpy": self.faster_than_cedar,
            },
            "disagreements": [
                {
                    "index": d.index,
                    "kind": d.kind,
                    "type": d.type,
                    "agency": d.agency,
                    "ours": list(d.ours),
                    "cedar_allowed": list(d.cedar_allowed),
                }
                for d in self.disagreements
            ],
            "python": platform.python_version(),
            "cedarpy": version("cedarpy"),
            "shapely": version("shapely"),
            "pydantic": version("pydantic"),
        }
        return report


def _shown(path: Path) -> str:
    """The path as typed by someone standing in the working directory, when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _round(value: float, digits: int = 2) -> float:
    return round(value, digits)


@contextmanager
def _quiet_gc() -> Iterator[None]:
    """No garbage collection while timing (as `timeit` does), for both engines alike."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run(
    charter: Charter | Path = DEFAULT_CHARTER,
    *,
    decisions: int = DEFAULT_DECISIONS,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
    warmup: int | None = None,
) -> PerimeterBench:
    """Measure `decide` and Cedar on `decisions` proposals generated from the charter."""
    if decisions < 1 or batch_size < 1:
        raise ValueError("decisions and batch_size must be positive")
    source = _shown(charter) if isinstance(charter, Path) else charter.operation.id
    if isinstance(charter, Path):
        charter = load_charter(charter)
    compiled = compile_charter(charter)
    cedar = CedarPerimeter(compiled)
    cases = generate(charter, decisions, seed=seed)
    proposals = [c.proposal for c in cases]
    situation = Situation()
    warm = proposals[: min(decisions, 2000) if warmup is None else warmup]

    def ours(proposal: Proposal) -> Decision:
        return decide(proposal, compiled, situation)

    _each(ours, warm)
    our_decisions, our_ns = _each(ours, proposals)

    _each(cedar.is_authorized, warm)
    call_allowed, call_ns = _each(cedar.is_authorized, proposals)

    def batch(chunk: Sequence[Proposal]) -> list[bool]:
        return cedar.is_authorized_requests([cedar.request(p) for p in chunk])

    _batches(batch, warm, batch_size)
    batch_allowed, batch_ns = _batches(batch, proposals, batch_size)

    def evaluate(request: dict[str, Any]) -> bool:
        return cedarpy.is_authorized(request, cedar.policy_set, cedar.entities).allowed

    requests = [cedar.request(p) for p in proposals]
    _each(evaluate, requests[: len(warm)])
    eval_allowed, eval_ns = _each(evaluate, requests)

    disagreements: list[Disagreement] = []
    agreeing = 0
    for i, (case, decision) in enumerate(zip(cases, our_decisions, strict=True)):
        verdicts = (call_allowed[i], batch_allowed[i], eval_allowed[i])
        if all(v == within_cedar_checks(decision) for v in verdicts):
            agreeing += 1
        elif len(disagreements) < 20:
            envelope = case.proposal.envelope
            disagreements.append(
                Disagreement(
                    i,
                    case.kind.value,
                    envelope.type,
                    envelope.agency.value,
                    tuple(sorted(decision.codes)),
                    verdicts,
                )
            )
    return PerimeterBench(
        charter=source,
        operation=charter.operation.id,
        sectors=len(charter.sectors),
        actors=len(charter.actors),
        decisions=decisions,
        seed=seed,
        warmup=len(warm),
        batch_size=batch_size,
        ours=Timing.of(our_ns),
        cedar_call=Timing.of(call_ns),
        cedar_batch=Timing.of(batch_ns),
        cedar_eval_only=Timing.of(eval_ns),
        accepted=sum(d.accepted for d in our_decisions),
        cedar_allowed=sum(call_allowed),
        expected=sum(
            d.accepted == (c.kind is CaseKind.IN_PERIMETER)
            for c, d in zip(cases, our_decisions, strict=True)
        ),
        agreeing=agreeing,
        cases=dict(Counter(c.kind.value for c in cases)),
        disagreements=tuple(disagreements),
    )


def _each(fn: Callable[[T], R], items: Sequence[T]) -> tuple[list[R], list[float]]:
    """Apply `fn` to each item, timing each call (nanoseconds)."""
    results: list[R] = []
    samples: list[float] = []
    clock = time.perf_counter_ns
    with _quiet_gc():
        for item in items:
            start = clock()
            result = fn(item)
            samples.append(clock() - start)
            results.append(result)
    return results, samples


def _batches(
    fn: Callable[[Sequence[T]], list[bool]], items: Sequence[T], size: int
) -> tuple[list[bool], list[float]]:
    """Apply `fn` to consecutive chunks; one sample per chunk: its time / its size."""
    results: list[bool] = []
    samples: list[float] = []
    clock = time.perf_counter_ns
    with _quiet_gc():
        for offset in range(0, len(items), size):
            chunk = items[offset : offset + size]
            start = clock()
            verdicts = fn(chunk)
            samples.append((clock() - start) / len(chunk))
            results.extend(verdicts)
    return results, samples
