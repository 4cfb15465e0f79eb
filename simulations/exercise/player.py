"""Plays a plan against the running system on the exercise clock, and takes the trainers'
live injects and pause, resume and speed orders while it plays.

Each thread (an incident's life, a unit's shift) runs as its own task: it waits for each
step's scenario time, sends it — a unit's report to its agency service, the crisis
cell's proposal from its desk, the trainers' inject from theirs — and waits for the
answer before the next step. Every wait is bounded (the field clients' retry policies).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts.credentials import read_unit_key
from contracts.reports import ReportStatus
from contracts.vocabulary import Agency, Mode
from simulations.exercise.cast import Via
from simulations.exercise.charter import control_unit
from simulations.exercise.clock import ExerciseClock
from simulations.exercise.control import InjectReceipt, LiveInject, RunStatus
from simulations.exercise.errors import ControlError
from simulations.exercise.injects import ControlDesk
from simulations.exercise.plan import Plan, desk_key
from simulations.exercise.steps import Origin, Step
from simulations.field.desk import DESK_UNIT, CrisisCellDesk
from simulations.field.errors import DeskPublishError, ReplyError, ReportUndeliveredError
from simulations.field.inbox import DispatchListener, ReceiptInbox
from simulations.field.unit import FieldUnit

_INJECTED = "fr.interforces.exercise.injected"
_RECEIPT = "fr.interforces.identity_check.recepisse_issued"


@dataclass(frozen=True, slots=True)
class StepDone:
    """A step just answered, for progress displays."""

    done: int
    total: int
    step: Step
    outcome: str
    clock: datetime


@dataclass
class PlayResult:
    """What became of the plan's steps.

    `proposed`: reports the agency services proposed; `refused`: reports they refused
    themselves (by code); `published`: desk and trainers' proposals JetStream took (of
    which `duplicates` it already had); `undelivered`, `unreadable`, `failed`: steps that
    never reached JetStream. `recorded_expected` is how many timeline records the run owes.
    """

    steps: int = 0
    proposed: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    undelivered: int = 0
    unreadable: int = 0
    published: int = 0
    duplicates: int = 0
    failed: int = 0
    live_injects: int = 0
    receipts: int = 0
    receipts_expected: int = 0
    dispatches: int = 0
    max_lag_s: float = 0.0
    elapsed_s: float = 0.0
    outcomes: dict[str, str] = field(default_factory=dict)

    @property
    def recorded_expected(self) -> int:
        """Timeline records the run owes: one per proposal that reached JetStream."""
        return self.proposed + self.published - self.duplicates

    def as_json(self) -> dict[str, object]:
        """JSON-ready counts."""
        return {
            "steps": self.steps,
            "proposed": self.proposed,
            "refused_by_services": dict(self.refused),
            "undelivered": self.undelivered,
            "unreadable": self.unreadable,
            "published": self.published,
            "failed": self.failed,
            "live_injects": self.live_injects,
            "receipts": f"{self.receipts}/{self.receipts_expected}",
            "dispatches": self.dispatches,
            "max_lag_s": round(self.max_lag_s, 2),
            "elapsed_s": round(self.elapsed_s, 1),
        }


class ExercisePlayer:
    """Plays one plan; the trainers' remote control acts on it (`control.Controlled`)."""

    def __init__(  # noqa: PLR0917 (what a run is played with)
        self,
        plan: Plan,
        scenario: str,
        nc: Client,
        js: JetStreamContext,
        secrets_dir: Path,
        clock: ExerciseClock,
        *,
        concurrency: int = 32,
        on_step: Callable[[StepDone], None] | None = None,
    ) -> None:
        self.plan = plan
        self.scenario = scenario
        self.nc = nc
        self.clock = clock
        self.on_step = on_step
        self.result = PlayResult(steps=len(plan.steps))
        self.live: list[Step] = []
        self._gate = asyncio.Semaphore(concurrency)
        self._done = 0
        operation = plan.operation
        units = sorted({(s.agency, s.unit) for s in plan.steps if s.via is Via.UNIT and s.unit})
        agencies = sorted({agency for agency, _ in units})
        keys = {agency: read_unit_key(secrets_dir, agency) for agency in agencies}
        self._units = {
            (agency, unit): FieldUnit(nc, Mode.EXERCISE, operation, agency, unit, keys[agency])
            for agency, unit in units
        }
        self._desks = {
            unit: CrisisCellDesk(js, Mode.EXERCISE, operation, unit=unit)
            for unit in sorted({s.unit or DESK_UNIT for s in plan.steps if s.via is Via.DESK})
        }
        self._control = ControlDesk(js, operation, control_unit(plan.charter))
        self._inbox = ReceiptInbox(nc, Mode.EXERCISE, operation, agencies)
        self._listener = DispatchListener(nc, Mode.EXERCISE, operation, units)

    # --- playing --------------------------------------------------------------------------

    async def play(self, *, settle_s: float = 5.0) -> PlayResult:
        """Play every step at its scenario time; return what became of them."""
        result = self.result
        result.receipts_expected = sum(1 for s in self.plan.steps if s.type == _RECEIPT)
        await self._inbox.start()
        await self._listener.start()
        started = time.monotonic()
        try:
            if not self.clock.anchored:
                self.clock.anchor()
            async with asyncio.TaskGroup() as group:
                for thread in self.plan.threads().values():
                    group.create_task(self._thread(thread))
            await self._inbox.wait_for(result.receipts_expected, settle_s)
        finally:
            await self._inbox.stop()
            await self._listener.stop()
        result.receipts = self._inbox.count
        result.dispatches = self._listener.count
        result.elapsed_s = time.monotonic() - started
        return result

    async def _thread(self, thread: tuple[Step, ...]) -> None:
        for step in thread:
            await self.clock.sleep_until(step.at)
            lag = max(0.0, -self.clock.delay(step.at))
            self.result.max_lag_s = max(self.result.max_lag_s, lag)
            async with self._gate:
                outcome = await self._send(step)
            self.result.outcomes[step.key] = outcome
            self._done += 1
            if self.on_step is not None:
                done = StepDone(self._done, len(self.plan.steps), step, outcome, step.at)
                self.on_step(done)

    async def _send(self, step: Step) -> str:
        if step.via is Via.UNIT:
            return await self._report(step)
        try:
            if step.via is Via.DESK:
                desk = self._desks[step.unit or DESK_UNIT]
                receipt = await desk.propose(
                    step.key, step.at, step.event, sector=step.sector, subject=step.subject
                )
                duplicate = receipt.duplicate
            else:
                published = await self._control.propose(
                    step.key, step.at, step.event, sector=step.sector, subject=step.subject
                )
                duplicate = published.duplicate
        except DeskPublishError:
            self.result.failed += 1
            return "failed"
        self.result.published += 1
        self.result.duplicates += int(duplicate)
        return "published"

    async def _report(self, step: Step) -> str:
        unit = self._units[(step.agency, step.unit or "")]
        try:
            ack = await unit.report(step.key, step.at, step.event, step.sector, step.subject)
        except ReportUndeliveredError:
            self.result.undelivered += 1
            return "undelivered"
        except ReplyError:
            self.result.unreadable += 1
            return "unreadable"
        if ack.status is ReportStatus.PROPOSED:
            self.result.proposed += 1
            return "proposed"
        reason = ack.reason.value if ack.reason is not None else "unspecified"
        self.result.refused[reason] += 1
        return f"refused:{reason}"

    # --- the trainers' remote control -----------------------------------------------------

    def status(self) -> RunStatus:
        """Where the run stands."""
        return RunStatus(
            operation=self.plan.operation,
            scenario=self.scenario,
            clock=self.clock.now() if self.clock.anchored else self.plan.start,
            end=self.plan.end,
            speed=self.clock.speed,
            paused=self.clock.paused,
            done=self._done,
            total=len(self.plan.steps),
            live_injects=len(self.live),
        )

    def pause(self) -> None:
        """Freeze scenario time."""
        self.clock.pause()

    def resume(self) -> None:
        """Let scenario time run again."""
        self.clock.resume()

    def set_speed(self, speed: float) -> None:
        """Run at another speed (×1 to ×100)."""
        self.clock.set_speed(speed)

    async def inject(self, live: LiveInject) -> InjectReceipt:
        """Propose a live inject at the scenario time now (raise `ControlError` when the
        run has not started or is over, or when JetStream does not take it)."""
        if not self.clock.anchored:
            raise ControlError("the exercise has not started yet")
        at = self.clock.now().replace(microsecond=0)
        if not self.plan.start <= at < self.plan.end:
            raise ControlError("the exercise is over")
        if self.plan.charter.actor(live.target) is None:
            raise ControlError(f"{live.target.value} does not play in this exercise")
        number = len(self.live) + 1
        inject = f"LIVE-{number:02d}"
        event = {"type": _INJECTED, "inject": inject, **live.model_dump(mode="json")}
        if live.position is None:
            event.pop("position")
        step = Step(
            key=desk_key(self.plan.operation, f"live-{number:03d}"),
            at=at,
            via=Via.CONTROL,
            agency=Agency.EXERCISE_CONTROL,
            unit=control_unit(self.plan.charter),
            event=event,
            sector=None,
            subject=None,
            thread=f"live:{inject}",
            origin=Origin.LIVE,
            ref=inject,
        )
        self.live.append(step)
        try:
            published = await self._control.propose(step.key, at, event)
        except DeskPublishError as exc:
            self.result.failed += 1
            raise ControlError(f"the inject was not stored: {exc}") from exc
        self.result.published += 1
        self.result.duplicates += int(published.duplicate)
        self.result.live_injects += 1
        return InjectReceipt(inject=inject, at=at, event_id=published.event_id)
