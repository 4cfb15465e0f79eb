"""A simulated clock: charter time runs `speed` times faster than the wall clock.

At ×300, the 18:00 → 02:00 evening (eight hours) plays in 96 seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta


class SimClock:
    """Maps charter time to wall time: `start` plays when the clock is anchored, and every
    later instant `speed` times sooner than it would in reality."""

    def __init__(
        self,
        start: datetime,
        speed: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("the start of a simulated clock must carry its offset")
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = float(speed)
        self._monotonic = monotonic
        self._origin: float | None = None

    @property
    def anchored(self) -> bool:
        """Whether the clock is running."""
        return self._origin is not None

    def anchor(self) -> None:
        """Start the clock now: `start` is this very moment."""
        self._origin = self._monotonic()

    def _wall_origin(self) -> float:
        if self._origin is None:
            raise RuntimeError("the simulated clock is not anchored yet")
        return self._origin

    def wall_at(self, instant: datetime) -> float:
        """The monotonic wall time at which `instant` plays."""
        return self._wall_origin() + (instant - self.start).total_seconds() / self.speed

    def now(self) -> datetime:
        """The charter time playing now."""
        elapsed = self._monotonic() - self._wall_origin()
        return self.start + timedelta(seconds=elapsed * self.speed)

    def delay(self, instant: datetime) -> float:
        """Wall seconds before `instant` plays (negative: it is late by that much)."""
        return self.wall_at(instant) - self._monotonic()

    def wall_seconds(self, span: timedelta) -> float:
        """How long a span of charter time lasts on the wall clock."""
        return span.total_seconds() / self.speed

    async def sleep_until(self, instant: datetime) -> None:
        """Wait until `instant` plays (at once when it already has)."""
        pause = self.delay(instant)
        if pause > 0:
            await asyncio.sleep(pause)
