"""The paths measured on a fresh nats-server: the raw ceilings, the coordinator path
(proposal → decision → timeline append → feeds) and the full path through the agency
services (unit report → agency service → proposal → … → feeds), at saturation and at offered
rates, with the memory of every service along a steady run."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts import subjects
from contracts.charter import Charter
from contracts.credentials import ensure_unit_keys, read_unit_key
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from infra.streams import Profile, declare_streams
from interforces.stack.embedded import EmbeddedNats
from services.coordinator.perimeter import Situation, compile_charter, decide
from simulations.bench.load import Message, Scheduled, proposal_message, report_message
from simulations.bench.processes import (
    AGENCIES,
    RssSampler,
    SpyProfile,
    pids,
    record_profile,
    service_env,
    start_services,
    summarise,
)
from simulations.bench.stats import Latency, slope
from simulations.bench.traffic import (
    FeedWatch,
    JetStreamSender,
    Offered,
    declare_raw_stream,
    drain_rate,
    latencies,
    offer,
    publish_all,
    raw_coordinator,
    raw_pipeline,
    request_sender,
    wait_arrivals,
)

MODE = Mode.LIVE


@dataclass(frozen=True, slots=True)
class Workspace:
    """Where a run keeps its servers' data, logs, the scaled charter and the units' keys."""

    root: Path
    charter_file: Path
    charter: Charter

    @property
    def operation(self) -> str:
        """The operation every message belongs to."""
        return self.charter.operation.id


@contextlib.asynccontextmanager
async def fresh_nats(workspace: Workspace, name: str) -> AsyncIterator[tuple[str, Client]]:
    """A nats-server of its own with the project's streams and the raw stream declared,
    and a connection to it; stopped afterwards."""
    server = EmbeddedNats(workspace.root / "nats" / name)
    await asyncio.to_thread(server.start)
    try:
        nc = await nats.connect(server.url, max_reconnect_attempts=2)
        try:
            js = nc.jetstream()
            await declare_streams(js, Profile.SINGLE)
            await declare_raw_stream(js)
            yield server.url, nc
        finally:
            await nc.close()
    finally:
        await asyncio.to_thread(server.stop)


def mean_copies(workspace: Workspace, events: Sequence[Scheduled]) -> float:
    """Feed copies per proposal the perimeter engine gives these events (refusals go to
    the crisis cell and the proposer)."""
    compiled = compile_charter(workspace.charter)
    situation = Situation()
    copies = 0
    for event in events:
        decision = decide(event.proposal, compiled, situation)
        copies += len(decision.deliveries) if decision.accepted else 2
    return copies / len(events) if events else 0.0


# --- the coordinator path ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateResult:
    """One offered rate: what was sent, what reached the crisis cell's feed, how fast.
    `delivered_rate` is deliveries per second from the first send to the last arrival."""

    offered: float
    sent_rate: float
    delivered: int
    sent: int
    latency: Latency
    delivered_rate: float

    @property
    def saturated(self) -> bool:
        """Whether the path delivered markedly less than was offered."""
        return self.delivered < self.sent or self.delivered_rate < 0.9 * self.sent_rate

    @classmethod
    def of(cls, rate: float, offered: Offered, watch: FeedWatch, wanted: set[str]) -> RateResult:
        """From what was sent and what arrived."""
        arrived = [watch.arrivals[k] for k in wanted if k in watch.arrivals]
        first = min((offered.sent[k] for k in wanted if k in offered.sent), default=0.0)
        span = max(arrived) - first if arrived else 0.0
        return cls(
            offered=rate,
            sent_rate=offered.achieved_rate,
            delivered=len(arrived),
            sent=len(wanted),
            latency=Latency.of(latencies(offered, watch, wanted)),
            delivered_rate=len(arrived) / span if span > 0 else 0.0,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "offered_eps": self.offered,
            "sent_eps": round(self.sent_rate, 1),
            "sent": self.sent,
            "delivered": self.delivered,
            "p50_ms": round(self.latency.p50_ms, 2),
            "p99_ms": round(self.latency.p99_ms, 2),
            "max_ms": round(self.latency.max_ms, 2),
            "delivered_eps": round(self.delivered_rate, 1),
            "saturated": self.saturated,
        }


@dataclass(frozen=True, slots=True)
class CoordinatorRound:
    """One round of the coordinator path and its raw ceilings, on the same messages."""

    preload_eps: float
    raw_pipeline_eps: float
    raw_coordinator_eps: float
    raw_fanout_eps: float
    coordinator_eps: float
    copies: int
    rates: tuple[RateResult, ...]
    profile: SpyProfile | None


async def coordinator_round(
    workspace: Workspace,
    saturation: Sequence[Scheduled],
    offered: Sequence[tuple[float, Sequence[Scheduled]]],
    *,
    name: str,
    profile_s: float = 0.0,
    drain_timeout_s: float = 120.0,
) -> CoordinatorRound:
    """Preload `saturation`'s proposals; drain them with the raw consumer, the raw
    coordinators (republishing once, then as many copies as ours) and the coordinator
    service; then offer each rate's proposals and measure their latency to the crisis
    cell's feed."""
    copies = max(1, round(1 + mean_copies(workspace, saturation[:2000])))
    messages = [proposal_message(s.proposal) for s in saturation]
    timeline = subjects.stream_name(MODE, StreamRole.TIMELINE)
    async with fresh_nats(workspace, name) as (url, nc):
        js = nc.jetstream()
        preload = await publish_all(js, messages)
        raw = await raw_pipeline(js, MODE, len(messages))
        raw_once = await raw_coordinator(js, MODE, len(messages), copies=1)
        raw_fanout = await raw_coordinator(js, MODE, len(messages), copies=copies)
        env = service_env(
            nats_url=url, database_url=None, data_dir=workspace.root, charter=workspace.charter_file
        )
        supervisor = await start_services(["coordinator"], env, workspace.root / "logs" / name, url)
        try:
            profiling = None
            if profile_s > 0:
                pid = pids(supervisor)["coordinator"]
                out = workspace.root / f"profile-{name}.txt"
                profiling = asyncio.create_task(record_profile(pid, profile_s, out))
            eps, _ = await drain_rate(js, timeline, len(messages), drain_timeout_s)
            spy = None
            if profiling is not None:
                path = await profiling
                spy = summarise(path.read_text()) if path is not None else None
            rates = [
                await _offer_proposals(
                    nc, js, workspace, rate=rate, events=events, drain_timeout_s=drain_timeout_s
                )
                for rate, events in offered
            ]
        finally:
            await supervisor.stop()
    return CoordinatorRound(
        preload_eps=preload,
        raw_pipeline_eps=raw,
        raw_coordinator_eps=raw_once,
        raw_fanout_eps=raw_fanout,
        coordinator_eps=eps,
        copies=copies,
        rates=tuple(rates),
        profile=spy,
    )


