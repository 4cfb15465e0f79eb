"""The arithmetic of the benchmark's figures: percentiles, spreads of repeated runs, slopes."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted samples (0.0 when there are none)."""
    if not ordered:
        return 0.0
    rank = max(1, -(-q * len(ordered) // 100))  # ceil(q·n/100)
    return ordered[int(rank) - 1]


@dataclass(frozen=True, slots=True)
class Spread:
    """Repeated measurements of one figure: the median is reported, with the extremes."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of some runs (all zero when there are none)."""
        if not values:
            return cls(0.0, 0.0, 0.0, 0)
        return cls(statistics.median(values), min(values), max(values), len(values))

    @property
    def relative(self) -> float:
        """(high − low) / median: how far runs disagree (0.0 for a zero median)."""
        return (self.high - self.low) / self.median if self.median else 0.0

    def as_dict(self, digits: int = 1) -> dict[str, float]:
        """JSON-ready."""
        return {
            "median": round(self.median, digits),
            "low": round(self.low, digits),
            "high": round(self.high, digits),
            "runs": self.runs,
            "spread": round(self.relative, 3),
        }


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, 0.0 when the denominator is not positive."""
    return numerator / denominator if denominator > 0 else 0.0


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points (0.0 with fewer than two distinct x)."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var


@dataclass(frozen=True, slots=True)
class Latency:
    """Milliseconds from send to arrival: median, 99th percentile, max, over `samples`."""

    p50_ms: float
    p99_ms: float
    max_ms: float
    samples: int

    @classmethod
    def of(cls, samples_s: Sequence[float]) -> Latency:
        """From latencies in seconds."""
        ordered = sorted(samples_s)
        return cls(
            p50_ms=percentile(ordered, 50) * 1000,
            p99_ms=percentile(ordered, 99) * 1000,
            max_ms=(ordered[-1] * 1000) if ordered else 0.0,
            samples=len(ordered),
        )
