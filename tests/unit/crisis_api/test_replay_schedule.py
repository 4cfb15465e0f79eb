"""The replay's schedule, on a fake clock (exact and instant): item i is due at
start + offset_i / speed; a pause shifts what follows by its length (no burst at resume); a
seek goes on from the first item at or after the instant; a speed change goes on from the
scenario clock; speeds outside x0.5..x100 are refused. A session publishes on the replay
subjects only, with its headers, and survives a failing or oversized publish. No stream of
the project captures a replay subject."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from nats.errors import MaxPayloadError

from contracts import subjects
from contracts.charter.model import TimeWindow
from contracts.routing import MSG_ID_HEADER
from contracts.vocabulary import Mode
from infra.streams import Profile, all_stream_configs
from services.crisis_api.replay_models import (
    SEQ_HEADER,
    SESSION_HEADER,
    InvalidReplayError,
    ReplayItem,
    ReplayState,
    ReplayStateError,
)
from services.crisis_api.replay_schedule import (
    MAX_SPEED,
    MIN_SPEED,
    Schedule,
    check_speed,
    percentile,
    summarize,
)
from services.crisis_api.replay_session import ReplaySession
from unit.test_subjects import overlap
from unit.timeline.builders import T0

pytestmark = pytest.mark.unit

OPERATION = "fete-2026"
EVENT = "fr.interforces.unit.position_reported"

# --- the pure schedule ---------------------------------------------------------------------


def test_items_are_due_at_their_offset_divided_by_the_speed() -> None:
    schedule = Schedule([0, 10, 30, 59], end_offset=60, speed=20)
    schedule.start(100.0)
    assert [schedule.due(i) for i in range(4)] == [100.0, 100.5, 101.5, 102.95]
    # and past the last item, the window's end
    assert schedule.due(4) == 103.0
    assert schedule.scheduled_duration() == 3.0


def test_the_scenario_clock_runs_at_the_speed_within_the_window() -> None:
    schedule = Schedule([0, 10], end_offset=60, speed=20)
    assert schedule.scenario_offset(5.0) == 0.0  # not started
    schedule.start(10.0)
    assert schedule.scenario_offset(11.0) == 20.0
    assert schedule.scenario_offset(99.0) == 60.0


def test_a_pause_freezes_the_clock_and_shifts_what_follows_without_burst() -> None:
    schedule = Schedule([0, 10, 20, 30], end_offset=40, speed=10)
    schedule.start(0.0)
    # when paused at 1.5 s (scenario 15 s) for 30 s
    schedule.pause(1.5)
    assert schedule.scenario_offset(20.0) == 15.0
    assert schedule.run_time(20.0) == 1.5
    schedule.resume(31.5)
    # then the next items are due 0.5 s and 1.5 s after the resume, not at once
    assert schedule.due(2) == 32.0
    assert schedule.due(3) == 33.0
    # and the planned running time is unchanged
    assert schedule.scheduled_duration() == 4.0
    assert schedule.run_time(33.0) == 3.0


def test_a_seek_goes_on_from_the_first_item_at_or_after_the_instant() -> None:
    schedule = Schedule([0, 10, 20, 20, 30, 50], end_offset=60, speed=10)
    schedule.start(0.0)
    schedule.sent(0)
    # forward, between items: the next is the one at 30 s, due 0.5 s later
    schedule.seek(25, now=1.0)
    assert schedule.next_index == 4
    assert schedule.due(4) == 1.5
    assert schedule.scenario_offset(1.0) == 25.0
    # on an item: that item (the first of equal ones) is next, due at once
    schedule.seek(20, now=2.0)
    assert schedule.next_index == 2
    assert schedule.due(2) == 2.0
    # and the plan follows: 2 s run + 40 s of scenario at x10
    assert schedule.scheduled_duration() == 6.0


def test_a_seek_while_paused_holds_until_resumed() -> None:
    schedule = Schedule([0, 10, 30], end_offset=40, speed=10)
    schedule.start(0.0)
    schedule.pause(0.5)
    schedule.seek(28, now=3.0)
    assert schedule.scenario_offset(9.0) == 28.0
    schedule.resume(10.0)
    assert schedule.next_index == 2
    assert schedule.due(2) == 10.2


def test_a_speed_change_goes_on_from_the_scenario_clock() -> None:
    schedule = Schedule([0, 10, 20], end_offset=30, speed=10)
    schedule.start(0.0)
    schedule.set_speed(20, now=1.0)  # scenario 10 s
    assert schedule.due(2) == 1.5
    assert schedule.scheduled_duration() == 2.0
    assert schedule.scenario_offset(1.25) == 15.0


def test_a_sent_item_moves_on_unless_a_seek_already_did() -> None:
    schedule = Schedule([0, 10, 20], end_offset=30, speed=1)
    schedule.start(0.0)
    schedule.seek(20, now=0.0)
    schedule.sent(0)  # an item published while the seek happened
    assert schedule.next_index == 2


@pytest.mark.parametrize("speed", [MIN_SPEED, 1, 20, MAX_SPEED])
def test_speeds_from_half_to_a_hundred_times_real_time_are_taken(speed: float) -> None:
    assert check_speed(speed) == speed


@pytest.mark.parametrize("speed", [0, 0.49, -1, 100.01, 1000, math.inf, math.nan])
def test_other_speeds_are_refused_clearly(speed: float) -> None:
    with pytest.raises(InvalidReplayError, match=r"speed must be between x0\.5 and x100"):
        check_speed(speed)
    with pytest.raises(ValueError, match="speed"):
        Schedule([0], end_offset=1, speed=speed)


def test_skews_are_summarised_by_nearest_rank() -> None:
    assert summarize([]) is None
    values = [float(v) for v in range(1, 101)]
    summary = summarize(values[::-1])
    assert summary is not None
    assert (summary.p50, summary.p99, summary.max) == (50.0, 99.0, 100.0)
    assert percentile([3.0], 0.99) == 3.0


# --- a session on a fake clock ---------------------------------------------------------------


@dataclass
class FakeClock:
    """Time that moves only when the test says; `sleep` waits until it has moved enough."""

    now: float = 0.0
    _sleepers: list[tuple[float, int, asyncio.Future[None]]] = field(default_factory=list)
    _order: Iterator[int] = field(default_factory=itertools.count)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + delay, next(self._order), waiter))
        await waiter

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its deadline, in order."""
        target = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, waiter = heapq.heappop(self._sleepers)
            if not waiter.done():
                self.now = max(self.now, deadline)
                waiter.set_result(None)
                await settle()
        self.now = target
        await settle()


