"""When each item of a replay is due, pure: the speed, pauses, seeks and speed changes, and
how late items went out.

Times are seconds of a monotonic clock, passed in by the caller. Offsets are scenario seconds
from the window's start. The schedule counts *running time* (clock time since the start minus
the time spent paused): item i is due when running time reaches
`anchor_run + (offset_i - anchor_offset) / speed`. Without seeks or speed changes the anchor
is (0, 0), so item i is due at `start + offset_i / speed`. A pause freezes running time, so
what follows shifts by the pause and a resume never bursts; a seek or a speed change moves
the anchor to the running time it happens at.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Sequence
from typing import Final

from services.crisis_api.replay_models import InvalidReplayError, SkewSummary

#: Slowest and fastest replay, as multiples of real time.
MIN_SPEED: Final = 0.5
MAX_SPEED: Final = 100.0


def check_speed(speed: float) -> float:
    """`speed` when MIN_SPEED <= speed <= MAX_SPEED, otherwise `InvalidReplayError`."""
    if not (math.isfinite(speed) and MIN_SPEED <= speed <= MAX_SPEED):
        raise InvalidReplayError(
            f"speed must be between x{MIN_SPEED:g} and x{MAX_SPEED:g} real time, got {speed!r}"
        )
    return float(speed)


class Schedule:
    """The due times of a replay's items (sorted offsets) and of its window's end."""

    def __init__(self, offsets: Sequence[float], end_offset: float, speed: float) -> None:
        if any(b < a for a, b in itertools.pairwise(offsets)):
            raise ValueError("offsets must be sorted")
        self._offsets = list(offsets)
        self._end = end_offset
        self.speed = check_speed(speed)
        #: Index of the next item to send (`len(offsets)` once all are sent).
        self.next_index = 0
        self._anchor_offset = 0.0
        self._anchor_run = 0.0
        self._started: float | None = None
        self._ended: float | None = None
        self._paused_since: float | None = None
        self._paused_total = 0.0

    @property
    def paused(self) -> bool:
        """Whether running time is frozen."""
        return self._paused_since is not None

    @property
    def end_offset(self) -> float:
        """Scenario seconds from the window's start to its end."""
        return self._end

    def start(self, now: float) -> None:
        """Running time starts now."""
        self._started = now

    def end(self, now: float) -> None:
        """Running time stops for good now."""
        if self._ended is None:
            self._ended = now

    def run_time(self, now: float) -> float:
        """Seconds spent running: since the start, pauses excluded, until the end."""
        if self._started is None:
            return 0.0
        at = now if self._ended is None else min(now, self._ended)
        if self._paused_since is not None:
            at = min(at, self._paused_since)
        return at - self._started - self._paused_total

    def scenario_offset(self, now: float) -> float:
        """The scenario clock: seconds from the window's start reached now, within the window."""
        reached = self._anchor_offset + (self.run_time(now) - self._anchor_run) * self.speed
        return min(max(reached, 0.0), self._end)

    def offset_of(self, index: int) -> float:
        """Scenario offset of item `index`; the window's end past the last item."""
        return self._offsets[index] if index < len(self._offsets) else self._end

    def due_run(self, index: int) -> float:
        """Running time at which item `index` (or the end, past the last) is due."""
        return self._anchor_run + (self.offset_of(index) - self._anchor_offset) / self.speed

    def due(self, index: int) -> float:
        """Clock time at which item `index` (or the end) is due, pauses so far included."""
        started = self._started if self._started is not None else 0.0
        return started + self._paused_total + self.due_run(index)

    def sent(self, index: int) -> None:
        """Item `index` went out: the next one is due next (unless a seek moved on meanwhile)."""
        if self.next_index == index:
            self.next_index = index + 1

    def pause(self, now: float) -> None:
        """Freeze running time (and the scenario clock)."""
        if self._paused_since is None:
            self._paused_since = now

    def resume(self, now: float) -> None:
        """Running time goes on from where it froze."""
        if self._paused_since is not None:
            self._paused_total += now - self._paused_since
            self._paused_since = None

    def seek(self, offset: float, now: float) -> None:
        """Jump to scenario `offset`: the next item is the first at or after it."""
        self._anchor_offset = min(max(offset, 0.0), self._end)
        self._anchor_run = self.run_time(now)
        self.next_index = bisect_left(self._offsets, self._anchor_offset)

    def set_speed(self, speed: float, now: float) -> None:
        """Go on from the scenario clock's current reading at another speed."""
        speed = check_speed(speed)
        self._anchor_offset = self.scenario_offset(now)
        self._anchor_run = self.run_time(now)
        self.speed = speed

    def scheduled_duration(self) -> float:
        """Running seconds the replay is planned to take, start to window end."""
        return self.due_run(len(self._offsets))


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values (`fraction` in (0, 1])."""
    if not ordered:
        raise ValueError("no values")
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def summarize(skews_ms: Sequence[float]) -> SkewSummary | None:
    """p50, p99 and max of the skews, rounded to 0.001 ms; None before any item."""
    if not skews_ms:
        return None
    ordered = sorted(skews_ms)
    return SkewSummary(
        p50=round(percentile(ordered, 0.5), 3),
        p99=round(percentile(ordered, 0.99), 3),
        max=round(ordered[-1], 3),
    )
