"""The services as supervised child processes.

Each service runs as `python -m <module>` in its own session (a Ctrl-C on the terminal
reaches the launcher only, which then stops everything in order), with its output appended
to `<log_dir>/<service>.log`. A service is *ready* when it answers its health subject with
its own pid. A crashed service is restarted after a growing pause; after too many crashes
within a window it is left *failed*. On stop, upstream services go first and the drain
order last (coordinator, then the timeline projector), each with SIGTERM, a grace period,
then SIGKILL of its process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import nats
import psutil
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from pydantic import ValidationError

from infra.nats.users import NatsLogin
from interforces.stack.services import ServiceSpec
from services.runtime.health import Health, health_subject

#: Services stopped one after the other once every other service has stopped, so that
#: what is in flight drains downstream: decisions first, then the timeline projection.
DRAIN_ORDER: tuple[str, ...] = ("coordinator", "timeline")
#: Variable naming the service to its own process (besides the module it runs).
SERVICE_NAME_ENV = "IFC_SERVICE_NAME"


class ServiceState(StrEnum):
    """Where a supervised service is in its life."""

    STARTING = "starting"
    READY = "ready"
    BACKOFF = "backoff"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How crashed services are restarted: at most `max_restarts` per `window_s`, after a
    pause doubling from `backoff_initial_s` up to `backoff_max_s`."""

    max_restarts: int = 5
    window_s: float = 60.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0

    def backoff_s(self, recent_crashes: int) -> float:
        """Pause before the restart that follows the `recent_crashes`-th crash."""
        return min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** max(0, recent_crashes - 1))


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """One supervised service at one moment."""

    name: str
    module: str
    state: ServiceState
    pid: int | None
    started_at: datetime | None
    restarts: int
    last_exit_code: int | None
    log: Path


class SupervisorError(Exception):
    """Root of the supervisor's errors."""


class ServicesNotReadyError(SupervisorError):
    """Some services did not become ready: each with its state and log file."""

    def __init__(self, services: Mapping[str, ServiceStatus], timeout_s: float) -> None:
        names = ", ".join(f"{s.name} ({s.state.value}, see {s.log})" for s in services.values())
        super().__init__(f"not ready after {timeout_s:.0f} s: {names}")
        self.services = dict(services)
        self.timeout_s = timeout_s


class ServiceModulesMissingError(SupervisorError):
    """Some services' modules cannot be run with `python -m`."""

    def __init__(self, modules: Sequence[str]) -> None:
        super().__init__(f"cannot run with python -m: {', '.join(modules)}")
        self.modules = tuple(modules)


def missing_modules(specs: Sequence[ServiceSpec]) -> list[str]:
    """The modules of `specs` that `python -m` could not run (absent, or a package without
    `__main__`)."""
    missing = []
    for spec in specs:
        try:
            found = importlib.util.find_spec(spec.module)
            if found is not None and found.submodule_search_locations is not None:
                found = importlib.util.find_spec(f"{spec.module}.__main__")
        except ImportError:
            found = None
        if found is None:
            missing.append(spec.module)
    return missing


class ReadinessProbe(Protocol):
    """Tells whether a process of a service is ready to work."""

    async def ready(self, service: str, pid: int) -> bool:
        """Whether process `pid` of `service` answers as ready."""
        ...

    async def close(self) -> None:
        """Release what the probe holds."""
        ...


async def request_health(nc: NatsClient, service: str, timeout_s: float) -> Health | None:
    """The health answer of `service`, or None when nobody answers in time."""
    try:
        msg = await nc.request(health_subject(service), b"", timeout=timeout_s)
        return Health.model_validate_json(msg.data)
    except (NatsError, TimeoutError, ValidationError):
        return None


class NatsHealthProbe:
    """Ready means: answers `ifc.health.<service>` over NATS with its own pid."""

    def __init__(
        self, servers: str, timeout_s: float = 0.5, login: NatsLogin | None = None
    ) -> None:
        self._servers = servers
        self._timeout_s = timeout_s
        self._login = login
        self._nc: NatsClient | None = None

    async def ready(self, service: str, pid: int) -> bool:
        """Whether the answer comes from process `pid`."""
        nc = await self._connection()
        if nc is None:
            return False
        health = await request_health(nc, service, self._timeout_s)
        return health is not None and health.pid == pid

    async def _connection(self) -> NatsClient | None:
        if self._nc is None or self._nc.is_closed:
            try:
                self._nc = await connect_once(
                    self._servers, "interforces-supervisor", login=self._login
                )
            except (NatsError, OSError, TimeoutError):
                self._nc = None
        return self._nc

    async def close(self) -> None:
        """Close the NATS connection."""
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
        self._nc = None


