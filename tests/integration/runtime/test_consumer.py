"""The ordered batch consumer on a real nats-server: batches arrive whole and in stream order,
a failed batch comes back before anything later, and no failure stops the loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig

from interforces.stack.embedded import EmbeddedNats
from services.runtime.consumer import BatchConsumer, BatchHandler

pytestmark = pytest.mark.integration

STREAM = "PROBE"


@pytest.fixture
async def client(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    nc = await nats.connect(nats_server.url)
    await nc.jetstream().add_stream(name=STREAM, subjects=["probe.>"])
    yield nc
    await nc.close()


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


def consumer_of(handler: BatchHandler, batch_size: int = 7) -> BatchConsumer:
    return BatchConsumer(
        name="probe",
        stream=STREAM,
        subject="probe.>",
        config=ConsumerConfig(ack_wait=30, max_ack_pending=batch_size),
        handler=handler,
        batch_size=batch_size,
        batch_timeout_s=0.05,
    )


async def test_failed_batches_come_back_first_and_the_loop_survives(client: Client) -> None:
    # given 100 messages and a handler that fails on every third batch it sees
    js = client.jetstream()
    for i in range(100):
        await js.publish("probe.x", str(i).encode())
    seen: list[int] = []
    calls = 0

    async def handler(_: JetStreamContext, messages: Sequence[Msg]) -> None:
        nonlocal calls
        calls += 1
        if calls % 3 == 0:
            raise (RuntimeError if calls % 2 else ValueError)("a bug of ours")
        seen.extend(m.metadata.sequence.stream for m in messages)

    consumer = consumer_of(handler)
    # when the consumer runs
    consumer.start(js)
    try:
        await until(lambda: len(seen) >= 100)
    finally:
        await consumer.stop()
    # then every message was handled once, in stream order, despite the failures
    assert seen == list(range(1, 101))
    assert consumer.failures >= 5
    info = await js.consumer_info(STREAM, "probe")
    assert info.num_ack_pending == 0


async def test_stop_returns_promptly_and_leaves_nothing_pending(client: Client) -> None:
    js = client.jetstream()

    async def handler(_: JetStreamContext, messages: Sequence[Msg]) -> None:
        return None

    consumer = consumer_of(handler)
    consumer.start(js)
    await js.publish("probe.x", b"1")
    await until(lambda: consumer.batches == 1)
    started = time.monotonic()
    await consumer.stop()
    assert time.monotonic() - started < 5.0
