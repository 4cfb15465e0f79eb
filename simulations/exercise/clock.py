"""The exercise clock: scenario time at ×1 (a real exercise) to ×100 (a dry run), that the
trainers may pause, resume and speed up or slow down while it runs.

It is the festival's simulated clock with a moving anchor: pausing freezes scenario time,
resuming and changing speed re-anchor it where it stands, so that no step is skipped nor
played twice, and every sleeper wakes to the new timing.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from simulations.festival.clock import SimClock

#: Slowest and fastest speeds an exercise runs at.
MIN_SPEED: Final = 1.0
MAX_SPEED: Final = 100.0


def check_speed(speed: float) -> float:
    """`speed` when it is within ×1 to ×100 (raise `ValueError` otherwise)."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"speed ×{speed:g}: an exercise runs from ×1 to ×100")
    return float(speed)


class ExerciseClock(SimClock):
    """A simulated clock that pauses, resumes and changes speed (see the module)."""

    def __init__(
        self,
        start: datetime,
        speed: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(start, check_speed(speed), monotonic=monotonic)
        self._base = start  # scenario time at the anchor
        self._wall: float | None = None  # monotonic time of the anchor
        self._paused_at: datetime | None = None
        self._changed = asyncio.Event()

    @property
    def anchored(self) -> bool:
        """Whether the clock has started."""
        return self._wall is not None

    @property
    def paused(self) -> bool:
        """Whether scenario time is frozen."""
        return self._paused_at is not None

    def anchor(self) -> None:
        """Start the clock now: the scenario's start is this very moment."""
        self._wall = self._monotonic()
        self._base = self.start

    def _anchor_wall(self) -> float:
        if self._wall is None:
            raise RuntimeError("the exercise clock is not started yet")
        return self._wall

    def now(self) -> datetime:
        """The scenario time playing now (frozen while paused)."""
        if self._paused_at is not None:
            return self._paused_at
        elapsed = self._monotonic() - self._anchor_wall()
        return self._base + timedelta(seconds=elapsed * self.speed)

    def wall_at(self, instant: datetime) -> float:
        """The monotonic time at which `instant` plays at the current speed (never while
        paused: infinity)."""
        if self._paused_at is not None:
            return math.inf
        return self._anchor_wall() + (instant - self._base).total_seconds() / self.speed

    def delay(self, instant: datetime) -> float:
        """Wall seconds before `instant` plays (negative: late; infinite while paused)."""
        return self.wall_at(instant) - self._monotonic()

    def pause(self) -> datetime:
        """Freeze scenario time where it is; return that instant."""
        if self._paused_at is None:
            self._paused_at = self.now()
            self._notify()
        return self._paused_at

    def resume(self) -> datetime:
        """Let scenario time run again from where it was frozen; return that instant."""
        if self._paused_at is not None:
            self._base, self._paused_at = self._paused_at, None
            self._wall = self._monotonic()
            self._notify()
        return self.now()

    def set_speed(self, speed: float) -> datetime:
        """Run at another speed from now on; return the scenario time it changed at."""
        checked = check_speed(speed)
        here = self.now()
        if self._paused_at is None:
            self._base, self._wall = here, self._monotonic()
        self.speed = checked
        self._notify()
        return here

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def sleep_until(self, instant: datetime) -> None:
        """Wait until `instant` plays, through pauses and speed changes."""
        while True:
            changed = self._changed
            pause = self.delay(instant)
            if pause <= 0:
                return
            timeout = None if math.isinf(pause) else pause
            try:
                await asyncio.wait_for(changed.wait(), timeout)
            except TimeoutError:
                continue
