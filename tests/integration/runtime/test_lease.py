"""One active instance among several: the lease in the JetStream key-value bucket, against
a real nats-server."""

from __future__ import annotations

import asyncio

import nats

from infra.streams import LEASE_BUCKET, LEASE_TTL_S
from integration.jetstream import wait_for
from services.runtime.lease import Lease


class Instance:
    """A competitor that records when it became active and when it stopped being so."""

    def __init__(self, name: str) -> None:
        self.events: list[str] = []
        self.lease = Lease(
            "coordinator-live", holder=name, on_acquired=self._up, on_lost=self._down
        )

    async def _up(self) -> None:
        self.events.append("acquired")

    async def _down(self) -> None:
        self.events.append("lost")


async def test_one_instance_is_active_and_a_clean_stop_hands_over_at_once(
    nats_url: str,
) -> None:
    nc = await nats.connect(nats_url)
    first, second = Instance("a"), Instance("b")
    try:
        first.lease.start(nc.jetstream())
        await wait_for(lambda: _true(first.lease.held), timeout_s=5)
        second.lease.start(nc.jetstream())
        await asyncio.sleep(LEASE_TTL_S / 2)
        assert not second.lease.held  # the first renews: the second stands by
        await first.lease.stop()
        assert first.events == ["acquired", "lost"]
        await wait_for(lambda: _true(second.lease.held), timeout_s=LEASE_TTL_S / 2 + 1)
        assert second.events == ["acquired"]
    finally:
        await second.lease.stop()
        await nc.close()


async def test_a_dead_holders_lease_expires_and_a_standby_takes_over(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    kv = await nc.jetstream().key_value(LEASE_BUCKET)
    await kv.create("coordinator-live", b"dead:1")  # a holder that will never renew
    standby = Instance("b")
    try:
        standby.lease.start(nc.jetstream())
        await asyncio.sleep(1.0)
        assert not standby.lease.held
        await wait_for(lambda: _true(standby.lease.held), timeout_s=LEASE_TTL_S * 3)
        assert (await kv.get("coordinator-live")).value == b"b"
    finally:
        await standby.lease.stop()
        await nc.close()


async def test_a_holder_that_lost_its_lease_stops(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    kv = await nc.jetstream().key_value(LEASE_BUCKET)
    holder = Instance("a")
    try:
        holder.lease.start(nc.jetstream())
        await wait_for(lambda: _true(holder.lease.held), timeout_s=5)
        await kv.put("coordinator-live", b"usurper")  # another revision: not ours any more
        await wait_for(lambda: _true(not holder.lease.held), timeout_s=LEASE_TTL_S)
        assert holder.events == ["acquired", "lost"]
    finally:
        await holder.lease.stop()
        await nc.close()


async def _true(value: bool) -> bool:
    return value