async def settle() -> None:
    """Let every task run until it waits on something."""
    for _ in range(50):
        await asyncio.sleep(0)


@dataclass
class Published:
    at: float
    subject: str
    body: bytes
    headers: dict[str, str]


@dataclass
class FakePublisher:
    """Records what is published and when; can be told to fail."""

    clock: FakeClock
    sent: list[Published] = field(default_factory=list)
    flushes: int = 0
    fail_on: int | None = None
    too_large: frozenset[int] = frozenset()

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        seq = int((headers or {})[SEQ_HEADER])
        if seq == self.fail_on:
            raise ConnectionResetError("connection lost")
        if seq in self.too_large:
            raise MaxPayloadError
        self.sent.append(Published(self.clock.now, subject, payload, dict(headers or {})))

    async def flush(self, timeout: int = 10) -> None:
        self.flushes += 1

    def seqs(self) -> list[int]:
        return [int(p.headers[SEQ_HEADER]) for p in self.sent]

    def times(self) -> list[float]:
        return [p.at for p in self.sent]


WINDOW = TimeWindow(start=T0, end=T0 + timedelta(seconds=60))


def items(*offsets: float) -> list[ReplayItem]:
    """Items at these scenario offsets (seconds), sequences 1, 2, …"""
    return [
        ReplayItem(seq, T0 + timedelta(seconds=o), EVENT, b'{"n": %d}' % seq)
        for seq, o in enumerate(offsets, start=1)
    ]


def session(
    clock: FakeClock, publisher: FakePublisher, offsets: list[float], speed: float = 10
) -> ReplaySession:
    return ReplaySession(
        publisher,
        items(*offsets),
        operation=OPERATION,
        mode=Mode.LIVE,
        window=WINDOW,
        speed=speed,
        owner="cic",
        session_id="s-1",
        clock=clock,
        sleep=clock.sleep,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=1000.0)


@pytest.fixture
def publisher(clock: FakeClock) -> FakePublisher:
    return FakePublisher(clock)


