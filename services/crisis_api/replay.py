"""Replays: a window of an operation's timeline republished at a speed, paused, resumed,
sought and stopped, into its own namespace (`ifc.replay.<session>.<operation>.…`) that no
stream captures and no live or exercise consumer reads.

`load_window` reads the records once, through the caller's view; a `ReplaySession`
(`replay_session`) publishes them on the schedule of `replay_schedule`; the `ReplayManager`
runs several at once, bounded, and keeps the status of the last ones that ended.
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Final

import asyncpg
import structlog
from pydantic import ValidationError

from contracts.charter.model import TimeWindow
from contracts.cloudevents import to_structured
from contracts.envelope import Envelope
from contracts.vocabulary import Mode
from services.crisis_api.replay_models import (
    InvalidReplayError,
    ReplayError,
    ReplayItem,
    ReplayLimitError,
    ReplayNotFoundError,
    ReplayState,
    ReplayStateError,
    ReplayStatus,
)
from services.crisis_api.replay_schedule import check_speed
from services.crisis_api.replay_session import (
    Clock,
    Publisher,
    ReplaySession,
    Sleep,
    new_session_id,
)
from services.timeline.domain import TimelineRecord
from services.timeline.errors import StoredEventError
from services.timeline.store import Conn, stored_record

__all__ = [
    "InvalidReplayError",
    "ReplayError",
    "ReplayItem",
    "ReplayLimitError",
    "ReplayManager",
    "ReplayNotFoundError",
    "ReplaySession",
    "ReplayState",
    "ReplayStateError",
    "ReplayStatus",
    "View",
    "load_window",
    "replay_window",
]

#: Most records one replay loads.
MAX_WINDOW_ITEMS: Final = 100_000
#: Replays running at once, by default.
DEFAULT_MAX_RUNNING: Final = 8
#: Statuses of ended replays kept, by default.
DEFAULT_KEEP_ENDED: Final = 100

log = structlog.get_logger("replay")

#: The copy of a record a caller may see, or None to skip it.
View = Callable[[TimelineRecord], Envelope | None]


def replay_window(start: datetime, end: datetime) -> TimeWindow:
    """The window [start, end), or `InvalidReplayError`."""
    try:
        return TimeWindow(start=start, end=end)
    except ValidationError as exc:
        raise InvalidReplayError(f"invalid replay window: {exc.errors()[0]['msg']}") from exc


async def load_window(  # noqa: PLR0917 - the signature the API and the CLI share
    conn: Conn,
    mode: Mode,
    operation: str,
    start: datetime,
    end: datetime,
    view: View | None = None,
) -> list[ReplayItem]:
    """The operation's records with start <= occurred_at < end, by (occurred_at, seq), as
    `view` shows them (None: the records themselves; a view returning None skips one)."""
    window = replay_window(start, end)
    rows = await conn.fetch(
        """SELECT mode, seq, envelope, proposal_id, deliveries FROM timeline_events
           WHERE mode = $1 AND operation = $2 AND occurred_at >= $3 AND occurred_at < $4
           ORDER BY occurred_at, seq LIMIT $5""",
        mode.value,
        operation,
        window.start,
        window.end,
        MAX_WINDOW_ITEMS + 1,
    )
    if len(rows) > MAX_WINDOW_ITEMS:
        raise InvalidReplayError(f"the window holds over {MAX_WINDOW_ITEMS} records: narrow it")
    items: list[ReplayItem] = []
    for row in rows:
        try:
            record = stored_record(row)
        except StoredEventError:
            log.warning("replay_record_unreadable", mode=mode.value, seq=row["seq"])
            continue
        shown = record.envelope if view is None else view(record)
        if shown is not None:
            items.append(
                ReplayItem(record.seq, record.envelope.time, shown.type, to_structured(shown))
            )
    return items


class ReplayManager:
    """The replays of one process: at most `max_running` at once, the last `keep_ended`
    ended ones remembered by their status."""

    def __init__(
        self,
        publisher: Publisher,
        pool: asyncpg.Pool[asyncpg.Record],
        *,
        max_running: int = DEFAULT_MAX_RUNNING,
        keep_ended: int = DEFAULT_KEEP_ENDED,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_running < 1 or keep_ended < 0:
            raise ValueError("max_running must be at least 1 and keep_ended not negative")
        self._publisher, self._pool = publisher, pool
        self._max_running, self._keep_ended = max_running, keep_ended
        self._clock, self._sleep = clock, sleep
        self._live: dict[str, ReplaySession] = {}
        self._ended: OrderedDict[str, ReplayStatus] = OrderedDict()
        self._starting = 0
        self._closed = False

    def running_count(self) -> int:
        """Replays started and not ended (paused ones included)."""
        return len(self._live)

    async def create(
        self,
        *,
        mode: Mode,
        operation: str,
        start: datetime,
        end: datetime,
        speed: float,
        owner: str,
        view: View | None = None,
    ) -> ReplaySession:
        """Load the window through `view` and start replaying it; the running session.

        Raises `InvalidReplayError` (speed, window, operation), `ReplayLimitError` (too many
        running) or `ReplayStateError` (the manager is closed)."""
        if self._closed:
            raise ReplayStateError("replays are closed: the service is stopping")
        window, speed = replay_window(start, end), check_speed(speed)
        if len(self._live) + self._starting >= self._max_running:
            raise ReplayLimitError(
                f"{self._max_running} replays are already running: stop one or wait"
            )
        self._starting += 1
        try:
            async with self._pool.acquire() as conn:
                items = await load_window(conn, mode, operation, window.start, window.end, view)
            session = ReplaySession(
                self._publisher,
                items,
                operation=operation,
                mode=mode,
                window=window,
                speed=speed,
                owner=owner,
                session_id=self._new_id(),
                clock=self._clock,
                sleep=self._sleep,
            )
        finally:
            self._starting -= 1
        if self._closed:
            raise ReplayStateError("replays are closed: the service is stopping")
        self._live[session.id] = session
        session.start(on_done=self._retire)
        return session

    def _new_id(self) -> str:
        while True:
            found = new_session_id()
            if found not in self._live and found not in self._ended:
                return found

    def _retire(self, session: ReplaySession) -> None:
        self._live.pop(session.id, None)
        if self._keep_ended:
            self._ended[session.id] = session.status()
            while len(self._ended) > self._keep_ended:
                self._ended.popitem(last=False)

    def session(self, session_id: str) -> ReplaySession:
        """A session that has not ended, or `ReplayStateError` / `ReplayNotFoundError`."""
        found = self._live.get(session_id)
        if found is not None:
            return found
        if session_id in self._ended:
            ended = self._ended[session_id]
            raise ReplayStateError(f"replay {session_id} is {ended.state}: it cannot be changed")
        raise ReplayNotFoundError(f"no replay {session_id!r}")

    def get(self, session_id: str) -> ReplayStatus:
        """The status of a session, running or among the last ended."""
        found = self._live.get(session_id)
        if found is not None:
            return found.status()
        if session_id in self._ended:
            return self._ended[session_id]
        raise ReplayNotFoundError(f"no replay {session_id!r}")

    def list(self, owner: str | None = None) -> builtins.list[ReplayStatus]:
        """Statuses of the ended sessions kept, then the running ones (of `owner` if given)."""
        found = [*self._ended.values(), *(s.status() for s in self._live.values())]
        return [s for s in found if owner is None or s.owner == owner]

    def pause(self, session_id: str) -> ReplayStatus:
        """Pause a running session."""
        session = self.session(session_id)
        session.pause()
        return session.status()

    def resume(self, session_id: str) -> ReplayStatus:
        """Resume a paused session."""
        session = self.session(session_id)
        session.resume()
        return session.status()

    def seek(self, session_id: str, instant: datetime) -> ReplayStatus:
        """Jump to the first item at or after `instant`."""
        session = self.session(session_id)
        session.seek(instant)
        return session.status()

    def set_speed(self, session_id: str, speed: float) -> ReplayStatus:
        """Go on at another speed."""
        session = self.session(session_id)
        session.set_speed(speed)
        return session.status()

    async def stop(self, session_id: str) -> ReplayStatus:
        """Stop a session and wait until it has ended; its final status (that of an ended
        session is returned as it is)."""
        found = self._live.get(session_id)
        return await found.aclose() if found is not None else self.get(session_id)

    async def aclose(self) -> None:
        """Stop every session and wait until all have ended; no new one starts."""
        self._closed = True
        await asyncio.gather(*(s.aclose() for s in list(self._live.values())))
