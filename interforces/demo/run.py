"""The main job: start the whole system, play a festival evening through the agency
services on a simulated clock, wait until the crisis cell's timeline holds all of it, and
summarise it from PostgreSQL.

Each run plays under its own operation id (the charter's, suffixed with a run id), so runs
never collide: the timeline keeps every run, as a log of record should.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats
import yaml
from nats.aio.client import Client

from contracts import subjects
from contracts.charter.loader import load_charter
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from interforces.demo.summary import Summary, summarise
from interforces.stack.stack import Stack, StackSettings
from services.coordinator.app import durable_name
from services.timeline.handlers import consumer_name
from simulations.festival.clock import SimClock
from simulations.festival.evening import build_evening
from simulations.festival.player import PlayProgress, PlayResult, play

#: The coordinator and the projector must drain within this after the last report.
DRAIN_TIMEOUT_S = 60.0


class DemoError(Exception):
    """The demo could not run to its end."""


@dataclass(frozen=True, slots=True)
class DemoRun:
    """A finished demo: what was played, what the timeline holds, how long it took."""

    summary: Summary
    play: PlayResult
    duration_s: float
    data_dir: Path

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form (the summary's keys at the top level)."""
        return {
            **self.summary.as_json(),
            "play": asdict(self.play),
            "duration_s": round(self.duration_s, 1),
        }


def demo_charter(source: Path, directory: Path, run_id: str) -> Path:
    """A copy of `source` whose operation id carries the run id."""
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    operation = f"{document['operation']['id']}-{run_id}"[:63]
    document["operation"]["id"] = operation
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{operation}.yaml"
    target.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    load_charter(target)  # the copy must still be a valid charter
    return target


async def run_demo(
    charter: Path,
    *,
    data_dir: Path,
    speed: float,
    seed: int = 2026,
    trace_file: Path | None = None,
    on_progress: Callable[[PlayProgress], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
    after: Callable[[Stack, Summary], Awaitable[None]] | None = None,
) -> DemoRun:
    """Run the whole demo and return its summary."""
    started = time.monotonic()
    phase = on_phase or (lambda _: None)
    run_id = f"d{secrets.token_hex(3)}"
    copy = demo_charter(charter, data_dir / "charters", run_id)
    loaded = load_charter(copy)
    mode, operation = loaded.operation.mode, loaded.operation.id
    # Without broker perimeters: the festival player still plays every agency's units and
    # the crisis-cell desk on one connection, which no single broker user may do.
    settings = StackSettings(
        data_dir=data_dir,
        charters=(copy,),
        trace_file=trace_file,
        log_level="INFO",
        nats_auth=False,
    )
    phase("démarrage des serveurs et des huit services")
    async with Stack(settings) as stack:
        nc = await nats.connect(stack.nats_url, name="interforces-demo")
        try:
            evening = build_evening(loaded, seed, label=run_id)
            clock = SimClock(evening.start, speed)
            phase(f"soirée {operation}: {len(evening.actions)} actions à ×{speed:g}")
            result = await play(evening, nc, nc.jetstream(), stack.secrets_dir, clock, on_progress)
            phase("attente du journal : coordinateur puis projection")
            await _drained(nc, stack.database_url, mode.value)
        finally:
            await nc.close()
        conn = await asyncpg.connect(stack.database_url)
        try:
            summary = await summarise(conn, mode.value, operation)
        finally:
            await conn.close()
        if after is not None:  # the system is still up: the API, replays, the journal
            await after(stack, summary)
        phase("arrêt des services et des serveurs")
    return DemoRun(summary, result, time.monotonic() - started, data_dir)


async def _drained(nc: Client, database_url: str, mode: str) -> None:
    """Wait until the coordinator has decided every proposal and the projector has
    projected every timeline record."""

    js = nc.jetstream()
    proposals = subjects.stream_name(Mode(mode), StreamRole.PROPOSALS)
    timeline = subjects.stream_name(Mode(mode), StreamRole.TIMELINE)
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    conn = await asyncpg.connect(database_url)
    try:
        while time.monotonic() < deadline:
            consumer = await js.consumer_info(proposals, durable_name(Mode(mode)))
            last = (await js.stream_info(timeline)).state.last_seq
            projected = await conn.fetchval(
                "SELECT last_seq FROM projection_checkpoints WHERE consumer = $1",
                consumer_name(Mode(mode)),
            )
            if (
                consumer.num_pending == 0
                and consumer.num_ack_pending == 0
                and (projected or 0) >= last
            ):
                return
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    raise DemoError(f"the timeline did not drain within {DRAIN_TIMEOUT_S:.0f} s")
