"""One replay session: its items published with core NATS on `ifc.replay.<id>.…` at a speed,
as an asyncio task that pauses, resumes, seeks, changes speed and stops on request.

Every message carries `Ifc-Replay-Session` and `Ifc-Replay-Seq` (the original stream
sequence) and no `Nats-Msg-Id`: nothing on these subjects is meant to be stored.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog
from nats.errors import MaxPayloadError

from contracts import subjects
from contracts.charter.model import TimeWindow
from contracts.ids import SUBJECT_TOKEN_PATTERN
from contracts.routing import CLOUDEVENTS_JSON, CONTENT_TYPE_HEADER
from contracts.vocabulary import Mode
from services.crisis_api.replay_models import (
    ENDED,
    SEQ_HEADER,
    SESSION_HEADER,
    InvalidReplayError,
    ReplayItem,
    ReplayState,
    ReplayStateError,
    ReplayStatus,
)
from services.crisis_api.replay_schedule import Schedule, summarize

log = structlog.get_logger("replay")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Publisher(Protocol):
    """What a session publishes with (a nats-py client)."""

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Publish one message with core NATS."""

    async def flush(self, timeout: int = ...) -> None:
        """Wait until the server has everything published so far."""


def new_session_id() -> str:
    """A short, random, subject-safe session id."""
    return secrets.token_hex(5)


