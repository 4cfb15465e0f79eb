"""A steady load for the fault scenarios, and what it sent.

Proposals come from the perimeter benchmark's generator (`simulations.bench.proposals`):
what an event night is made of, about 15 % of it out of the perimeter, so that both
outcomes flow. They go either straight to JetStream, as an agency service publishes them
(`ProposalLoad`: `Nats-Msg-Id` = event id, each publish retried until JetStream acknowledges
it), or as unit reports through an agency service (`ReportLoad`: request/reply, the same
report sent again until answered, as field terminals do).

Each item is sent in its own task at its time slot (`rate` per second); a slow server makes
the load fall behind, never skip. Every item is counted as sent when it is first tried:
the scenario must then find it recorded exactly once, whatever happened to the tries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.errors import Error as NatsError

from contracts.charter import Charter
from contracts.cloudevents import to_structured
from contracts.reports import ReportStatus
from contracts.routing import MSG_ID_HEADER
from contracts.vocabulary import Agency
from services.agency.domain import proposal_id
from simulations.bench.proposals import CaseKind, generate
from simulations.field import FieldUnit, ReportUndeliveredError, RetryPolicy

T = TypeVar("T")

#: Most items in flight at once (a stalled server holds them, the pacing goes on).
IN_FLIGHT = 512
#: Pause between two tries of a publish JetStream did not acknowledge.
RETRY_PAUSE_S = 0.2


@dataclass(frozen=True, slots=True)
class PlannedProposal:
    """A proposal ready to publish: its id, its subject and its bytes."""

    id: str
    subject: str
    body: bytes


@dataclass(frozen=True, slots=True)
class PlannedReport:
    """A unit report ready to send: which unit, its report id and what it says."""

    unit: str
    report: str
    time: datetime
    event: dict[str, Any]
    sector: str | None


def plan_proposals(charter: Charter, count: int, *, seed: int = 0) -> list[PlannedProposal]:
    """`count` proposals on the charter's operation, as agencies publish them."""
    return [
        PlannedProposal(
            id=case.proposal.envelope.id,
            subject=case.proposal.subject,
            body=to_structured(case.proposal.envelope),
        )
        for case in generate(charter, count, seed=seed)
    ]


def busiest_agency(charter: Charter) -> Agency:
    """The agency with the most units in the charter (its service gets the most reports)."""
    actors = [a for a in charter.actors if a.agency is not Agency.CRISIS_CELL and a.units]
    return max(actors, key=lambda a: len(a.units)).agency


def plan_reports(
    charter: Charter, agency: Agency, count: int, *, seed: int = 0
) -> list[PlannedReport]:
    """`count` reports of `agency`'s units: events the generator drew for them (spoofed
    identities left out — a unit reports on its own subject)."""
    planned: list[PlannedReport] = []
    draw = seed
    while len(planned) < count:
        for case in generate(charter, 4 * count, seed=draw):
            envelope = case.proposal.envelope
            if (
                envelope.agency is not agency
                or envelope.unit is None
                or case.kind is CaseKind.IDENTITY_MISMATCH
            ):
                continue
            planned.append(
                PlannedReport(
                    unit=envelope.unit,
                    report=f"chaos-{len(planned):06d}",
                    time=envelope.time,
                    event=envelope.data.model_dump(mode="json"),
                    sector=envelope.sector,
                )
            )
            if len(planned) == count:
                break
        draw += 1
    return planned