async def test_a_session_publishes_every_item_on_time_on_its_replay_subjects(
    clock: FakeClock, publisher: FakePublisher
) -> None:
    # Given a 60 s window with four items, replayed at x20
    replay = session(clock, publisher, [0, 10, 10, 45], speed=20)
    replay.start()
    # When the clock runs through the window
    await clock.advance(10)
    # Then each item went out at start + offset / 20, in order, then the flush
    assert publisher.times() == [1000.0, 1000.5, 1000.5, 1002.25]
    assert publisher.seqs() == [1, 2, 3, 4]
    assert publisher.flushes == 1
    # on the replay subject of the session, with its headers and no message id
    assert {p.subject for p in publisher.sent} == {
        subjects.replay("s-1", OPERATION, EVENT),
    }
    assert all(p.subject.startswith("ifc.replay.s-1.") for p in publisher.sent)
    assert all(p.headers[SESSION_HEADER] == "s-1" for p in publisher.sent)
    assert all(MSG_ID_HEADER not in p.headers for p in publisher.sent)
    assert publisher.sent[1].body == b'{"n": 2}'
    # and it finished at the window's end, exactly on schedule
    status = await replay.wait()
    assert status.state is ReplayState.FINISHED
    assert (status.sent, status.total) == (4, 4)
    assert status.position == WINDOW.end
    assert status.scheduled_duration_s == 3.0
    assert status.elapsed_s == 3.0
    assert status.end_drift_ms == 0.0
    assert status.skew_ms is not None
    assert status.skew_ms.max == 0.0
    assert status.subject == "ifc.replay.s-1.>"


async def test_pause_holds_and_resume_goes_on_without_burst(
    clock: FakeClock, publisher: FakePublisher
) -> None:
    # Given a replay at x10 of items at 0, 10, 20, 30 s
    replay = session(clock, publisher, [0, 10, 20, 30])
    replay.start()
    # When it is paused at 1.5 s (scenario 15 s) for a minute
    await clock.advance(1.5)
    replay.pause()
    paused = replay.status()
    assert paused.state is ReplayState.PAUSED
    assert paused.position == T0 + timedelta(seconds=15)
    await clock.advance(60)
    # Then nothing went out meanwhile and the scenario clock stood still
    assert publisher.seqs() == [1, 2]
    assert replay.status().position == T0 + timedelta(seconds=15)
    # And after the resume the rest keeps its spacing, shifted by the pause
    replay.resume()
    await clock.advance(10)
    assert publisher.times() == [1000.0, 1001.0, 1062.0, 1063.0]
    status = await replay.wait()
    assert status.state is ReplayState.FINISHED
    assert status.scheduled_duration_s == 6.0
    assert status.elapsed_s == 6.0
    assert status.end_drift_ms == 0.0


async def test_a_seek_forward_skips_to_the_instant_and_times_from_there(
    clock: FakeClock, publisher: FakePublisher
) -> None:
    replay = session(clock, publisher, [0, 10, 20, 30, 40, 50])
    replay.start()
    await clock.advance(1.2)  # scenario 12 s: items 1 and 2 sent
    # When the session jumps to scenario 35 s
    replay.seek(T0 + timedelta(seconds=35))
    assert replay.status().position == T0 + timedelta(seconds=35)
    await clock.advance(10)
    # Then items 3 and 4 are skipped, 5 and 6 go out 0.5 s and 1.5 s after the seek
    assert publisher.seqs() == [1, 2, 5, 6]
    assert publisher.times()[2:] == [1001.7, 1002.7]
    status = await replay.wait()
    assert status.state is ReplayState.FINISHED
    assert status.elapsed_s == pytest.approx(3.7)
    assert status.end_drift_ms == pytest.approx(0.0, abs=1e-6)


async def test_a_seek_back_sends_items_again(clock: FakeClock, publisher: FakePublisher) -> None:
    replay = session(clock, publisher, [0, 10, 20])
    replay.start()
    await clock.advance(2.5)
    replay.seek(T0 + timedelta(seconds=10))
    await clock.advance(10)
    assert publisher.seqs() == [1, 2, 3, 2, 3]
    assert (await replay.wait()).sent == 5


async def test_a_seek_outside_the_window_is_refused(
    clock: FakeClock, publisher: FakePublisher
) -> None:
    replay = session(clock, publisher, [0, 10])
    replay.start()
    with pytest.raises(InvalidReplayError, match="outside the replayed window"):
        replay.seek(T0 - timedelta(seconds=1))
    with pytest.raises(InvalidReplayError, match="UTC offset"):
        replay.seek(datetime(2026, 6, 21, 21, 0))  # naive: the point of the test
    await replay.aclose()


