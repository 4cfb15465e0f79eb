"""The load generator: a night at Paris-2024 scale, as proposals and as unit reports.

The Paris 2024 Games mobilised about 45,000 police and gendarmes, 22,000–25,000 private
security agents and 10,000 soldiers on peak days. `paris_charter` scales a shipped charter to
that roster: every agent's terminal becomes a unit of its actor (the soldiers of Sentinelle
have no agency of their own in the vocabulary and are left out). `Schedule` then plays the
night: each terminal reports its status or position every 10 to 60 seconds (uniformly drawn
at each report), incidents arrive as a Poisson process, and a small share of proposals is
deliberately out of perimeter (wrong sector, category, window, capability or identity) so
that refusals travel too. Payloads are the catalogue's events, validated by pydantic when
drawn, placed inside the unit's sectors and windows.

The schedule gives each event its instant on the night's clock (`at_s`); the benchmark then
offers the events at whatever rate it measures, in that order. The same seed gives the same
night.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final

from contracts import subjects
from contracts.charter import Charter, Unit
from contracts.cloudevents import to_structured
from contracts.credentials import unit_token
from contracts.events.incidents import IncidentReported
from contracts.events.private_security import SiteIncidentReported
from contracts.events.units import UnitPositionReported, UnitStatusChanged
from contracts.ids import UnitId
from contracts.reports import UnitReport
from contracts.routing import CLOUDEVENTS_JSON, CONTENT_TYPE_HEADER, MSG_ID_HEADER
from contracts.vocabulary import Agency
from services.agency.domain import proposal_id
from services.coordinator.perimeter.decision import Proposal
from simulations.bench.proposals import OUT_OF_PERIMETER, ProposalGenerator

#: Agents on a peak day of the Paris 2024 Games, by agency (police and gendarmes split two
#: to one; municipal police and mediators as a large city fields them).
PARIS_2024: Final[Mapping[Agency, int]] = MappingProxyType(
    {
        Agency.POLICE_NATIONALE: 30_000,
        Agency.GENDARMERIE: 15_000,
        Agency.SECURITE_PRIVEE: 23_500,
        Agency.POLICE_MUNICIPALE: 2_500,
        Agency.MEDIATION: 1_000,
    }
)
#: Seconds between two reports of one terminal: drawn uniformly at each report.
REPORT_INTERVAL_S: Final = (10.0, 60.0)
#: Share of periodic reports that are a status change (the others are positions).
STATUS_SHARE: Final = 0.2
#: Incidents per second of the night, across the whole event (a Poisson process).
INCIDENT_RATE_PER_S: Final = 2.0
#: Share of proposals deliberately out of perimeter.
FAULT_SHARE: Final = 0.01

_POSITION = str(UnitPositionReported.model_fields["type"].default)
_STATUS = str(UnitStatusChanged.model_fields["type"].default)
_INCIDENTS = (
    str(IncidentReported.model_fields["type"].default),
    str(SiteIncidentReported.model_fields["type"].default),
)


def terminal_id(agency: Agency, index: int) -> UnitId:
    """The call sign of an agent's terminal, unique across agencies."""
    prefix = "".join(part[0] for part in agency.value.split("_")).upper()
    return UnitId(f"T{prefix}-{index:05d}")


def paris_charter(base: Charter, scale: float = 1.0) -> Charter:
    """`base` with one unit per agent of the Paris-2024 roster (times `scale`) added to each
    of its actors present in `PARIS_2024`; the charter is validated again."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    document = base.model_dump(mode="json", exclude_none=True)
    for actor in document["actors"]:
        agents = round(PARIS_2024.get(Agency(actor["agency"]), 0) * scale)
        actor["units"] = [
            *actor.get("units", []),
            *({"id": terminal_id(Agency(actor["agency"]), i)} for i in range(agents)),
        ]
    return Charter.model_validate(document)


def roster_size(charter: Charter) -> int:
    """Terminals of a scaled charter (units named by `terminal_id`)."""
    return sum(1 for a in charter.actors for u in a.units if u.id.startswith("T"))


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A proposal and its instant on the night's clock (seconds after the first event)."""

    at_s: float
    proposal: Proposal
    kind: str


