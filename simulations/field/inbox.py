"""What reaches the field: receipts handed to checked persons, assignments sent to units.

Both listen on plain NATS subjects (no stream captures either): they only see what arrives
while they are subscribed, as a person or a unit would.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from contracts import subjects
from contracts.cloudevents import from_structured
from contracts.errors import EnvelopeError
from contracts.events.identity_checks import RecepisseIssued
from contracts.reports import Dispatch
from contracts.vocabulary import Agency, Mode

_POLL_S = 0.02


async def _wait(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `condition` until it holds or `timeout_s` passes; whether it held."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL_S)
    return True


class _Listener(ABC):
    """Subscriptions opened by `start` and closed by `stop` (or the `async with` block)."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self._subscriptions: list[Subscription] = []

    @abstractmethod
    def _subjects(self) -> list[str]:
        """The subjects to listen on."""

    @abstractmethod
    async def _on_message(self, msg: Msg) -> None:
        """Count one message."""

    async def start(self) -> None:
        """Subscribe (and make sure the server knows before anything is sent)."""
        for subject in self._subjects():
            self._subscriptions.append(await self.nc.subscribe(subject, cb=self._on_message))
        await self.nc.flush()

    async def stop(self) -> None:
        """Unsubscribe."""
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            await subscription.unsubscribe()

    async def __aenter__(self) -> _Listener:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()


class ReceiptInbox(_Listener):
    """Counts the receipts (récépissés) the agencies hand to checked persons."""

    def __init__(self, nc: Client, mode: Mode, operation: str, agencies: Iterable[Agency]) -> None:
        super().__init__(nc)
        self.mode = mode
        self.operation = operation
        self.agencies = tuple(agencies)
        self._agency_of = {subjects.recepisse(mode, operation, a): a for a in self.agencies}
        self.checks: list[str] = []
        self.by_agency: Counter[Agency] = Counter()
        self.unreadable = 0

    @property
    def count(self) -> int:
        """Receipts received (readable ones)."""
        return len(self.checks)

    def _subjects(self) -> list[str]:
        return list(self._agency_of)

    async def _on_message(self, msg: Msg) -> None:
        receipt = _receipt_of(msg.data)
        if receipt is None:
            self.unreadable += 1
            return
        self.checks.append(receipt.check)
        self.by_agency[self._agency_of[msg.subject]] += 1

    async def wait_for(self, count: int, timeout_s: float) -> bool:
        """Whether `count` receipts arrived within `timeout_s`."""
        return await _wait(lambda: self.count >= count, timeout_s)


def _receipt_of(data: bytes) -> RecepisseIssued | None:
    """A receipt as a structured CloudEvent, or as the bare payload."""
    try:
        envelope = from_structured(data)
    except EnvelopeError:
        try:
            return RecepisseIssued.model_validate_json(data)
        except ValidationError:
            return None
    return envelope.data if isinstance(envelope.data, RecepisseIssued) else None


@dataclass(frozen=True, slots=True)
class DispatchRecord:
    """An assignment that reached a unit."""

    agency: Agency
    unit: str
    event_id: str
    type: str
    incident: str | None


class DispatchListener(_Listener):
    """Records what the agency services tell their units (assignments).

    One subscription per unit, each on the subject `subjects.dispatch` names for it: the
    listener hears exactly what the units themselves would.
    """

    def __init__(
        self, nc: Client, mode: Mode, operation: str, units: Iterable[tuple[Agency, str]]
    ) -> None:
        super().__init__(nc)
        self.mode = mode
        self.operation = operation
        self.units = tuple(units)
        self._agency_of = {
            subjects.dispatch(mode, operation, agency, unit): agency for agency, unit in self.units
        }
        self.records: list[DispatchRecord] = []
        self.duplicates = 0
        self.unreadable = 0
        self._seen: set[tuple[str, str]] = set()

    @property
    def count(self) -> int:
        """Distinct dispatches received."""
        return len(self.records)

    @property
    def by_unit(self) -> Counter[str]:
        """Distinct dispatches per unit."""
        return Counter(r.unit for r in self.records)

    @property
    def incidents(self) -> frozenset[str]:
        """Incidents that reached a unit."""
        return frozenset(r.incident for r in self.records if r.incident is not None)

    def _subjects(self) -> list[str]:
        return list(self._agency_of)

    async def _on_message(self, msg: Msg) -> None:
        try:
            dispatch = Dispatch.model_validate_json(msg.data)
        except ValidationError:
            self.unreadable += 1
            return
        key = (dispatch.unit, dispatch.event_id)
        if key in self._seen:
            # The agency service may send a dispatch again after a restart.
            self.duplicates += 1
            return
        self._seen.add(key)
        self.records.append(
            DispatchRecord(
                self._agency_of[msg.subject],
                dispatch.unit,
                dispatch.event_id,
                dispatch.type,
                dispatch.incident,
            )
        )

    async def wait_for(self, count: int, timeout_s: float) -> bool:
        """Whether `count` distinct dispatches arrived within `timeout_s`."""
        return await _wait(lambda: self.count >= count, timeout_s)
