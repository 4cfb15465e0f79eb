"""The health of a recorded stack: nats-server, PostgreSQL and each service, checked live.

Reads nothing but the `StackState` it is given (and the URLs it is told to prefer, since
`stack.json` keeps no passwords); each check gives up after `timeout_s`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError

from infra.nats.secrets import NatsSecretError
from infra.nats.users import NatsLogin
from interforces.stack.stack import ServerRecord, ServiceRecord, StackState, process_alive
from interforces.stack.supervisor import connect_once, request_health
from services.runtime.health import health_subject

#: Seconds each part has to answer.
CHECK_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class PartHealth:
    """One part of the stack, as just checked."""

    name: str
    kind: str
    up: bool
    address: str
    pid: int | None = None
    uptime_s: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    log: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "name": self.name,
            "kind": self.kind,
            "up": self.up,
            "address": self.address,
            "pid": self.pid,
            "uptime_s": self.uptime_s,
            "detail": self.detail,
            "log": str(self.log) if self.log is not None else None,
        }


@dataclass(frozen=True, slots=True)
class StackHealth:
    """Every part of a recorded stack."""

    state: StackState
    launcher_alive: bool
    parts: tuple[PartHealth, ...]

    @property
    def healthy(self) -> bool:
        """Whether every part is up."""
        return all(part.up for part in self.parts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "data_dir": str(self.state.data_dir),
            "healthy": self.healthy,
            "launcher": {"pid": self.state.launcher_pid, "alive": self.launcher_alive},
            "started_at": self.state.started_at.isoformat(),
            "stopped_at": self.state.stopped_at.isoformat() if self.state.stopped_at else None,
            "stream_profile": self.state.stream_profile.value,
            "parts": [part.as_dict() for part in self.parts],
        }


async def check_stack(
    state: StackState,
    *,
    nats_url: str | None = None,
    database_url: str | None = None,
    timeout_s: float = CHECK_TIMEOUT_S,
) -> StackHealth:
    """Check every part of `state`; `nats_url` / `database_url` replace recorded URLs whose
    password was withheld. A broker enforcing perimeters is asked as the operator."""
    nc = await _connect(nats_url or state.nats.url, timeout_s, _operator(state))
    try:
        nats_part, postgres_part, *service_parts = await asyncio.gather(
            _check_nats(state.nats, nc, timeout_s),
            _check_postgres(state.postgres, database_url or state.postgres.url, timeout_s),
            *(_check_service(record, nc, timeout_s) for record in state.services),
        )
    finally:
        if nc is not None:
            await nc.close()
    return StackHealth(
        state=state,
        launcher_alive=process_alive(state.launcher_pid, state.launcher_started_at),
        parts=(nats_part, postgres_part, *service_parts),
    )


def _operator(state: StackState) -> NatsLogin | None:
    try:
        return state.operator_login()
    except NatsSecretError:  # reported as NATS unreachable, like any refused connection
        return None


async def _connect(url: str, timeout_s: float, login: NatsLogin | None) -> NatsClient | None:
    try:
        return await connect_once(url, "interforces-status", timeout_s, login=login)
    except (NatsError, OSError, TimeoutError):
        return None


def _server_common(record: ServerRecord) -> dict[str, Any]:
    """Name, address, log, and the recorded process while it still runs."""
    running = record.embedded and process_alive(record.pid, record.started_at)
    return {
        "name": record.name,
        "kind": "server",
        "address": record.url,
        "pid": record.pid if running else None,
        "log": record.log,
    }


def _server_uptime(record: ServerRecord) -> float | None:
    if record.started_at is None or not process_alive(record.pid, record.started_at):
        return None
    return round(time.time() - record.started_at.timestamp(), 1)


async def _check_nats(record: ServerRecord, nc: NatsClient | None, timeout_s: float) -> PartHealth:
    common = _server_common(record)
    if nc is None:
        return PartHealth(up=False, detail={"error": "no connection"}, **common)
    try:
        account = await nc.jetstream(timeout=timeout_s).account_info()
    except (NatsError, TimeoutError) as exc:
        return PartHealth(up=False, detail={"error": f"JetStream: {exc!r}"}, **common)
    version = nc.connected_server_version
    detail = {
        "version": f"{version.major}.{version.minor}.{version.patch}",
        "streams": account.streams,
        "consumers": account.consumers,
        "embedded": record.embedded,
    }
    return PartHealth(up=True, uptime_s=_server_uptime(record), detail=detail, **common)


async def _check_postgres(record: ServerRecord, url: str, timeout_s: float) -> PartHealth:
    common = _server_common(record)
    try:
        conn = await asyncpg.connect(url, timeout=timeout_s)
    except (OSError, TimeoutError, asyncpg.PostgresError, ValueError) as exc:
        return PartHealth(up=False, detail={"error": str(exc) or type(exc).__name__}, **common)
    try:
        one = await conn.fetchval("SELECT 1", timeout=timeout_s)
        uptime = await conn.fetchval(
            "SELECT extract(epoch FROM now() - pg_postmaster_start_time())::float8",
            timeout=timeout_s,
        )
        version = await conn.fetchval("SHOW server_version", timeout=timeout_s)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return PartHealth(up=False, detail={"error": str(exc) or type(exc).__name__}, **common)
    finally:
        await conn.close()
    detail = {"version": version, "embedded": record.embedded}
    return PartHealth(up=one == 1, uptime_s=round(uptime, 1), detail=detail, **common)


async def _check_service(
    record: ServiceRecord, nc: NatsClient | None, timeout_s: float
) -> PartHealth:
    recorded = {"supervisor": record.state.value, "restarts": record.restarts}
    common: dict[str, Any] = {
        "name": record.name,
        "kind": "service",
        "address": health_subject(record.name),
        "log": record.log,
    }
    health = await request_health(nc, record.name, timeout_s) if nc is not None else None
    if health is None:
        error = "no answer" if nc is not None else "NATS unreachable"
        return PartHealth(up=False, pid=record.pid, detail={"error": error, **recorded}, **common)
    return PartHealth(
        up=True,
        pid=health.pid,
        uptime_s=health.uptime_s,
        detail={**health.details, **recorded},
        **common,
    )
