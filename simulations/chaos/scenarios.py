"""The fault scenarios: a steady load of proposals, one fault in its middle, then the exact
accounting of what became of every proposal.

Each scenario starts its own servers (a nats-server, or a 3-node cluster), a fresh database
on the given PostgreSQL, and the services as supervised processes; sends `rate × seconds`
proposals at `rate` per second; injects its fault once `fault_at` of the load is sent; waits
until the coordinator has nothing pending and the projector has written the whole timeline
(bounded by `settle_timeout_s`); then counts (`accounting.account`) and replays the stream
into an empty schema to compare digests with the live projection. It stops by itself.

- `coordinator-kill`: kill -9 the coordinator; the supervisor restarts it, it folds the
  timeline and decides what is left (its batch in hand comes back after `ack_wait`).
- `projector-kill`: kill -9 the projector while a batch transaction is open; the restarted
  one resumes from its checkpoint.
- `postgres-restart`: abort PostgreSQL (immediate stop), stay down, start it again (WAL
  recovery); the projector hands its batches back until it can write again.
- `nats-node-kill`: a 3-node cluster, streams at R3, `sync_interval: always`; kill -9 the
  node leading the timeline stream; the two others elect a leader and the service
  continues: the load is decided and projected on two nodes; then the node comes back.
- `agency-restart`: the load goes through an agency service as unit reports; kill -9 the
  service; units retry what was not acknowledged, and the id derived from each report
  keeps it single.

- `coordinator-failover`: two coordinator processes share the durable consumer; the holder
  of its lease decides, the other stands by. kill -9 the active one: the standby takes the
  lease once it expires, folds the timeline and decides what is left.
- `projector-failover`: the same with two projectors.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import asyncpg
import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.errors import KeyNotFoundError

from contracts import subjects
from contracts.charter import Charter
from contracts.charter.loader import load_charter
from contracts.credentials import read_unit_key
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from infra.streams import LEASE_BUCKET, Profile
from interforces.stack.stack import Stack, StackSettings
from interforces.stack.supervisor import request_health
from services.coordinator.app import durable_name
from services.timeline import store
from services.timeline.digest import projection_digest
from services.timeline.handlers import consumer_name
from services.timeline.rebuild import connect, rebuild_from_stream
from simulations.chaos.accounting import Accounting, account, read_projection, read_timeline
from simulations.chaos.load import (
    LoadResult,
    ProposalLoad,
    ReportLoad,
    busiest_agency,
    plan_proposals,
    plan_reports,
)
from simulations.chaos.processes import (
    PROMPT_RESTART,
    SECOND_COORDINATOR,
    SECOND_PROJECTOR,
    SERVICE_ENV,
    InstancesProbe,
    Processes,
    health_answers,
    mode_env,
    service_specs,
)
from simulations.chaos.servers import ChaosPostgres, LocalCluster, create_database, drop_database

#: The stadium night: 28 sectors, six actors, units in every agency.
DEFAULT_CHARTER = Path(__file__).resolve().parents[2] / "infra/charters/concert-stade.yaml"


class Scenario(StrEnum):
    """The faults, by the name `interforces chaos --scenario` takes."""

    COORDINATOR_KILL = "coordinator-kill"
    PROJECTOR_KILL = "projector-kill"
    POSTGRES_RESTART = "postgres-restart"
    NATS_NODE_KILL = "nats-node-kill"
    AGENCY_RESTART = "agency-restart"
    COORDINATOR_FAILOVER = "coordinator-failover"
    PROJECTOR_FAILOVER = "projector-failover"


#: The fault scenarios (what runs unless scenarios are named).
FAULTS: tuple[Scenario, ...] = tuple(Scenario)


@dataclass(frozen=True, slots=True)
class ChaosConfig:
    """How hard and how long the scenarios push, and where they keep their files."""

    work_dir: Path
    rate: float = 200.0
    seconds: float = 10.0
    charter: Path = DEFAULT_CHARTER
    fault_at: float = 0.4
    outage_s: float = 3.0
    settle_timeout_s: float = 120.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.seconds <= 0:
            raise ValueError("rate and seconds must be positive")
        if not 0.0 < self.fault_at < 1.0:
            raise ValueError("fault_at is a share of the load, between 0 and 1")

    @property
    def count(self) -> int:
        """Proposals (or reports) each scenario sends."""
        return max(1, round(self.rate * self.seconds))


@dataclass(frozen=True, slots=True)
class ChaosRow:
    """One scenario's result: the accounting, then how the system went through the fault.

    `recovery_s`: from the fault to the broken part answering again; `settle_s`: from the
    end of the load to every proposal decided and projected; `settled` is False when that
    did not happen within the configured bound (the counts then say what is missing)."""

    scenario: str
    sent: int
    accepted: int
    rejected: int
    lost: int
    duplicated: int
    unexpected: int
    dead_letters: int
    stream_records: int
    projected_records: int
    digest_equal: bool
    settled: bool
    rate: float
    retries: int
    unconfirmed: int
    fault_at_s: float
    recovery_s: float
    settle_s: float
    duration_s: float
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing duplicated, nothing unexpected, the projection agrees with
        a rebuild from the stream."""
        return (
            self.settled
            and self.lost == 0
            and self.duplicated == 0
            and self.unexpected == 0
            and self.digest_equal
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, keys in a stable order."""
        return asdict(self)


@dataclass(slots=True)
class _Fault:
    """When the fault struck (seconds into the load), how long recovery took, details."""

    at_s: float = 0.0
    recovery_s: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


async def run_scenarios(
    scenarios: Sequence[Scenario],
    config: ChaosConfig,
    postgres: ChaosPostgres,
    on_start: Callable[[Scenario, int], None] | None = None,
) -> list[ChaosRow]:
    """Run scenarios one after the other (`on_start` hears each one and its rank, from 1);
    one row each."""
    rows = []
    for rank, scenario in enumerate(scenarios, 1):
        if on_start is not None:
            on_start(scenario, rank)
        rows.append(await run_scenario(scenario, config, postgres))
    return rows


async def run_scenario(
    scenario: Scenario, config: ChaosConfig, postgres: ChaosPostgres
) -> ChaosRow:
    """Run one scenario on its own servers (PostgreSQL shared, one fresh database)."""
    charter = load_charter(config.charter)
    work = config.work_dir / scenario.value
    database_url = await create_database(postgres.url)
    cluster = LocalCluster(work / "cluster") if scenario is Scenario.NATS_NODE_KILL else None
    agency = busiest_agency(charter) if scenario is Scenario.AGENCY_RESTART else None
    pair = {
        Scenario.COORDINATOR_FAILOVER: (SECOND_COORDINATOR,),
        Scenario.PROJECTOR_FAILOVER: (SECOND_PROJECTOR,),
    }.get(scenario, ())
    try:
        if cluster is not None:
            await asyncio.to_thread(cluster.start)
        stack = Stack(
            StackSettings(
                nats_url=cluster.url if cluster is not None else None,
                database_url=database_url,
                data_dir=work,
                charters=(config.charter,),
                stream_profile=Profile.CLUSTER if cluster is not None else Profile.SINGLE,
                stop_grace_s=5.0,
            ),
            services=service_specs(agency, extra=pair),
            probe=InstancesProbe(lambda: stack.nats_url),
            restart_policy=PROMPT_RESTART,
            base_env={
                **os.environ,
                **SERVICE_ENV,
                **mode_env([charter.operation.mode.value]),
            },
        )
        async with stack:
            nc = await nats.connect(
                [url.strip() for url in stack.nats_url.split(",")],
                name="interforces-chaos",
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                error_cb=_expected,
            )
            try:
                run = _Run(scenario, config, charter, stack, nc, database_url, postgres, cluster)
                return await run.play(agency)
            finally:
                await nc.close()
    finally:
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await drop_database(postgres.url, database_url)


async def _expected(_: Exception) -> None:
    """A broken connection is the scenario's own doing: nats-py need not print it."""


class _Run:
    """One scenario being played."""

    def __init__(  # noqa: PLR0917 (the run's parts, handed over once)
        self,
        scenario: Scenario,
        config: ChaosConfig,
        charter: Charter,
        stack: Stack,
        nc: Client,
        database_url: str,
        postgres: ChaosPostgres,
        cluster: LocalCluster | None,
    ) -> None:
        self.scenario = scenario
        self.config = config
        self.charter = charter
        self.mode: Mode = charter.operation.mode
        self.stack = stack
        self.processes = Processes(stack)
        self.nc = nc
        self.js = nc.jetstream()
        self.database_url = database_url
        self.postgres = postgres
        self.cluster = cluster
        self.timeline = subjects.stream_name(self.mode, StreamRole.TIMELINE)
        self.started = time.monotonic()

    async def play(self, agency: Agency | None) -> ChaosRow:
        config = self.config
        seed = config.seed + list(Scenario).index(self.scenario)
        load: ProposalLoad | ReportLoad
        if agency is None:
            load = ProposalLoad(self.nc, plan_proposals(self.charter, config.count, seed=seed))
        else:
            key = read_unit_key(self.stack.secrets_dir, agency)
            reports = plan_reports(self.charter, agency, config.count, seed=seed)
            load = ReportLoad(self.nc, self.charter, agency, key, reports)
        self.started = time.monotonic()
        sending = asyncio.create_task(load.run(config.rate))
        await asyncio.sleep(config.seconds * config.fault_at)
        try:
            fault = await self._inject(agency)
        finally:
            result = await sending
        await self._heal(fault)
        settle_started = time.monotonic()
        settled = await self._settle()
        settle_s = time.monotonic() - settle_started
        await self._service_counters(fault, agency)
        accounting = await self._account(result)
        digest_equal = await self._digests_agree()
        return _row(
            self.scenario, accounting, result, fault, settled, digest_equal, settle_s, self.started
        )

    # --- faults ----------------------------------------------------------------------------

    async def _inject(self, agency: Agency | None) -> _Fault:
        fault = _Fault(at_s=time.monotonic() - self.started)
        match self.scenario:
            case Scenario.COORDINATOR_KILL:
                fault.recovery_s = await self._kill_and_wait("coordinator")
            case Scenario.COORDINATOR_FAILOVER:
                await self._kill_active(fault, durable_name(self.mode), SECOND_COORDINATOR.name)
            case Scenario.PROJECTOR_FAILOVER:
                await self._kill_active(fault, consumer_name(self.mode), SECOND_PROJECTOR.name)
            case Scenario.PROJECTOR_KILL:
                fault.detail["transaction_open"] = await self._transaction_open()
                fault.recovery_s = await self._kill_and_wait("timeline")
            case Scenario.POSTGRES_RESTART:
                began = time.monotonic()
                await self.postgres.crash_restart(self.config.outage_s)
                fault.recovery_s = time.monotonic() - began
                fault.detail["outage_s"] = self.config.outage_s
            case Scenario.NATS_NODE_KILL:
                await self._kill_leader(fault)
            case Scenario.AGENCY_RESTART:
                if agency is None:
                    raise RuntimeError("the agency scenario names no agency")
                fault.detail["agency"] = agency.value
                fault.recovery_s = await self._kill_and_wait(agency.value)
        return fault

    async def _kill_and_wait(self, service: str) -> float:
        pid = self.processes.kill(service)
        return await self.processes.back(service, pid)

    async def _kill_active(self, fault: _Fault, lease: str, second: str) -> None:
        """kill -9 the instance holding `lease`; wait until a live instance holds it (the
        standby, or the killed one restarted, whichever gets it first)."""
        names = (second.removesuffix("-2"), second)
        kv = await self.js.key_value(LEASE_BUCKET)

        async def holder_pid() -> int | None:
            with contextlib.suppress(NatsError, TimeoutError, KeyNotFoundError):
                value = (await kv.get(lease)).value or b""
                return int(value.decode().rsplit(":", 1)[1])
            return None

        killed_pid = await holder_pid()
        active = next(n for n in names if self.processes.pid(n) == killed_pid)
        began = time.monotonic()
        self.processes.kill(active)
        fault.detail["killed"] = active
        while time.monotonic() - began < 60.0:
            pid = await holder_pid()
            if pid is not None and pid != killed_pid:
                live = {self.processes.pid(n): n for n in names if _running(self.processes, n)}
                fault.detail["took_over"] = live.get(pid, f"pid {pid}")
                break
            await asyncio.sleep(0.1)
        fault.recovery_s = time.monotonic() - began

    async def _transaction_open(self, wait_s: float = 2.0) -> bool:
        """Wait (a little) until some other session has a transaction open in the scenario's
        database — the projector writing a batch — so that the kill lands mid-batch."""
        conn = await asyncpg.connect(self.database_url)
        try:
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                busy = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
                )
                if busy:
                    return True
                await asyncio.sleep(0.01)
            return False
        finally:
            await conn.close()

    async def _kill_leader(self, fault: _Fault, timeout_s: float = 60.0) -> None:
        """kill -9 the node leading the timeline stream; wait for another leader."""
        if self.cluster is None:
            raise RuntimeError("the node scenario runs on a cluster")
        info = await self.js.stream_info(self.timeline)
        leader = info.cluster.leader if info.cluster is not None else None
        if leader is None:
            raise RuntimeError(f"{self.timeline} has no leader")
        fault.detail.update(
            killed_node=leader,
            sync_always=self.cluster.sync_always(),
            timeline_seq_at_kill=info.state.last_seq,
        )
        began = time.monotonic()
        await asyncio.to_thread(self.cluster.kill, leader)
        js = self.nc.jetstream(timeout=1.0)
        while time.monotonic() - began < timeout_s:
            with contextlib.suppress(NatsError, TimeoutError):
                info = await js.stream_info(self.timeline)
                if info.cluster is not None and info.cluster.leader not in (None, leader):
                    fault.detail["new_leader"] = info.cluster.leader
                    break
            await asyncio.sleep(0.1)
        fault.recovery_s = time.monotonic() - began

    async def _heal(self, fault: _Fault) -> None:
        """Bring back what the fault left down: a killed node, once the load is over and the
        two others have decided and projected everything (the service continued)."""
        if self.cluster is None:
            return
        killed = str(fault.detail["killed_node"])
        fault.detail["settled_without_node"] = await self._settle()
        with contextlib.suppress(NatsError, TimeoutError):
            seq = (await self.js.stream_info(self.timeline)).state.last_seq
            fault.detail["appended_while_down"] = seq - int(fault.detail["timeline_seq_at_kill"])
        await self.cluster.restart(killed)

    # --- the end ---------------------------------------------------------------------------

    async def _settle(self) -> bool:
        """Wait until no proposal is pending at the coordinator and the projector's checkpoint
        is the timeline's last sequence, twice in a row; False after the bound."""
        bound = self.config.settle_timeout_s
        deadline = time.monotonic() + bound
        proposals = subjects.stream_name(self.mode, StreamRole.PROPOSALS)
        previous: tuple[int, ...] | None = None
        while time.monotonic() < deadline:
            try:
                pending = await self.js.consumer_info(proposals, durable_name(self.mode))
                last = (await self.js.stream_info(self.timeline)).state.last_seq
                checkpoint = await self._checkpoint()
            except (NatsError, TimeoutError, OSError, asyncpg.PostgresError):
                previous = None
            else:
                now = (pending.num_pending or 0, pending.num_ack_pending or 0, last, checkpoint)
                if now[:2] == (0, 0) and checkpoint >= last:
                    if now == previous:
                        return True
                    previous = now
                else:
                    previous = None
            await asyncio.sleep(0.5)
        return False

    async def _service_counters(self, fault: _Fault, agency: Agency | None) -> None:
        """What the services under fault say they went through (their health counters):
        the projectors' failed batches (and, when two share the work, what each
        projected), proposals the coordinator found already decided, reports the agency
        service found already proposed."""
        mode = self.mode.value
        match self.scenario:
            case Scenario.COORDINATOR_KILL:
                fault.detail["redelivered"] = await self._counter("coordinator", "redelivered")
            case Scenario.NATS_NODE_KILL:
                failed = await self._counter("coordinator", "failed_batches")
                fault.detail["failed_batches"] = failed
            case Scenario.AGENCY_RESTART if agency is not None:
                fault.detail["duplicates"] = await self._counter(
                    agency.value, "reports", "duplicates"
                )
            case Scenario.COORDINATOR_FAILOVER | Scenario.PROJECTOR_FAILOVER:
                role = "timeline" if self.scenario is Scenario.PROJECTOR_FAILOVER else "coordinator"
                answers = await health_answers(self.nc, role)
                fault.detail["instances"] = len(answers)
            case _:
                fault.detail["failures"] = await self._counter("timeline", mode, "failures")

    async def _counter(self, service: str, *path: str) -> Any:
        health = await request_health(self.nc, service, 2.0)
        return _dig(health.details, *path) if health is not None else None

    async def _checkpoint(self) -> int:
        conn = await asyncpg.connect(self.database_url)
        try:
            return await store.read_checkpoint(conn, consumer_name(self.mode))
        finally:
            await conn.close()

    async def _account(self, result: LoadResult) -> Accounting:
        refused = set(result.refused)
        sent = [p for p in result.sent if p not in refused]
        stream = await read_timeline(self.js, self.mode)
        projection, dead_letters = await read_projection(self.database_url, self.mode)
        return account(sent, stream, projection, dead_letters)

    async def _digests_agree(self) -> bool:
        """The live projection of the operation has the digest of its rebuild from the
        stream into an empty schema."""
        operation = self.charter.operation.id
        rebuilt = await rebuild_from_stream(
            self.js, self.database_url, mode=self.mode, operation=operation
        )
        digests = []
        for schema in (None, rebuilt.schema):
            conn = await connect(self.database_url, schema)
            try:
                digests.append(await projection_digest(conn, mode=self.mode, operation=operation))
            finally:
                await conn.close()
        return digests[0] == digests[1]


