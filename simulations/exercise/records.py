"""What an exercise left on the timeline, read from the crisis cell's PostgreSQL."""

from __future__ import annotations

import asyncio
import time

from contracts.vocabulary import Mode
from services.timeline.domain import TimelineRecord
from services.timeline.store import Conn, stored_record
from simulations.exercise.errors import ExerciseRunError

#: The timeline must hold the whole run within this after its last step.
DRAIN_TIMEOUT_S = 60.0


async def exercise_records(conn: Conn, operation: str) -> list[TimelineRecord]:
    """Every record of an exercise operation, in stream order."""
    rows = await conn.fetch(
        "SELECT mode, seq, envelope, proposal_id, deliveries FROM timeline_events"
        " WHERE mode = $1 AND operation = $2 ORDER BY seq",
        Mode.EXERCISE.value,
        operation,
    )
    return [stored_record(row) for row in rows]


async def wait_recorded(
    conn: Conn, operation: str, count: int, *, timeout_s: float = DRAIN_TIMEOUT_S
) -> int:
    """Wait until the projection holds `count` records of the operation (every proposal
    ends as exactly one timeline record); return how many it holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        held = int(
            await conn.fetchval(
                "SELECT count(*) FROM timeline_events WHERE mode = $1 AND operation = $2",
                Mode.EXERCISE.value,
                operation,
            )
        )
        if held >= count:
            return held
        if time.monotonic() >= deadline:
            raise ExerciseRunError(
                f"the timeline holds {held} of the {count} records of {operation} "
                f"after {timeout_s:.0f} s"
            )
        await asyncio.sleep(0.2)
