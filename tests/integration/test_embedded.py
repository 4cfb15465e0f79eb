"""The embedded servers start from the wheels and the streams are declared as the project says."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js.api import StorageType
from nats.js.errors import APIError

from contracts import subjects
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from infra.streams import DUPLICATE_WINDOW_S, Profile, declare_streams
from interforces.stack.embedded import EmbeddedNats

pytestmark = pytest.mark.integration


async def test_streams_are_declared_idempotently_and_the_timeline_cannot_be_erased(
    nats_url: str,
) -> None:
    # given a server whose streams were declared once
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        # when they are declared again
        names = await declare_streams(js, Profile.SINGLE)
        # then nothing changes and the timeline is file-stored, deduplicated, undeletable
        assert len(names) == len(set(names)) == 7  # six streams and the leases' bucket
        name = subjects.stream_name(Mode.LIVE, StreamRole.TIMELINE)
        info = await js.stream_info(name)
        assert info.config.storage == StorageType.FILE
        assert info.config.deny_delete
        assert info.config.deny_purge
        assert info.config.duplicate_window == DUPLICATE_WINDOW_S
        assert info.config.max_age in (None, 0)
        ack = await js.publish(
            subjects.timeline(Mode.LIVE, "op-x", "fr.interforces.unit.checked_in"),
            b"{}",
            headers={"Nats-Msg-Id": "e-1"},
        )
        again = await js.publish(
            subjects.timeline(Mode.LIVE, "op-x", "fr.interforces.unit.checked_in"),
            b"{}",
            headers={"Nats-Msg-Id": "e-1"},
        )
        assert again.duplicate
        assert again.seq == ack.seq
        with pytest.raises(APIError):
            await js.purge_stream(name)
        with pytest.raises(APIError):
            await js.delete_msg(name, ack.seq)
    finally:
        await nc.close()


async def test_database_fixture_gives_an_empty_database(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables == 0
    finally:
        await conn.close()


def test_a_port_taken_before_the_server_binds_it_is_chosen_again(tmp_path: Path) -> None:
    # given a free port that another process takes before the server starts
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    server = EmbeddedNats(tmp_path / "nats")
    server.port = squatter.getsockname()[1]
    try:
        # when the server starts, then it binds another port and answers there
        url = server.start()
        assert url != f"nats://127.0.0.1:{squatter.getsockname()[1]}"
        assert server.healthy()
    finally:
        server.stop()
        squatter.close()
