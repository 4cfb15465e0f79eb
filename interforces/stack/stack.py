"""The whole system on one machine: servers, streams, unit keys and supervised services.

Without `NATS_URL` / `DATABASE_URL` the stack starts its own nats-server and PostgreSQL
under `<data_dir>`; with them, it uses those. It declares the streams, makes sure the unit
keys exist, runs the services, and records all of it in `<data_dir>/stack.json` for
`interforces status`.

With `IFC_NATS_AUTH`, the broker enforces the perimeters: the embedded nats-server runs the
configuration generated from the charters (`infra/nats/perimeters.py`; passwords created in
the secrets directory at first start), a configured one is expected to run the same
(`interforces infra nats-config`); the stack declares the streams and probes health as the
operator, and each service connects as its own broker user.

    async with Stack(StackSettings(data_dir=Path("var"))) as stack:
        ...  # stack.nats_url, stack.database_url, stack.state
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, Self
from urllib.parse import urlsplit, urlunsplit

import psutil
from nats.errors import Error as NatsError
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.charter.loader import charter_files, load_charter
from infra.nats.secrets import login_of
from infra.nats.users import OPERATOR, NatsLogin
from infra.streams import Profile, StreamDeclarationError, declare_streams
from interforces.stack.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from interforces.stack.services import SERVICES, ServiceSpec
from interforces.stack.supervisor import (
    NatsHealthProbe,
    ReadinessProbe,
    RestartPolicy,
    ServiceModulesMissingError,
    ServiceState,
    ServiceStatus,
    Supervisor,
    connect_once,
    missing_modules,
    process_started_at,
)

STATE_FILE = "stack.json"
#: How long the stack waits for JetStream to take stream declarations (a cluster elects a
#: meta leader first).
STREAMS_WAIT_S = 15.0


class StackSettings(BaseSettings):
    """What `interforces up` reads: the servers to use (embedded when unset), where data,
    secrets and charters live, what the services log and trace."""

    model_config = SettingsConfigDict(
        env_prefix="IFC_", extra="ignore", frozen=True, populate_by_name=True
    )

    nats_url: str | None = Field(
        default=None,
        validation_alias="NATS_URL",
        description="NATS server(s), comma-separated; unset: an embedded nats-server.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="PostgreSQL URL; unset: an embedded PostgreSQL.",
    )
    data_dir: Path = Field(default=Path("var"), description="Servers' data, logs, stack.json.")
    secrets_dir: Path | None = Field(
        default=None, description="Unit keys and credentials; unset: `<data_dir>/secrets`."
    )
    charters: tuple[Path, ...] = Field(
        default=(Path("infra/charters"),), description="Charter files or directories."
    )
    stream_profile: Profile = Field(
        default=Profile.SINGLE,
        description="Stream replicas on a configured NATS (the embedded node is single).",
    )
    log_level: str = Field(default="INFO", description="Services' log level.")
    trace_file: Path | None = Field(
        default=None, description="Services also write finished spans to this file."
    )
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OTLP/HTTP collector the services export traces to.",
    )
    api_port: int | None = Field(
        default=None, ge=1, le=65535, description="Crisis-cell API port; unset: a free one."
    )
    nats_auth: bool = Field(
        default=False,
        description="Broker perimeters: users, permissions and accounts from the charters.",
    )
    ready_timeout_s: float = Field(default=60.0, gt=0, description="Wait for readiness.")
    stop_grace_s: float = Field(default=10.0, gt=0, description="SIGTERM to SIGKILL.")

    @property
    def resolved_secrets_dir(self) -> Path:
        """The secrets directory, absolute."""
        return (self.secrets_dir or self.data_dir / "secrets").resolve()


class ServerRecord(BaseModel):
    """A server the stack uses: its URL without credentials and, when embedded, its process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="nats-server or postgresql.")
    url: str = Field(description="Client URL, any password replaced by ***.")
    embedded: bool = Field(description="Started by the stack (else configured).")
    pid: int | None = Field(default=None, description="Process id when embedded.")
    started_at: datetime | None = Field(default=None, description="Process start.")
    log: Path | None = Field(default=None, description="Server log file.")
    monitor_url: str | None = Field(default=None, description="nats-server monitoring.")


class ServiceRecord(BaseModel):
    """A supervised service as last seen by the launcher."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    module: str
    state: ServiceState
    pid: int | None = None
    started_at: datetime | None = None
    restarts: int = 0
    last_exit_code: int | None = None
    log: Path

    @classmethod
    def of(cls, status: ServiceStatus) -> ServiceRecord:
        """From the supervisor's view."""
        return cls(
            name=status.name,
            module=status.module,
            state=status.state,
            pid=status.pid,
            started_at=status.started_at,
            restarts=status.restarts,
            last_exit_code=status.last_exit_code,
            log=status.log,
        )


