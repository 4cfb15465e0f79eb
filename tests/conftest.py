"""Fixtures for tests that need real servers.

`nats_url`: a fresh nats-server (from the wheel) with JetStream and the project's streams,
on a free port, per test. `postgres_url`: `DATABASE_URL` when set, otherwise one embedded
PostgreSQL for the session; `database_url`: a fresh, empty database in it, per test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from databases import create_database, drop_database
from nats.aio.client import Client

from infra.streams import Profile, declare_streams
from interforces.stack.embedded import EmbeddedNats, EmbeddedPostgres


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server with JetStream on a free port, stopped after the test."""
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def nats_url(nats_server: EmbeddedNats) -> str:
    """URL of a fresh nats-server whose streams are declared."""
    nc = await nats.connect(nats_server.url)
    try:
        await declare_streams(nc.jetstream(), Profile.SINGLE)
    finally:
        await nc.close()
    return nats_server.url


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server: `DATABASE_URL` when set, otherwise an embedded one."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", database="postgres")
    yield server.start()
    server.stop()


@pytest.fixture
async def database_url(postgres_url: str) -> AsyncIterator[str]:
    """A fresh, empty database, dropped after the test."""
    url = await create_database(postgres_url)
    yield url
    await drop_database(postgres_url, url)


@pytest.fixture
async def client(nats_url: str) -> AsyncIterator[Client]:
    """A NATS connection to the test's server (streams declared)."""
    nc = await nats.connect(nats_url)
    yield nc
    await nc.close()
