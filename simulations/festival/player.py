"""Plays an evening against a running system, on a simulated clock.

Each thread of the evening (a unit's shift, an incident's life, a desk's alert chain) runs
as its own task: it waits for each action's simulated time, sends it, and waits for its
answer before the next one, so an incident's steps reach the coordinator in causal order.
Threads run side by side, at most `concurrency` sends in flight, so the player keeps up at
high speeds. Every wait is bounded: a report is retried a bounded number of times, JetStream
acknowledgements have timeouts, and receipts and dispatches are awaited `settle_s` at most.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts.credentials import read_unit_key
from contracts.reports import ReportStatus
from contracts.vocabulary import Agency
from simulations.festival.clock import SimClock
from simulations.festival.model import Action, Evening, Via
from simulations.field.desk import CrisisCellDesk
from simulations.field.errors import DeskPublishError, ReplyError, ReportUndeliveredError
from simulations.field.inbox import DispatchListener, ReceiptInbox
from simulations.field.retry import RetryPolicy
from simulations.field.unit import FieldUnit

RECEIPT_TYPE = "fr.interforces.identity_check.recepisse_issued"
ASSIGNED_TYPE = "fr.interforces.incident.assigned"


@dataclass(frozen=True, slots=True)
class PlayProgress:
    """Where the evening stands after one more action was answered."""

    done: int
    total: int
    action: Action
    outcome: str
    lag_s: float

    @property
    def at(self) -> datetime:
        """Charter time of the action just answered."""
        return self.action.at


ProgressCallback = Callable[[PlayProgress], None]


@dataclass(frozen=True, slots=True)
class PlayResult:
    """What became of the evening's actions.

    Unit reports: `proposed` or `refused` by their agency service (by reason code), or
    `undelivered` (no answer after every attempt) or `unreadable` (an answer that is no
    acknowledgement). Desk actions: `desk_published` (of which `desk_duplicates` JetStream
    already had) or `desk_failed`. `deliberate` counts the out-of-perimeter attempts sent,
    which the coordinator is expected to refuse. Receipts and dispatches are those that
    reached the field, against what the evening calls for.
    """

    actions: int
    reports_sent: int
    proposed: int
    refused: dict[str, int]
    undelivered: int
    unreadable: int
    retries: int
    desk_published: int
    desk_duplicates: int
    desk_failed: int
    deliberate: int
    receipts: int
    receipts_expected: int
    dispatches: int
    dispatches_expected: int
    elapsed_s: float
    max_lag_s: float

    @property
    def refused_total(self) -> int:
        """Reports refused by the agency services."""
        return sum(self.refused.values())


def expected_receipts(evening: Evening) -> int:
    """Receipts the evening hands to checked persons."""
    return sum(1 for a in evening.actions if a.type == RECEIPT_TYPE)


def expected_dispatches(evening: Evening) -> int:
    """Assignments naming a unit that the coordinator should accept (hence dispatch)."""
    return sum(
        1
        for a in evening.actions
        if a.type == ASSIGNED_TYPE and a.refusal is None and a.event.get("assignee_unit")
    )


class _Player:
    """Sends the actions and counts what became of them."""

    def __init__(
        self,
        evening: Evening,
        desk: CrisisCellDesk,
        clock: SimClock,
        *,
        progress_callback: ProgressCallback | None,
        concurrency: int,
    ) -> None:
        self.units: dict[tuple[Agency, str], FieldUnit] = {}
        self.desk = desk
        self.clock = clock
        self.progress_callback = progress_callback
        self.gate = asyncio.Semaphore(concurrency)
        self.total = len(evening.actions)
        self.done = 0
        self.reports = 0
        self.proposed = 0
        self.refused: Counter[str] = Counter()
        self.undelivered = 0
        self.unreadable = 0
        self.retries = 0
        self.published = 0
        self.duplicates = 0
        self.failed = 0
        self.deliberate = 0
        self.max_lag_s = 0.0

    def retried(self, _report: str, _attempt: int, _error: Exception) -> None:
        """A unit sends a report again."""
        self.retries += 1

    async def run(self, thread: tuple[Action, ...]) -> None:
        """Play one thread: each action at its time, after the previous one is answered."""
        for action in thread:
            await self.clock.sleep_until(action.at)
            lag = max(0.0, -self.clock.delay(action.at))
            self.max_lag_s = max(self.max_lag_s, lag)
            async with self.gate:
                outcome = await self.send(action)
            self.done += 1
            if self.progress_callback is not None:
                self.progress_callback(PlayProgress(self.done, self.total, action, outcome, lag))

    async def send(self, action: Action) -> str:
        """Send one action; what became of it, in a word."""
        if action.refusal is not None:
            self.deliberate += 1
        if action.via is Via.DESK:
            return await self._propose(action)
        return await self._report(action)

    async def _propose(self, action: Action) -> str:
        try:
            receipt = await self.desk.propose(
                action.key, action.at, action.event, sector=action.sector, subject=action.subject
            )
        except DeskPublishError:
            self.failed += 1
            return "failed"
        self.published += 1
        self.duplicates += int(receipt.duplicate)
        return "published"

    async def _report(self, action: Action) -> str:
        self.reports += 1
        unit = self.units[(action.agency, action.unit)]
        try:
            ack = await unit.report(
                action.key, action.at, action.event, sector=action.sector, subject=action.subject
            )
        except ReportUndeliveredError:
            self.undelivered += 1
            return "undelivered"
        except ReplyError:
            self.unreadable += 1
            return "unreadable"
        if ack.status is ReportStatus.PROPOSED:
            self.proposed += 1
            return "proposed"
        reason = ack.reason.value if ack.reason is not None else "unspecified"
        self.refused[reason] += 1
        return f"refused:{reason}"


async def play(  # noqa: PLR0917 (what an evening is played with, in one call)
    evening: Evening,
    nc: Client,
    js: JetStreamContext,
    secrets_dir: Path,
    clock: SimClock,
    progress_callback: ProgressCallback | None = None,
    *,
    concurrency: int = 64,
    retry: RetryPolicy | None = None,
    desk_retry: RetryPolicy | None = None,
    settle_s: float = 5.0,
) -> PlayResult:
    """Send every action of the evening at its simulated time and return what became of
    them. The clock is anchored now unless it already runs."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    mode, operation = evening.mode, evening.operation
    units = evening.units()
    agencies = sorted({agency for agency, _ in units})
    keys = {agency: read_unit_key(secrets_dir, agency) for agency in agencies}
    desk = CrisisCellDesk(js, mode, operation, retry=desk_retry)
    player = _Player(
        evening, desk, clock, progress_callback=progress_callback, concurrency=concurrency
    )
    for agency, unit in units:
        player.units[(agency, unit)] = FieldUnit(
            nc, mode, operation, agency, unit, keys[agency], retry=retry, on_retry=player.retried
        )
    inbox = ReceiptInbox(nc, mode, operation, agencies)
    listener = DispatchListener(nc, mode, operation, units)
    receipts, dispatches = expected_receipts(evening), expected_dispatches(evening)
    await inbox.start()
    await listener.start()
    try:
        if not clock.anchored:
            clock.anchor()
        started = time.monotonic()
        async with asyncio.TaskGroup() as group:
            for thread in evening.threads().values():
                group.create_task(player.run(thread))
        # Receipts and dispatches trail the last answer: wait for them, within one deadline.
        deadline = time.monotonic() + settle_s
        await inbox.wait_for(receipts, settle_s)
        await listener.wait_for(dispatches, max(0.0, deadline - time.monotonic()))
        elapsed = time.monotonic() - started
    finally:
        await inbox.stop()
        await listener.stop()
    return PlayResult(
        actions=player.total,
        reports_sent=player.reports,
        proposed=player.proposed,
        refused=dict(player.refused),
        undelivered=player.undelivered,
        unreadable=player.unreadable,
        retries=player.retries,
        desk_published=player.published,
        desk_duplicates=player.duplicates,
        desk_failed=player.failed,
        deliberate=player.deliberate,
        receipts=inbox.count,
        receipts_expected=receipts,
        dispatches=listener.count,
        dispatches_expected=dispatches,
        elapsed_s=elapsed,
        max_lag_s=player.max_lag_s,
    )


__all__ = [
    "PlayProgress",
    "PlayResult",
    "ProgressCallback",
    "expected_dispatches",
    "expected_receipts",
    "play",
]