class StackState(BaseModel):
    """Contents of `<data_dir>/stack.json`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    data_dir: Path
    launcher_pid: int = Field(description="The `interforces up` (or demo) process.")
    launcher_started_at: datetime | None = None
    started_at: datetime
    stopped_at: datetime | None = None
    stream_profile: Profile
    streams: tuple[str, ...]
    secrets_dir: Path
    charters: tuple[Path, ...]
    nats: ServerRecord
    postgres: ServerRecord
    api_url: str | None = Field(default=None, description="The crisis-cell API.")
    api_tokens: Path | None = Field(default=None, description="Its callers' tokens file.")
    nats_auth: bool = Field(default=False, description="The broker enforces perimeters.")
    services: tuple[ServiceRecord, ...] = ()

    def operator_login(self) -> NatsLogin | None:
        """How tools connect to this stack's broker: as the operator when it enforces
        perimeters (raises `NatsSecretError` without the operator's password)."""
        if not self.nats_auth:
            return None
        return login_of(self.secrets_dir, OPERATOR)


class StackError(Exception):
    """Root of the stack's errors."""


class StackAlreadyRunningError(StackError):
    """Another launcher runs a stack in the same data directory."""

    def __init__(self, data_dir: Path, pid: int) -> None:
        super().__init__(f"a stack already runs in {data_dir} (launcher pid {pid})")
        self.data_dir = data_dir
        self.pid = pid


def state_path(data_dir: Path) -> Path:
    """Where the stack records itself."""
    return data_dir / STATE_FILE


def read_state(data_dir: Path) -> StackState | None:
    """The recorded stack, or None when there is none."""
    path = state_path(data_dir)
    if not path.exists():
        return None
    return StackState.model_validate_json(path.read_text(encoding="utf-8"))


def write_state(state: StackState) -> None:
    """Record the stack (atomically, readable by its owner only)."""
    path = state_path(state.data_dir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(state.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


def redact_url(url: str) -> str:
    """`url` (or a comma-separated list) with every password replaced by ***."""
    return ",".join(_redact_one(part.strip()) for part in url.split(","))


def _redact_one(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


async def declare_streams_at(
    nats_url: str,
    profile: Profile,
    *,
    wait_s: float = STREAMS_WAIT_S,
    login: NatsLogin | None = None,
) -> list[str]:
    """Declare the streams on the NATS at `nats_url` (as `login`'s user when given),
    retrying for `wait_s` while the server (or the cluster's JetStream) is not ready yet."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        try:
            nc = await connect_once(nats_url, "interforces-streams", login=login)
            try:
                return await declare_streams(nc.jetstream(), profile)
            finally:
                await nc.close()
        except StreamDeclarationError:
            raise
        except (NatsError, OSError, TimeoutError):
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.5)


def broker_perimeters(charters: Sequence[Path], secrets_dir: Path) -> str:
    """The nats-server configuration of the perimeters of every charter under `charters`
    (passwords created in `secrets_dir` when missing)."""
    # Only when launching (it imports every service's names; they may import the stack).
    from infra.nats.accounts import broker_config  # noqa: PLC0415

    loaded = [load_charter(path) for path in charter_files(charters)]
    return broker_config(loaded, secrets_dir)


def _ensure_credentials(secrets_dir: Path, api_tokens: Path) -> None:
    """Create the units' keys and the API's callers when missing (their own modules own
    their formats)."""
    from contracts.credentials import ensure_unit_keys  # noqa: PLC0415 (only when launching)
    from services.crisis_api.auth import ensure_tokens_file  # noqa: PLC0415

    ensure_unit_keys(secrets_dir)
    ensure_tokens_file(api_tokens)


def process_alive(pid: int | None, started_at: datetime | None) -> bool:
    """Whether `pid` still names the process that started at `started_at` (not a reused
    pid)."""
    if pid is None or started_at is None:
        return False
    now_started = process_started_at(pid)
    return now_started is not None and abs((now_started - started_at).total_seconds()) < 1.0


def _end_process(pid: int, started_at: datetime | None, sig: signal.Signals) -> None:
    """Send `sig` to a process we started earlier, then SIGKILL it if it lingers."""
    if not process_alive(pid, started_at):
        return
    try:
        process = psutil.Process(pid)
        process.send_signal(sig)
        process.wait(10)
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.Error):
            process.kill()
    except psutil.Error:
        return


def _postmaster(pgdata: Path) -> tuple[int, datetime] | None:
    """The running postmaster of `pgdata`, from its `postmaster.pid`."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    started = process_started_at(pid)
    return (pid, started) if started is not None else None


class Stack:
    """Servers, streams, unit keys and the supervised services, started and stopped as one."""

    def __init__(
        self,
        settings: StackSettings | None = None,
        *,
        services: Sequence[ServiceSpec] = SERVICES,
        probe: ReadinessProbe | None = None,
        restart_policy: RestartPolicy | None = None,
        on_service_change: Callable[[ServiceStatus], None] | None = None,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings or StackSettings()
        self.data_dir = self.settings.data_dir.resolve()
        self.secrets_dir = self.settings.resolved_secrets_dir
        self.charters = tuple(path.resolve() for path in self.settings.charters)
        self.log_dir = self.data_dir / "logs"
        self._services = tuple(services)
        self._probe = probe
        self._restart_policy = restart_policy
        self._on_service_change = on_service_change
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._nats: EmbeddedNats | None = None
        self._postgres: EmbeddedPostgres | None = None
        self._postmaster: tuple[int, datetime] | None = None
        self._nats_url: str | None = None
        self._database_url: str | None = None
        self._operator: NatsLogin | None = None
        self.api_port = self.settings.api_port or free_port()
        self.api_tokens = self.secrets_dir / "api-tokens.json"
        self._supervisor: Supervisor | None = None
        self._state: StackState | None = None
        self._stopped = False

    @property
    def nats_url(self) -> str:
        """NATS client URL(s) of the running stack."""
        if self._nats_url is None:
            raise StackError("the stack is not started")
        return self._nats_url

    @property
    def operator_login(self) -> NatsLogin | None:
        """The operator's credentials when the broker enforces perimeters, else None."""
        return self._operator

    @property
    def database_url(self) -> str:
        """PostgreSQL URL of the running stack."""
        if self._database_url is None:
            raise StackError("the stack is not started")
        return self._database_url

    @property
    def state(self) -> StackState:
        """What `stack.json` says now."""
        if self._state is None:
            raise StackError("the stack is not started")
        return self._state

    @property
    def supervisor(self) -> Supervisor | None:
        """The services' supervisor, once the servers are up."""
        return self._supervisor

    def service_env(self) -> dict[str, str]:
        """The environment every service process gets."""
        env = {
            **self._base_env,
            "NATS_URL": self.nats_url,
            "DATABASE_URL": self.database_url,
            "IFC_DATA_DIR": str(self.data_dir),
            "IFC_SECRETS_DIR": str(self.secrets_dir),
            "IFC_CHARTERS": json.dumps([str(path) for path in self.charters]),
            "IFC_LOG_LEVEL": self.settings.log_level,
            "IFC_API_PORT": str(self.api_port),
            "IFC_API_TOKENS_FILE": str(self.api_tokens),
            "IFC_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
        if self.settings.trace_file is not None:
            env["IFC_TRACE_FILE"] = str(self.settings.trace_file.resolve())
        if self.settings.otlp_endpoint:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.settings.otlp_endpoint
        return env

    async def start(self) -> StackState:
        """Start everything and wait until every service is ready; on any failure (or
        cancellation), stop what was started and re-raise."""
        if self._state is not None or self._stopped:
            raise StackError("a Stack starts once")
        missing = missing_modules(self._services)
        if missing:
            raise ServiceModulesMissingError(missing)
        absent = [str(path) for path in self.charters if not path.exists()]
        if absent:
            raise StackError(f"charters not found: {', '.join(absent)}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        previous = read_state(self.data_dir)
        if previous is not None:
            await asyncio.to_thread(end_leftovers, previous)
        try:
            await self._start_servers()
            profile = Profile.SINGLE if self._nats is not None else self.settings.stream_profile
            streams = await declare_streams_at(self.nats_url, profile, login=self._operator)
            _ensure_credentials(self.secrets_dir, self.api_tokens)
            supervisor = Supervisor(
                self._services,
                env=self.service_env(),
                service_env=self._broker_user if self.settings.nats_auth else None,
                log_dir=self.log_dir,
                probe=self._probe or NatsHealthProbe(self.nats_url, login=self._operator),
                policy=self._restart_policy,
                stop_grace_s=self.settings.stop_grace_s,
                on_change=self._service_changed,
            )
            self._state = self._initial_state(profile, streams, supervisor.statuses())
            write_state(self._state)
            self._supervisor = supervisor
            await supervisor.start(self.settings.ready_timeout_s)
        except BaseException:
            await self.stop()
            raise
        return self.state

    @staticmethod
    def _broker_user(spec: ServiceSpec) -> dict[str, str]:
        """A service connects as the broker user named after it."""
        return {"IFC_NATS_USER": spec.name}

    async def _start_servers(self) -> None:
        # One after the other, in one worker thread: spawning nats-server while pgserver
        # spawns initdb and pg_ctl from another thread once failed to exec (EFAULT).
        starts: list[Callable[[], str]] = []
        perimeters = ""
        if self.settings.nats_auth:
            if not self.settings.nats_url:  # bcrypt takes a while: not on the event loop
                perimeters = await asyncio.to_thread(
                    broker_perimeters, self.charters, self.secrets_dir
                )
            self._operator = login_of(self.secrets_dir, OPERATOR)
        if self.settings.nats_url:
            self._nats_url = self.settings.nats_url
        else:
            self._nats = EmbeddedNats(self.data_dir / "nats", extra_config=perimeters)
            starts.append(self._nats.start)
        if self.settings.database_url:
            self._database_url = self.settings.database_url
        else:
            self._postgres = EmbeddedPostgres(self.data_dir / "postgres")
            starts.append(self._postgres.start)

        def start_in_turn() -> list[str | BaseException]:
            results: list[str | BaseException] = []
            for start in starts:
                try:
                    results.append(start())
                except Exception as exc:
                    results.append(exc)
                    break
            return results

        starting = asyncio.ensure_future(asyncio.to_thread(start_in_turn))
        try:
            results = await asyncio.shield(starting)
        except asyncio.CancelledError:
            await starting  # what the thread starts must be known before it is stopped
            raise
        finally:
            if self._postgres is not None:
                self._postmaster = _postmaster(self._postgres.data_dir)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        if self._nats is not None:
            self._nats_url = self._nats.url
        if self._postgres is not None:
            self._database_url = self._postgres.url

    def _initial_state(
        self, profile: Profile, streams: Sequence[str], services: Sequence[ServiceStatus]
    ) -> StackState:
        nats_process = self._nats.process if self._nats is not None else None
        return StackState(
            data_dir=self.data_dir,
            launcher_pid=os.getpid(),
            launcher_started_at=process_started_at(os.getpid()),
            started_at=datetime.now(UTC),
            stream_profile=profile,
            streams=tuple(streams),
            secrets_dir=self.secrets_dir,
            charters=self.charters,
            nats=ServerRecord(
                name="nats-server",
                url=redact_url(self.nats_url),
                embedded=self._nats is not None,
                pid=nats_process.pid if nats_process is not None else None,
                started_at=process_started_at(nats_process.pid) if nats_process else None,
                log=self._nats.data_dir / "nats-server.log" if self._nats else None,
                monitor_url=(f"http://127.0.0.1:{self._nats.monitor_port}" if self._nats else None),
            ),
            postgres=ServerRecord(
                name="postgresql",
                url=redact_url(self.database_url),
                embedded=self._postgres is not None,
                pid=self._postmaster[0] if self._postmaster else None,
                started_at=self._postmaster[1] if self._postmaster else None,
                log=self._postgres.data_dir / "log" if self._postgres else None,
            ),
            api_url=f"http://127.0.0.1:{self.api_port}",
            api_tokens=self.api_tokens,
            nats_auth=self.settings.nats_auth,
            services=tuple(ServiceRecord.of(status) for status in services),
        )

    def _service_changed(self, status: ServiceStatus) -> None:
        if self._state is not None and self._supervisor is not None:
            records = tuple(ServiceRecord.of(s) for s in self._supervisor.statuses())
            self._state = self._state.model_copy(update={"services": records})
            write_state(self._state)
        if self._on_service_change is not None:
            self._on_service_change(status)

    async def stop(self) -> None:
        """Stop the services (in drain order), then PostgreSQL and nats-server. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        errors: list[BaseException] = []
        if self._supervisor is not None:
            try:
                await self._supervisor.stop()
            except Exception as exc:  # the servers must stop all the same
                errors.append(exc)
        try:
            await asyncio.gather(self._stop_postgres(), self._stop_nats())
        except Exception as exc:
            errors.append(exc)
        if self._state is not None:
            self._state = self._state.model_copy(update={"stopped_at": datetime.now(UTC)})
            write_state(self._state)
        if errors:
            raise errors[0]

    async def _stop_postgres(self) -> None:
        if self._postgres is None:
            return
        await asyncio.to_thread(self._postgres.stop)
        if self._postmaster is not None:
            # pgserver leaves the server running while it believes another process uses it
            # (e.g. a launcher that died); the stack owns its data directory, so it insists.
            await asyncio.to_thread(_end_process, *self._postmaster, signal.SIGINT)

    async def _stop_nats(self) -> None:
        if self._nats is not None:
            await asyncio.to_thread(self._nats.stop)

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


def end_leftovers(previous: StackState) -> None:
    """Refuse to run beside a live launcher; end what a dead one left running (its services
    and nats-server would hold the data directory and answer health for us)."""
    if previous.stopped_at is not None:
        return
    if process_alive(previous.launcher_pid, previous.launcher_started_at):
        raise StackAlreadyRunningError(previous.data_dir, previous.launcher_pid)
    for service in previous.services:
        if service.pid is not None:
            _end_process(service.pid, service.started_at, signal.SIGTERM)
    if previous.nats.embedded and previous.nats.pid is not None:
        _end_process(previous.nats.pid, previous.nats.started_at, signal.SIGTERM)