async def test_a_session_changes_speed_from_the_scenario_clock(
    clock: FakeClock, publisher: FakePublisher
) -> None:
    replay = session(clock, publisher, [0, 10, 30])
    replay.start()
    await clock.advance(1)  # scenario 10 s
    replay.set_speed(20)
    await clock.advance(10)
    assert publisher.times() == [1000.0, 1001.0, 1002.0]
    status = await replay.wait()
    assert status.speed == 20
    assert status.scheduled_duration_s == 3.5
    with pytest.raises(InvalidReplayError):
        session(clock, publisher, [0]).set_speed(200)


async def test_stop_ends_the_replay_and_flushes_what_was_sent(
    clock: FakeClock, publisher: FakePublisher
) -> None:
    replay = session(clock, publisher, [0, 10, 20, 30])
    replay.start()
    await clock.advance(1.5)
    replay.stop()
    await clock.advance(10)
    status = await replay.wait()
    assert publisher.seqs() == [1, 2]
    assert publisher.flushes == 1
    assert status.state is ReplayState.STOPPED
    assert status.end_drift_ms is None
    assert status.position == T0 + timedelta(seconds=15)
    # and an ended session refuses every control, except stop
    for control in (replay.pause, replay.resume):
        with pytest.raises(ReplayStateError, match="stopped"):
            control()
    with pytest.raises(ReplayStateError):
        replay.seek(T0)
    replay.stop()


async def test_a_paused_replay_stops_at_once(clock: FakeClock, publisher: FakePublisher) -> None:
    replay = session(clock, publisher, [0, 10, 20])
    replay.start()
    await clock.advance(1.5)
    replay.pause()
    await clock.advance(5)
    replay.stop()
    status = await replay.wait()
    assert status.state is ReplayState.STOPPED
    assert publisher.seqs() == [1, 2]
    assert status.elapsed_s == 1.5


async def test_controls_out_of_turn_are_refused(clock: FakeClock, publisher: FakePublisher) -> None:
    replay = session(clock, publisher, [0, 10])
    with pytest.raises(ReplayStateError, match="pending"):
        replay.pause()
    replay.start()
    with pytest.raises(ReplayStateError, match="running: it cannot be resumed"):
        replay.resume()
    with pytest.raises(ReplayStateError, match="cannot start"):
        replay.start()
    replay.pause()
    with pytest.raises(ReplayStateError, match="paused: it cannot be paused"):
        replay.pause()
    assert (await replay.aclose()).state is ReplayState.STOPPED


async def test_a_failing_publish_fails_the_session_with_its_reason(
    clock: FakeClock, publisher: FakePublisher
) -> None:
    publisher.fail_on = 2
    replay = session(clock, publisher, [0, 10, 20])
    replay.start()
    await clock.advance(10)
    status = await replay.wait()
    assert status.state is ReplayState.FAILED
    assert status.reason == "ConnectionResetError: connection lost"
    assert publisher.seqs() == [1]


async def test_an_item_too_large_for_the_server_is_skipped_and_counted(
    clock: FakeClock, publisher: FakePublisher
) -> None:
    publisher.too_large = frozenset({2})
    replay = session(clock, publisher, [0, 10, 20])
    replay.start()
    await clock.advance(10)
    status = await replay.wait()
    assert status.state is ReplayState.FINISHED
    assert publisher.seqs() == [1, 3]
    assert (status.sent, status.skipped, status.total) == (2, 1, 3)


def test_an_operation_that_is_not_a_subject_token_is_refused(
    clock: FakeClock, publisher: FakePublisher
) -> None:
    with pytest.raises(InvalidReplayError, match="subject token"):
        ReplaySession(publisher, [], operation="op.>", mode=Mode.LIVE, window=WINDOW, speed=1)


def test_session_ids_are_short_random_subject_tokens(
    clock: FakeClock, publisher: FakePublisher
) -> None:
    ids = {
        ReplaySession(publisher, [], operation=OPERATION, mode=Mode.LIVE, window=WINDOW, speed=1).id
        for _ in range(50)
    }
    assert len(ids) == 50
    for found in ids:
        assert subjects.replay_of(found) == f"ifc.replay.{found}.>"
        assert len(found) <= 12


# --- the namespace ---------------------------------------------------------------------------


def test_no_declared_stream_captures_a_replay_subject() -> None:
    declared = [s for c in all_stream_configs(Profile.SINGLE) for s in c.subjects or []]
    assert declared
    for pattern in declared:
        assert not overlap(pattern, subjects.replay_of()), pattern