class Schedule:
    """The night's proposals in time order (an iterator; the same seed, the same night)."""

    def __init__(
        self,
        charter: Charter,
        *,
        seed: int = 0,
        incident_rate_per_s: float = INCIDENT_RATE_PER_S,
        fault_share: float = FAULT_SHARE,
        interval_s: tuple[float, float] = REPORT_INTERVAL_S,
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (reproducible data)
        self.generator = ProposalGenerator(charter, self.rng)
        self.start = charter.operation.window.start
        self.incident_rate_per_s = incident_rate_per_s
        self.fault_share = fault_share
        self.interval_s = interval_s
        # Terminals report; the named units of the charter (command posts, drones) do not.
        self._reporting = [
            i
            for i, (_, unit) in enumerate(self.generator.slots)
            if unit is not None and _is_terminal(unit)
        ]
        if not self._reporting:
            raise ValueError("the charter has no terminals: scale it with paris_charter")
        self._incident_slots = [
            i
            for i, (info, unit) in enumerate(self.generator.slots)
            if unit is not None and _is_terminal(unit) and info.events & set(_INCIDENTS)
        ]
        high = interval_s[1]
        self._queue: list[tuple[float, int]] = [
            (self.rng.uniform(0, high), slot) for slot in self._reporting
        ]
        heapq.heapify(self._queue)
        self._next_incident = self._incident_gap()
        self.counts: dict[str, int] = {}

    def _incident_gap(self) -> float:
        if self.incident_rate_per_s <= 0 or not self._incident_slots:
            return float("inf")
        return self.rng.expovariate(self.incident_rate_per_s)

    def __iter__(self) -> Iterator[Scheduled]:
        return self

    def __next__(self) -> Scheduled:
        while True:
            scheduled = self._draw()
            if scheduled is not None:
                self.counts[scheduled.kind] = self.counts.get(scheduled.kind, 0) + 1
                return scheduled

    def take(self, count: int) -> list[Scheduled]:
        """The next `count` events."""
        return [next(self) for _ in range(count)]

    def _draw(self) -> Scheduled | None:
        rng = self.rng
        at, slot = self._queue[0]
        if self._next_incident <= at:
            at = self._next_incident
            self._next_incident += self._incident_gap()
            slot = rng.choice(self._incident_slots)
            info, _ = self.generator.slots[slot]
            kinds = [t for t in _INCIDENTS if t in info.events]
            proposal = self.generator.unit_event(slot, rng.choice(kinds), self._instant(at))
            return Scheduled(at, proposal, "incident") if proposal else None
        low, high = self.interval_s
        heapq.heapreplace(self._queue, (at + rng.uniform(low, high), slot))
        if rng.random() < self.fault_share:
            fault = self.generator.fault(rng.choice(OUT_OF_PERIMETER))
            return Scheduled(at, fault, "fault") if fault else None
        kind = _STATUS if rng.random() < STATUS_SHARE else _POSITION
        proposal = self.generator.unit_event(slot, kind, self._instant(at))
        if proposal is None:
            return None
        return Scheduled(at, proposal, "status" if kind == _STATUS else "position")

    def _instant(self, at_s: float) -> datetime:
        return self.start + timedelta(seconds=at_s)


def _is_terminal(unit: Unit) -> bool:
    return unit.id.startswith("T") and "-" in unit.id and unit.id.rsplit("-", 1)[1].isdigit()


# --- the bytes that travel -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One message to publish: subject, headers, body."""

    subject: str
    headers: Mapping[str, str]
    body: bytes


def proposal_message(proposal: Proposal) -> Message:
    """A proposal as an agency service publishes it (structured CloudEvent, id as msg id)."""
    envelope = proposal.envelope
    return Message(
        proposal.subject,
        {MSG_ID_HEADER: envelope.id, CONTENT_TYPE_HEADER: CLOUDEVENTS_JSON},
        to_structured(envelope),
    )


def report_message(proposal: Proposal, key: bytes, report_id: str) -> tuple[Message, str]:
    """The unit report behind a proposal, as the unit's terminal sends it (request/reply),
    and the id of the proposal its agency service will derive from it."""
    envelope = proposal.envelope
    if envelope.unit is None:
        raise ValueError("only a unit's events travel as unit reports")
    report = UnitReport(
        report=report_id,
        operation=envelope.operation,
        unit=envelope.unit,
        token=unit_token(key, envelope.operation, envelope.unit),
        time=envelope.time,
        sector=envelope.sector,
        subject=envelope.subject,
        event=envelope.data.model_dump(mode="json", exclude_none=True),
    )
    subject = subjects.report(envelope.mode, envelope.operation, envelope.agency, envelope.unit)
    body = report.model_dump_json(exclude_none=True).encode()
    return Message(subject, {}, body), proposal_id(envelope.agency, report)
