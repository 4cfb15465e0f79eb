"""`interforces infra streams` declares the streams on the NATS of NATS_URL."""

from __future__ import annotations

import asyncio

import nats
import pytest
from typer.testing import CliRunner

from contracts import subjects
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from interforces.cli import app
from interforces.stack.embedded import EmbeddedNats

pytestmark = pytest.mark.integration


async def test_streams_are_declared_on_the_configured_server(nats_server: EmbeddedNats) -> None:
    # given a bare nats-server named by NATS_URL
    # when `infra streams` runs (twice: it is idempotent)
    for _ in range(2):
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["infra", "streams"], env={"NATS_URL": nats_server.url}
        )
        assert result.exit_code == 0, result.output
    # then the six streams exist there with one replica
    declared = {line.split()[0] for line in result.output.splitlines()}
    assert {subjects.stream_name(mode, role) for mode in Mode for role in StreamRole} <= declared
    nc = await nats.connect(nats_server.url)
    try:
        info = await nc.jetstream().stream_info(
            subjects.stream_name(Mode.LIVE, StreamRole.TIMELINE)
        )
        assert info.config.num_replicas == 1
    finally:
        await nc.close()


def test_an_unreachable_server_is_reported_after_the_wait() -> None:
    result = CliRunner().invoke(
        app, ["infra", "streams", "--wait", "0"], env={"NATS_URL": "nats://127.0.0.1:9"}
    )
    assert result.exit_code == 1
    assert "Streams not declared" in result.output