async def connect_once(
    servers: str, name: str, timeout_s: float = 2.0, *, login: NatsLogin | None = None
) -> NatsClient:
    """A connection to one of `servers` (comma-separated), as `login`'s user when given, or
    an error within `timeout_s`.

    nats-py otherwise retries a refused first connection forever; callers here retry (or
    report) themselves. The connection does not reconnect: callers open a new one.
    """
    return await asyncio.wait_for(
        nats.connect(
            [url.strip() for url in servers.split(",")],
            name=name,
            connect_timeout=max(1, round(timeout_s)),
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0,
            error_cb=_quiet,
            **(login.connect_options() if login is not None else {}),
        ),
        timeout_s,
    )


async def _quiet(_: Exception) -> None:
    """A refused connection is the caller's to report, not nats-py's to log."""


def stop_waves(names: Sequence[str], drain_order: Sequence[str] = DRAIN_ORDER) -> list[list[str]]:
    """Groups of services stopped together, in order: all but the drain order at once, then
    each of the drain order alone."""
    waves = [[n for n in names if n not in drain_order], *([n] for n in drain_order if n in names)]
    return [wave for wave in waves if wave]


@dataclass(slots=True, eq=False)
class _Service:
    spec: ServiceSpec
    log: Path
    state: ServiceState = ServiceState.STOPPED
    process: asyncio.subprocess.Process | None = None
    started_at: datetime | None = None
    restarts: int = 0
    last_exit_code: int | None = None
    crashes: deque[float] = field(default_factory=deque)
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def status(self) -> ServiceStatus:
        running = self.process is not None and self.process.returncode is None
        return ServiceStatus(
            name=self.spec.name,
            module=self.spec.module,
            state=self.state,
            pid=self.process.pid if running and self.process is not None else None,
            started_at=self.started_at if running else None,
            restarts=self.restarts,
            last_exit_code=self.last_exit_code,
            log=self.log,
        )