def _running(processes: Processes, name: str) -> bool:
    try:
        processes.pid(name)
    except RuntimeError:
        return False
    return True


def _dig(details: Any, *path: str) -> Any:
    """A value deep in health details (None when absent)."""
    for key in path:
        details = details.get(key) if isinstance(details, dict) else None
    return details


def _row(  # noqa: PLR0917 (the parts of a row, gathered once)
    scenario: Scenario,
    accounting: Accounting,
    result: LoadResult,
    fault: _Fault,
    settled: bool,
    digest_equal: bool,
    settle_s: float,
    started: float,
) -> ChaosRow:
    detail = dict(fault.detail)
    if result.refused:
        detail["refused_by_service"] = len(result.refused)
    return ChaosRow(
        scenario=scenario.value,
        sent=accounting.sent,
        accepted=accounting.accepted,
        rejected=accounting.rejected,
        lost=accounting.lost,
        duplicated=accounting.duplicated,
        unexpected=accounting.unexpected,
        dead_letters=accounting.dead_letters,
        stream_records=accounting.stream_records,
        projected_records=accounting.projected_records,
        digest_equal=digest_equal,
        settled=settled,
        rate=round(result.rate, 1),
        retries=result.retries,
        unconfirmed=len(result.unconfirmed),
        fault_at_s=round(fault.at_s, 2),
        recovery_s=round(fault.recovery_s, 2),
        settle_s=round(settle_s, 2),
        duration_s=round(time.monotonic() - started, 2),
        detail=detail,
    )
