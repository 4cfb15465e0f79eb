"""The exercise clock runs scenario time ×1 to ×100, and the trainers pause, resume and
change its speed without a step skipped nor played twice."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from simulations.exercise.clock import ExerciseClock

pytestmark = pytest.mark.unit

PARIS = timezone(timedelta(hours=2))
START = datetime(2026, 7, 4, 20, 0, tzinfo=PARIS)


class FakeWall:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_speeds_outside_one_to_a_hundred_are_refused() -> None:
    for speed in (0.5, 101, 0):
        with pytest.raises(ValueError, match="×1 to ×100"):
            ExerciseClock(START, speed)
    clock = ExerciseClock(START, 1)
    with pytest.raises(ValueError, match="×1 to ×100"):
        clock.set_speed(250)


def test_pause_freezes_scenario_time_and_resume_goes_on_from_there() -> None:
    wall = FakeWall()
    clock = ExerciseClock(START, 60, monotonic=wall)
    clock.anchor()
    wall.now += 10  # ten minutes of scenario
    assert clock.pause() == START + timedelta(minutes=10)
    wall.now += 30  # a long pause
    assert clock.now() == START + timedelta(minutes=10)
    assert clock.paused
    assert clock.delay(START + timedelta(minutes=11)) == float("inf")
    clock.resume()
    assert not clock.paused
    wall.now += 1
    assert clock.now() == START + timedelta(minutes=11)
    assert clock.delay(START + timedelta(minutes=12)) == pytest.approx(1.0)


def test_a_new_speed_applies_from_where_the_clock_stands() -> None:
    wall = FakeWall()
    clock = ExerciseClock(START, 10, monotonic=wall)
    clock.anchor()
    wall.now += 6  # one minute at ×10
    assert clock.set_speed(100) == START + timedelta(minutes=1)
    wall.now += 6  # ten minutes at ×100
    assert clock.now() == START + timedelta(minutes=11)
    # a speed changed while paused applies once resumed
    clock.pause()
    clock.set_speed(1)
    wall.now += 100
    assert clock.now() == START + timedelta(minutes=11)
    clock.resume()
    wall.now += 60
    assert clock.now() == START + timedelta(minutes=12)


async def test_a_sleeper_waits_through_a_pause_and_wakes_after_resume() -> None:
    # given a step one scenario minute ahead at ×100 (0.6 s), and the clock paused at once
    clock = ExerciseClock(START, 100)
    clock.anchor()
    clock.pause()
    sleeper = asyncio.create_task(clock.sleep_until(START + timedelta(minutes=1)))
    # when more than that passes on the wall
    await asyncio.sleep(1.0)
    # then the step has not played
    assert not sleeper.done()
    # and once resumed, it plays
    clock.resume()
    await asyncio.wait_for(sleeper, timeout=30)
    assert clock.now() >= START + timedelta(minutes=1)


async def test_speeding_up_wakes_a_sleeper_sooner() -> None:
    # given a step a hundred scenario seconds ahead at ×1 (as long on the wall)
    clock = ExerciseClock(START, 1)
    clock.anchor()
    sleeper = asyncio.create_task(clock.sleep_until(START + timedelta(seconds=100)))
    await asyncio.sleep(0)
    # when the trainers go to ×100, it plays in about a second, well within thirty
    clock.set_speed(100)
    await asyncio.wait_for(sleeper, timeout=30)
    assert clock.now() >= START + timedelta(seconds=100)