class Supervisor:
    """Runs services as child processes, keeps them up, stops them in order.

    Every process gets `env`, its name in `IFC_SERVICE_NAME`, and what `service_env` adds
    for it (its broker user)."""

    def __init__(
        self,
        specs: Sequence[ServiceSpec],
        *,
        env: Mapping[str, str],
        service_env: Callable[[ServiceSpec], Mapping[str, str]] | None = None,
        log_dir: Path,
        probe: ReadinessProbe,
        policy: RestartPolicy | None = None,
        stop_grace_s: float = 10.0,
        drain_order: Sequence[str] = DRAIN_ORDER,
        on_change: Callable[[ServiceStatus], None] | None = None,
        python: str = sys.executable,
        poll_interval_s: float = 0.1,
    ) -> None:
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise SupervisorError(f"service names repeat: {names}")
        self._services = {spec.name: _Service(spec, log_dir / f"{spec.name}.log") for spec in specs}
        self._env = dict(env)
        self._service_env = service_env
        self._log_dir = log_dir
        self._probe = probe
        self._policy = policy or RestartPolicy()
        self._stop_grace_s = stop_grace_s
        self._drain_order = tuple(drain_order)
        self._on_change = on_change
        self._python = python
        self._poll_interval_s = poll_interval_s
        self._changed = asyncio.Event()
        self._started = False

    def statuses(self) -> list[ServiceStatus]:
        """Every service, in the order given."""
        return [svc.status() for svc in self._services.values()]

    def status(self, name: str) -> ServiceStatus:
        """One service."""
        return self._services[name].status()

    async def start(self, ready_timeout_s: float = 60.0) -> None:
        """Start every service and wait until each is ready.

        Raises `ServicesNotReadyError` when one has failed or is still not ready after
        `ready_timeout_s`; the services keep running until `stop`.
        """
        if self._started:
            raise SupervisorError("already started")
        missing = missing_modules([svc.spec for svc in self._services.values()])
        if missing:
            raise ServiceModulesMissingError(missing)
        self._started = True
        self._log_dir.mkdir(parents=True, exist_ok=True)
        for svc in self._services.values():
            svc.task = asyncio.create_task(self._supervise(svc), name=f"supervise-{svc.spec.name}")
        with contextlib.suppress(TimeoutError):
            await self.wait_until(self._settled, ready_timeout_s)
        not_ready = {s.name: s for s in self.statuses() if s.state is not ServiceState.READY}
        if not_ready:
            raise ServicesNotReadyError(not_ready, ready_timeout_s)

    def _settled(self) -> bool:
        states = [svc.state for svc in self._services.values()]
        return ServiceState.FAILED in states or all(s is ServiceState.READY for s in states)

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float) -> None:
        """Wait until `condition()` holds, re-checked on every state change."""
        async with asyncio.timeout(timeout_s):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def stop(self) -> None:
        """Stop every service, wave after wave (see `stop_waves`)."""
        for wave in stop_waves(list(self._services), self._drain_order):
            services = [self._services[name] for name in wave]
            for svc in services:
                svc.stop_requested.set()
            await asyncio.gather(*(svc.task for svc in services if svc.task is not None))
        await self._probe.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _set(self, svc: _Service, state: ServiceState) -> None:
        svc.state = state
        self._changed.set()
        if self._on_change is not None:
            self._on_change(svc.status())

    async def _supervise(self, svc: _Service) -> None:
        try:
            while not svc.stop_requested.is_set():
                try:
                    process = await self._spawn(svc)
                except OSError:  # the interpreter or the log file is unusable: no retry helps
                    self._set(svc, ServiceState.FAILED)
                    return
                await self._watch(svc, process)
                if svc.stop_requested.is_set():
                    break
                if not self._may_restart(svc):
                    self._set(svc, ServiceState.FAILED)
                    return
                self._set(svc, ServiceState.BACKOFF)
                pause = self._policy.backoff_s(len(svc.crashes))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(svc.stop_requested.wait(), pause)
                if not svc.stop_requested.is_set():
                    svc.restarts += 1
            self._set(svc, ServiceState.STOPPED)
        except asyncio.CancelledError:
            if svc.process is not None and svc.process.returncode is None:
                _kill_group(svc.process.pid)
            raise

    def _may_restart(self, svc: _Service) -> bool:
        now = time.monotonic()
        while svc.crashes and now - svc.crashes[0] > self._policy.window_s:
            svc.crashes.popleft()
        if len(svc.crashes) >= self._policy.max_restarts:
            return False
        svc.crashes.append(now)
        return True

    async def _spawn(self, svc: _Service) -> asyncio.subprocess.Process:
        own = self._service_env(svc.spec) if self._service_env is not None else {}
        env = {**self._env, **own, SERVICE_NAME_ENV: svc.spec.name}
        with svc.log.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                self._python,
                *svc.spec.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        svc.process = process
        svc.started_at = process_started_at(process.pid)
        self._set(svc, ServiceState.STARTING)
        return process

    async def _watch(self, svc: _Service, process: asyncio.subprocess.Process) -> None:
        """Until the process exits (crash) or a stop is requested (then stop it)."""
        exited = asyncio.create_task(process.wait())
        stop = asyncio.create_task(svc.stop_requested.wait())
        ready = asyncio.create_task(self._await_ready(svc, process))
        try:
            await asyncio.wait({exited, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (ready, stop, exited):
                task.cancel()
            await asyncio.gather(ready, stop, exited, return_exceptions=True)
        if process.returncode is None:
            self._set(svc, ServiceState.STOPPING)
            await self._terminate(process)
        svc.last_exit_code = process.returncode

    async def _await_ready(self, svc: _Service, process: asyncio.subprocess.Process) -> None:
        while process.returncode is None:
            if await self._probe.ready(svc.spec.name, process.pid):
                if process.returncode is None and svc.state is ServiceState.STARTING:
                    self._set(svc, ServiceState.READY)
                return
            await asyncio.sleep(self._poll_interval_s)

    async def _terminate(self, process: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self._stop_grace_s)
        except TimeoutError:
            _kill_group(process.pid)
            await process.wait()


def _kill_group(pid: int) -> None:
    """SIGKILL a child and whatever it started (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def process_started_at(pid: int) -> datetime | None:
    """When process `pid` started (the operating system's record), or None if gone."""
    try:
        return datetime.fromtimestamp(psutil.Process(pid).create_time(), UTC)
    except psutil.Error:
        return None
