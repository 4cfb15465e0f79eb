"""The simulated clock maps charter time to wall time at its speed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from simulations.festival import SimClock

pytestmark = pytest.mark.unit

PARIS = timezone(timedelta(hours=2))
SIX_PM = datetime(2026, 6, 21, 18, 0, tzinfo=PARIS)


class FakeWall:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_charter_time_runs_speed_times_faster_than_the_wall() -> None:
    # given a clock at ×300 anchored at wall time 1000
    wall = FakeWall()
    clock = SimClock(SIX_PM, 300, monotonic=wall)
    clock.anchor()
    # when two wall seconds pass
    wall.now += 2
    # then ten charter minutes have played, and each instant has its wall time
    assert clock.now() == SIX_PM + timedelta(minutes=10)
    assert clock.wall_at(SIX_PM + timedelta(minutes=5)) == pytest.approx(1001.0)
    assert clock.delay(SIX_PM + timedelta(minutes=15)) == pytest.approx(1.0)
    assert clock.delay(SIX_PM) == pytest.approx(-2.0)  # late by two seconds
    # and the eight hours of the evening last 96 seconds
    assert clock.wall_seconds(timedelta(hours=8)) == pytest.approx(96.0)


async def test_sleeping_until_a_past_instant_returns_at_once() -> None:
    # given a clock that has run past an instant
    wall = FakeWall()
    clock = SimClock(SIX_PM, 300, monotonic=wall)
    clock.anchor()
    wall.now += 10
    # when the player waits for that instant, then it does not wait
    await clock.sleep_until(SIX_PM + timedelta(minutes=1))
    assert clock.anchored


def test_a_clock_must_be_anchored_fast_and_aware() -> None:
    # a clock not started yet cannot tell the time
    with pytest.raises(RuntimeError):
        SimClock(SIX_PM, 300).now()
    # a clock must go forward, from an instant with its offset
    with pytest.raises(ValueError, match="speed"):
        SimClock(SIX_PM, 0)
    with pytest.raises(ValueError, match="offset"):
        SimClock(datetime(2026, 6, 21, 18, 0), 300)  # a naive start: the point of the test