class ReplaySession:
    """Items of one window published on `ifc.replay.<id>.<operation>.<family>.<action>`."""

    def __init__(
        self,
        publisher: Publisher,
        items: Sequence[ReplayItem],
        *,
        operation: str,
        mode: Mode,
        window: TimeWindow,
        speed: float,
        owner: str = "",
        session_id: str | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.id = session_id or new_session_id()
        if not re.fullmatch(SUBJECT_TOKEN_PATTERN, operation):
            raise InvalidReplayError(f"operation {operation!r} is not a subject token")
        if not re.fullmatch(SUBJECT_TOKEN_PATTERN, self.id):
            raise InvalidReplayError(f"session id {self.id!r} is not a subject token")
        self.operation, self.mode, self.window, self.owner = operation, mode, window, owner
        self._items = tuple(items)
        self._subjects = [subjects.replay(self.id, operation, i.event_type) for i in self._items]
        self._schedule = Schedule(
            [(i.occurred_at - window.start).total_seconds() for i in self._items],
            (window.end - window.start).total_seconds(),
            speed,
        )
        self._publisher, self._clock, self._sleep = publisher, clock, sleep
        self._state = ReplayState.PENDING
        self._reason: str | None = None
        self._sent = self._skipped = 0
        self._skews_ms: list[float] = []
        self._started_at: datetime | None = None
        self._finished_at: datetime | None = None
        self._stopping = False
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> ReplayState:
        """Where the session stands."""
        return self._state

    @property
    def done(self) -> bool:
        """Whether it finished, stopped or failed."""
        return self._state in ENDED

    def start(self, on_done: Callable[[ReplaySession], None] | None = None) -> None:
        """Start publishing (in a task of the running loop); `on_done` runs when it ends."""
        if self._state is not ReplayState.PENDING:
            raise ReplayStateError(f"replay {self.id} is {self._state}: it cannot start")
        self._schedule.start(self._clock())
        self._started_at = datetime.now(UTC)
        self._state = ReplayState.RUNNING
        self._task = asyncio.create_task(self._run(), name=f"replay-{self.id}")
        if on_done is not None:
            self._task.add_done_callback(lambda _: on_done(self))
        log.info(
            "replay_started",
            replay=self.id,
            operation=self.operation,
            mode=self.mode.value,
            items=len(self._items),
            speed=self._schedule.speed,
        )

    async def wait(self) -> ReplayStatus:
        """Wait until the session ends; its final status."""
        if self._task is not None:
            await asyncio.shield(self._task)
        return self.status()

    async def aclose(self) -> ReplayStatus:
        """Stop, and wait until the session has ended."""
        self.stop()
        return await self.wait()

    # --- control ---------------------------------------------------------------------------

    def pause(self) -> None:
        """Hold the replay where it is; `resume` goes on without a burst."""
        self._require(ReplayState.RUNNING, "paused")
        self._schedule.pause(self._clock())
        self._state = ReplayState.PAUSED
        self._changed.set()

    def resume(self) -> None:
        """Go on after a pause, the schedule shifted by the pause."""
        self._require(ReplayState.PAUSED, "resumed")
        self._schedule.resume(self._clock())
        self._state = ReplayState.RUNNING
        self._changed.set()

    def seek(self, instant: datetime) -> None:
        """Jump to the first item at or after `instant` (inside the window); the timing goes
        on from there. A paused session stays paused."""
        self._require_active("sought")
        if instant.utcoffset() is None:
            raise InvalidReplayError("a seek instant needs a UTC offset")
        if not self.window.start <= instant <= self.window.end:
            raise InvalidReplayError(
                f"{instant.isoformat()} is outside the replayed window, from "
                f"{self.window.start.isoformat()} to {self.window.end.isoformat()}"
            )
        self._schedule.seek((instant - self.window.start).total_seconds(), self._clock())
        self._changed.set()

    def set_speed(self, speed: float) -> None:
        """Go on from the scenario clock's reading at another speed."""
        self._require_active("re-timed")
        self._schedule.set_speed(speed, self._clock())
        self._changed.set()

    def stop(self) -> None:
        """End the replay now (what was published stays published); idempotent."""
        if self.done:
            return
        self._stopping = True
        self._changed.set()
        if self._task is None:
            self._end(ReplayState.STOPPED)

    def _require(self, state: ReplayState, verb: str) -> None:
        if self._state is not state:
            raise ReplayStateError(f"replay {self.id} is {self._state}: it cannot be {verb}")

    def _require_active(self, verb: str) -> None:
        if self.done or self._stopping:
            raise ReplayStateError(f"replay {self.id} is {self._state}: it cannot be {verb}")

    # --- status ----------------------------------------------------------------------------

    def status(self) -> ReplayStatus:
        """The session as it stands now."""
        now = self._clock()
        schedule = self._schedule
        offset = schedule.scenario_offset(now)
        scheduled, elapsed = schedule.scheduled_duration(), schedule.run_time(now)
        finished = self._state is ReplayState.FINISHED
        return ReplayStatus(
            id=self.id,
            operation=self.operation,
            mode=self.mode,
            owner=self.owner,
            window=self.window,
            speed=schedule.speed,
            state=self._state,
            reason=self._reason,
            position=self.window.end if finished else self.window.start + timedelta(seconds=offset),
            sent=self._sent,
            skipped=self._skipped,
            total=len(self._items),
            subject=subjects.replay_of(self.id),
            started_at=self._started_at,
            finished_at=self._finished_at,
            scheduled_duration_s=round(scheduled, 6),
            elapsed_s=round(elapsed, 6),
            skew_ms=summarize(self._skews_ms),
            end_drift_ms=round((elapsed - scheduled) * 1000, 3) if finished else None,
        )

    # --- the task --------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._publish_all()
            await self._publisher.flush()
        except asyncio.CancelledError:
            self._end(ReplayState.STOPPED)
            raise
        except Exception as exc:  # a failed replay is reported, not raised
            self._end(ReplayState.FAILED, f"{type(exc).__name__}: {exc}")
            return
        self._end(ReplayState.STOPPED if self._stopping else ReplayState.FINISHED)

    async def _publish_all(self) -> None:
        schedule = self._schedule
        while not self._stopping:
            if schedule.paused:
                self._changed.clear()
                await self._changed.wait()
                continue
            index = schedule.next_index
            delay = schedule.due(index) - self._clock()
            if delay > 0:
                await self._sleep_unless_changed(delay)
                continue
            if index >= len(self._items):
                return
            await self._send(index)
            await asyncio.sleep(0)  # items due together: let the loop (and the flusher) run

    async def _sleep_unless_changed(self, delay: float) -> None:
        """Sleep `delay`, or less when a control changes the schedule meanwhile."""
        self._changed.clear()
        sleeper = asyncio.ensure_future(self._sleep(delay))
        waker = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _send(self, index: int) -> None:
        item = self._items[index]
        due = self._schedule.due(index)
        headers = {
            CONTENT_TYPE_HEADER: CLOUDEVENTS_JSON,
            SESSION_HEADER: self.id,
            SEQ_HEADER: str(item.seq),
        }
        try:
            await self._publisher.publish(self._subjects[index], item.body, headers=headers)
        except MaxPayloadError:
            self._skipped += 1
            log.warning("replay_item_too_large", replay=self.id, seq=item.seq, size=len(item.body))
        else:
            self._skews_ms.append((self._clock() - due) * 1000)
            self._sent += 1
        self._schedule.sent(index)

    def _end(self, state: ReplayState, reason: str | None = None) -> None:
        if self.done:
            return
        self._schedule.end(self._clock())
        self._state, self._reason = state, reason
        self._finished_at = datetime.now(UTC)
        status = self.status()
        emit = log.error if state is ReplayState.FAILED else log.info
        emit(
            "replay_ended",
            replay=self.id,
            state=state.value,
            reason=reason,
            sent=status.sent,
            total=status.total,
            end_drift_ms=status.end_drift_ms,
        )