async def _offer_proposals(
    nc: Client,
    js: JetStreamContext,
    workspace: Workspace,
    *,
    rate: float,
    events: Sequence[Scheduled],
    drain_timeout_s: float,
) -> RateResult:
    watch = FeedWatch()
    await watch.start(nc, MODE, workspace.operation)
    try:
        pairs = [(str(s.proposal.envelope.id), proposal_message(s.proposal)) for s in events]
        sender = JetStreamSender(js)
        sent = await offer(pairs, rate, sender.send, concurrency=1)
        await sender.settle()
        # Refusals carry a derived id: only the in-perimeter proposals (99 %) are timed.
        wanted = {str(s.proposal.envelope.id) for s in events if s.kind != "fault"}
        wanted &= sent.sent.keys()
        await wait_arrivals(watch, wanted, drain_timeout_s)
    finally:
        await watch.stop()
    return RateResult.of(rate, sent, watch, wanted)


# --- the full path, and memory -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FullPathResult:
    """The full path at saturation and at offered rates, and memory along a steady run."""

    eps: float
    rates: tuple[RateResult, ...]
    memory: dict[str, dict[str, float]]
    memory_rate: float
    memory_seconds: float


def _keys(workspace: Workspace) -> dict[Agency, bytes]:
    secrets = workspace.root / "secrets"
    ensure_unit_keys(secrets)
    return {Agency(a): read_unit_key(secrets, Agency(a)) for a in AGENCIES}


def _reports(
    workspace: Workspace, events: Sequence[Scheduled], prefix: str
) -> list[tuple[str, Message]]:
    """(proposal id, unit report) of each event that a unit reports."""
    keys = _keys(workspace)
    out = []
    for index, event in enumerate(events):
        envelope = event.proposal.envelope
        if envelope.unit is None or event.kind == "fault" or envelope.agency not in keys:
            continue
        message, event_id = report_message(
            event.proposal, keys[envelope.agency], f"{prefix}-{index:07d}"
        )
        out.append((event_id, message))
    return out