@dataclass(slots=True)
class LoadResult:
    """What a load sent and how it went.

    `sent` lists the proposal ids tried, in order; `confirmed` counts those JetStream (or the
    agency service) acknowledged; `unconfirmed` those given up on; `retries` every try
    after the first; `refused` the reports the agency service refused itself (recorded in
    its own store, never proposed: no timeline record is owed for them)."""

    sent: list[str] = field(default_factory=list)
    confirmed: int = 0
    unconfirmed: list[str] = field(default_factory=list)
    retries: int = 0
    refused: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Items sent per second, as achieved."""
        return len(self.sent) / self.seconds if self.seconds > 0 else 0.0


async def paced(
    items: Sequence[T],
    rate: float,
    send: Callable[[T], Awaitable[None]],
    *,
    in_flight: int = IN_FLIGHT,
) -> float:
    """Call `send` on each item at `rate` per second, each in its own task (at most
    `in_flight` at once); return once every call has returned, with the seconds taken."""
    slots = asyncio.Semaphore(in_flight)
    tasks: list[asyncio.Task[None]] = []
    started = time.monotonic()

    async def one(item: T) -> None:
        try:
            await send(item)
        finally:
            slots.release()

    for index, item in enumerate(items):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        tasks.append(asyncio.create_task(one(item)))
    await asyncio.gather(*tasks)
    return time.monotonic() - started


class ProposalLoad:
    """Publishes planned proposals to JetStream, each retried until acknowledged."""

    def __init__(
        self, nc: Client, proposals: Sequence[PlannedProposal], *, give_up_s: float = 120.0
    ) -> None:
        self.nc = nc
        self.proposals = tuple(proposals)
        self.give_up_s = give_up_s
        self.result = LoadResult()

    async def run(self, rate: float) -> LoadResult:
        """Send everything at `rate` per second; what was sent."""
        self.result.seconds = await paced(self.proposals, rate, self._publish)
        return self.result

    async def _publish(self, proposal: PlannedProposal) -> None:
        js = self.nc.jetstream()
        self.result.sent.append(proposal.id)
        deadline = time.monotonic() + self.give_up_s
        while True:
            try:
                await js.publish(
                    proposal.subject,
                    proposal.body,
                    headers={MSG_ID_HEADER: proposal.id},
                    timeout=2.0,
                )
            except (NatsError, TimeoutError):
                if time.monotonic() > deadline:
                    self.result.unconfirmed.append(proposal.id)
                    return
                self.result.retries += 1
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            self.result.confirmed += 1
            return


#: How a unit of the scenarios insists: a minute and more of retries before giving up.
PATIENT_UNIT = RetryPolicy(attempts=60, timeout_s=2.0, backoff_s=0.1, max_backoff_s=1.0)


class ReportLoad:
    """Sends planned reports from an agency's units through its service (request/reply)."""

    def __init__(
        self,
        nc: Client,
        charter: Charter,
        agency: Agency,
        key: bytes,
        reports: Sequence[PlannedReport],
        *,
        retry: RetryPolicy = PATIENT_UNIT,
    ) -> None:
        self.reports = tuple(reports)
        self.result = LoadResult()
        operation = charter.operation
        self.agency = agency
        self.units = {
            unit: FieldUnit(
                nc,
                operation.mode,
                operation.id,
                agency,
                unit,
                key,
                retry=retry,
                on_retry=self._count_retry,
            )
            for unit in {r.unit for r in self.reports}
        }

    def _count_retry(self, _report: str, _attempt: int, _error: Exception) -> None:
        self.result.retries += 1

    def expected_id(self, report: PlannedReport) -> str:
        """The proposal id the agency service derives from a report (the same every try)."""
        unit = self.units[report.unit]
        return proposal_id(self.agency, unit.build(report.report, report.time, report.event))

    async def run(self, rate: float) -> LoadResult:
        """Send every report at `rate` per second; what was sent."""
        self.result.seconds = await paced(self.reports, rate, self._send)
        return self.result

    async def _send(self, report: PlannedReport) -> None:
        expected = self.expected_id(report)
        self.result.sent.append(expected)
        unit = self.units[report.unit]
        try:
            ack = await unit.report(report.report, report.time, report.event, report.sector)
        except ReportUndeliveredError:
            self.result.unconfirmed.append(expected)
            return
        if ack.status is ReportStatus.REFUSED:
            self.result.refused.append(expected)
        else:
            self.result.confirmed += 1
