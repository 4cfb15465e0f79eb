"""Helpers of the integration tests that read what JetStream holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float = 30.0) -> None:
    """Poll `check` until it holds, or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def read_all(nc: Client, stream: str) -> list[Msg]:
    """Every message a stream holds now, in order."""
    js = nc.jetstream()
    last = (await js.stream_info(stream)).state.last_seq
    if last == 0:
        return []
    sub = await js.pull_subscribe(
        ">",
        stream=stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
    )
    out: list[Msg] = []
    try:
        while not out or out[-1].metadata.sequence.stream < last:
            out.extend(await sub.fetch(500, timeout=5))
    finally:
        await sub.unsubscribe()
    return out


async def count(nc: Client, stream: str) -> int:
    """How many messages a stream holds."""
    return int((await nc.jetstream().stream_info(stream)).state.messages)