async def full_path(
    workspace: Workspace,
    database_url: str,
    saturation: Sequence[Scheduled],
    offered: Sequence[tuple[float, Sequence[Scheduled]]],
    steady: Sequence[Scheduled],
    *,
    memory_seconds: float,
    memory_rate: float,
    drain_timeout_s: float = 120.0,
    concurrency: int = 512,
) -> FullPathResult:
    """Units' reports through the five agency services, the coordinator and the timeline
    projector (all as processes): saturation with `concurrency` reports in flight, the
    offered rates, then `memory_seconds` at `memory_rate` (at most the saturation rate's
    half) sampling each service's resident memory."""
    names = ["timeline", "coordinator", *AGENCIES]
    _keys(workspace)  # the agency services read them at start
    async with fresh_nats(workspace, "full") as (url, nc):
        env = service_env(
            nats_url=url,
            database_url=database_url,
            data_dir=workspace.root,
            charter=workspace.charter_file,
        )
        supervisor = await start_services(names, env, workspace.root / "logs" / "full", url)
        try:
            sampler = RssSampler(pids(supervisor), interval_s=max(0.5, memory_seconds / 120))
            send = request_sender(nc)
            watch = FeedWatch()
            await watch.start(nc, MODE, workspace.operation)
            try:
                pairs = _reports(workspace, saturation, "sat")
                started = time.perf_counter()
                sent = await offer(pairs, 1e9, send, concurrency=concurrency)
                arrived = await wait_arrivals(watch, set(sent.sent), drain_timeout_s)
                last = max((watch.arrivals[k] for k in sent.sent if k in watch.arrivals), default=0)
                eps = arrived / (last - started) if last > started else 0.0
            finally:
                await watch.stop()
            rates = []
            for rate, events in offered:
                rates.append(
                    await _offer_reports(
                        nc,
                        workspace,
                        rate=rate,
                        events=events,
                        prefix=f"r{int(rate)}",
                        drain_timeout_s=drain_timeout_s,
                    )
                )
            steady_rate = min(memory_rate, eps / 2) if eps else memory_rate
            pool = _reports(workspace, steady, "pool")
            sampler.start()
            await _steady(nc, pool, steady_rate, memory_seconds)
            await sampler.stop()
        finally:
            await supervisor.stop()
    memory = {name: _memory(points) for name, points in sampler.series.items()}
    return FullPathResult(eps, tuple(rates), memory, steady_rate, memory_seconds)


async def _offer_reports(
    nc: Client,
    workspace: Workspace,
    *,
    rate: float,
    events: Sequence[Scheduled],
    prefix: str,
    drain_timeout_s: float,
) -> RateResult:
    watch = FeedWatch()
    await watch.start(nc, MODE, workspace.operation)
    try:
        pairs = _reports(workspace, events, prefix)
        sent = await offer(pairs, rate, request_sender(nc))
        wanted = set(sent.sent)
        await wait_arrivals(watch, wanted, drain_timeout_s)
    finally:
        await watch.stop()
    return RateResult.of(rate, sent, watch, wanted)


async def _steady(
    nc: Client, pool: Sequence[tuple[str, Message]], rate: float, seconds: float
) -> None:
    """Reports at `rate` for `seconds`, cycling through the pool under fresh report ids
    (so that each is a new proposal)."""
    await offer(_renamed(pool, max(1, int(rate * seconds))), rate, request_sender(nc))


def _renamed(pool: Sequence[tuple[str, Message]], count: int) -> Iterator[tuple[str, Message]]:
    for index in range(count):
        _, message = pool[index % len(pool)]
        turn = index // len(pool)
        body = message.body
        if turn:
            body = body.replace(b'"report":"pool-', f'"report":"p{turn:03d}-'.encode(), 1)
        yield str(index), Message(message.subject, message.headers, body)


def _memory(points: Sequence[tuple[float, float]]) -> dict[str, float]:
    """Resident memory along a run: after the first tenth (warm-up), at the end, the most,
    and the slope over the second half (MiB per minute)."""
    if not points:
        return {}
    warm = points[len(points) // 10]
    half = points[len(points) // 2 :]
    return {
        "rss_start_mb": round(warm[1], 1),
        "rss_end_mb": round(points[-1][1], 1),
        "rss_max_mb": round(max(p[1] for p in points), 1),
        "growth_mb": round(points[-1][1] - warm[1], 1),
        "slope_mb_per_min": round(slope(half) * 60, 2),
    }
