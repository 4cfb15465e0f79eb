"""Traffic on the broker for the benchmark: preloading a stream, offering messages at a
paced rate, watching what reaches the crisis cell's feed, and the raw baselines — the same
messages through nats-py and JetStream with no validation and no policy."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts import subjects
from contracts.routing import MSG_ID_HEADER
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from infra.streams import Profile, stream_config
from simulations.bench.load import Message

#: The stream the raw coordinators republish to: the timeline's configuration, its own name.
RAW_STREAM: Final = "BENCH_RAW"
RAW_SUBJECT: Final = "bench.raw"
#: Publishes awaiting their acknowledgement before a publisher waits (as the coordinator).
WINDOW: Final = 2048
#: Messages per pull of the raw consumers (the coordinator's default batch).
BATCH: Final = 256


async def declare_raw_stream(js: JetStreamContext) -> None:
    """The raw coordinators' output stream, configured as the timeline is (file, dedup)."""
    timeline = stream_config(Mode.LIVE, StreamRole.TIMELINE, Profile.SINGLE)
    config = replace(
        timeline,
        name=RAW_STREAM,
        description="benchmark: raw republish",
        subjects=[f"{RAW_SUBJECT}.>"],
        deny_delete=False,
        deny_purge=False,
    )
    await js.add_stream(config)


async def publish_all(js: JetStreamContext, messages: Sequence[Message]) -> float:
    """Publish every message (acknowledged by JetStream, a bounded window in flight);
    messages per second."""
    started = time.perf_counter()
    pending: list[asyncio.Future[Any]] = []
    for message in messages:
        pending.append(
            await js.publish_async(message.subject, message.body, headers=dict(message.headers))
        )
        if len(pending) >= WINDOW:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return len(messages) / (time.perf_counter() - started)


async def stored(js: JetStreamContext, stream: str) -> int:
    """Messages a stream holds."""
    return int((await js.stream_info(stream)).state.messages)


async def drain_rate(
    js: JetStreamContext,
    stream: str,
    target: int,
    timeout_s: float,
    *,
    poll_s: float = 0.05,
    warm_up: float = 0.1,
) -> tuple[float, int]:
    """Watch `stream` fill up to `target` messages: (messages per second once the first
    `warm_up` share is in, to the last; messages seen). Stops at `timeout_s` with what it
    saw. When the whole target lands between two polls, the rate is measured from the start
    of the watch instead (a fast drain of a small target must not read as zero)."""
    deadline = time.monotonic() + timeout_s
    watched = time.perf_counter()
    first: tuple[float, int] | None = None
    count = 0
    while time.monotonic() < deadline:
        count = await stored(js, stream)
        now = time.perf_counter()
        if count and count >= target * warm_up and first is None:
            first = (now, count)
        if count >= target:
            break
        await asyncio.sleep(poll_s)
    if first is None:
        return 0.0, 0
    now = time.perf_counter()
    if count == first[1]:  # no poll saw it grow: count from the start of the watch
        first = (watched, 0)
    elapsed = now - first[0]
    return ((count - first[1]) / elapsed if elapsed > 0 else 0.0), count


# --- the raw baselines ---------------------------------------------------------------------

#: What a raw consumer does with one fetched batch before acknowledging it.
RawStep = Callable[[JetStreamContext, Sequence[Msg]], Awaitable[None]]


async def _consume(
    js: JetStreamContext, mode: Mode, durable: str, total: int, step: RawStep
) -> float:
    """Drain `total` proposals with a durable pull consumer, `step` on each batch, then an
    acknowledgement per message; messages per second."""
    stream = subjects.stream_name(mode, StreamRole.PROPOSALS)
    sub = await js.pull_subscribe(
        subjects.proposals_of(mode),
        durable=durable,
        stream=stream,
        config=ConsumerConfig(max_ack_pending=max(4 * BATCH, 1024), ack_wait=60.0),
    )
    done = 0
    started: float | None = None
    try:
        while done < total:
            try:
                batch = await sub.fetch(BATCH, timeout=5.0)
            except TimeoutError:
                break
            if started is None:
                started = time.perf_counter()
            await step(js, batch)
            for message in batch:
                await message.ack()
            done += len(batch)
    finally:
        await sub.unsubscribe()
    if started is None:
        return 0.0
    return done / (time.perf_counter() - started)


async def _nothing(js: JetStreamContext, batch: Sequence[Msg]) -> None:
    del js, batch


async def raw_pipeline(js: JetStreamContext, mode: Mode, total: int) -> float:
    """The ceiling: nats-py → JetStream → consumer, acknowledged, nothing else."""
    return await _consume(js, mode, "bench-raw-pipeline", total, _nothing)


def republisher(copies: int) -> RawStep:
    """Decode each message as JSON and republish its bytes `copies` times (the first as
    the record, the others as copies), acknowledged by JetStream, in one window."""

    async def step(js: JetStreamContext, batch: Sequence[Msg]) -> None:
        pending = []
        for message in batch:
            document = json.loads(message.data)
            event_id = str(document.get("id", ""))
            for copy in range(copies):
                pending.append(
                    await js.publish_async(
                        f"{RAW_SUBJECT}.{document.get('operation', 'x')}.{copy}",
                        message.data,
                        headers={MSG_ID_HEADER: f"{event_id}:{copy}"},
                    )
                )
        await asyncio.gather(*pending)

    return step


async def raw_coordinator(js: JetStreamContext, mode: Mode, total: int, copies: int = 1) -> float:
    """A raw nats-py coordinator: decodes and republishes (`copies` times), no validation,
    no policy."""
    return await _consume(js, mode, f"bench-raw-coordinator-{copies}", total, republisher(copies))


async def raw_ordered_read(js: JetStreamContext, stream: str, subject: str, total: int) -> float:
    """The raw ordered read of a stream's subject from its start (ephemeral, unacknowledged
    pull consumer, pages of 2000, nothing decoded); messages per second."""
    sub = await js.pull_subscribe(
        subject,
        stream=stream,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            mem_storage=True,
            inactive_threshold=60.0,
        ),
    )
    read = 0
    started = time.perf_counter()
    try:
        while read < total:
            try:
                read += len(await sub.fetch(2000, timeout=5.0))
            except TimeoutError:
                break
    finally:
        await sub.unsubscribe()
    return read / (time.perf_counter() - started)


# --- offered load and latency --------------------------------------------------------------


@dataclass
class FeedWatch:
    """Arrival time of each record's copy in the crisis cell's feed (core subscription), by
    record id."""

    arrivals: dict[str, float] = field(default_factory=dict)
    _sub: Subscription | None = None

    async def start(self, nc: Client, mode: Mode, operation: str) -> None:
        """Subscribe to the crisis cell's feed of the operation."""
        subject = subjects.feed_of(mode, Agency.CRISIS_CELL).replace("*", operation, 1)
        self._sub = await nc.subscribe(subject, cb=self._arrived)

    async def _arrived(self, msg: Msg) -> None:
        msg_id = (msg.headers or {}).get(MSG_ID_HEADER, "")
        record_id = msg_id.rsplit(":", 1)[0]
        self.arrivals.setdefault(record_id, time.perf_counter())

    async def stop(self) -> None:
        """Unsubscribe."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()


@dataclass(frozen=True, slots=True)
class Offered:
    """What was sent at a paced rate: when each message left, by the id its copy carries."""

    rate: float
    sent: dict[str, float]
    seconds: float
    failed: int = 0

    @property
    def achieved_rate(self) -> float:
        """Messages per second actually sent."""
        return len(self.sent) / self.seconds if self.seconds > 0 else 0.0


Send = Callable[[Message], Awaitable[None]]


async def offer(
    messages: Iterable[tuple[str, Message]], rate: float, send: Send, concurrency: int = 4096
) -> Offered:
    """Send (id, message) pairs at `rate` per second (message i at i / rate), each through
    `send` in its own task (at most `concurrency` in flight); returns the send times."""
    sent: dict[str, float] = {}
    failures = 0
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def one(message: Message) -> None:
        nonlocal failures
        try:
            await send(message)
        except (NatsError, TimeoutError):
            failures += 1
        finally:
            slots.release()

    started = time.perf_counter()
    for index, (key, message) in enumerate(messages):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0.001:
            await asyncio.sleep(delay)
        await slots.acquire()
        sent[key] = time.perf_counter()
        task = asyncio.create_task(one(message))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    seconds = time.perf_counter() - started
    if tasks:
        await asyncio.gather(*tasks)
    return Offered(rate, sent, seconds, failures)


@dataclass
class JetStreamSender:
    """Publishes proposals as agency services do, acknowledgements awaited in a window
    (`settle` waits for the last ones; refusals by JetStream are counted)."""

    js: JetStreamContext
    pending: list[asyncio.Future[Any]] = field(default_factory=list)
    failed: int = 0

    async def send(self, message: Message) -> None:
        """Publish one proposal."""
        self.pending.append(
            await self.js.publish_async(
                message.subject, message.body, headers=dict(message.headers)
            )
        )
        if len(self.pending) >= WINDOW:
            await self.settle()

    async def settle(self) -> None:
        """Wait for every acknowledgement outstanding."""
        pending, self.pending = self.pending, []
        results = await asyncio.gather(*pending, return_exceptions=True)
        self.failed += sum(isinstance(r, BaseException) for r in results)


def request_sender(nc: Client, timeout_s: float = 10.0) -> Send:
    """Send a unit report by request/reply and wait for the agency service's answer."""

    async def send(message: Message) -> None:
        await nc.request(message.subject, message.body, timeout=timeout_s)

    return send


async def wait_arrivals(
    watch: FeedWatch, wanted: set[str], timeout_s: float, idle_s: float = 5.0, poll_s: float = 0.05
) -> int:
    """Wait until every wanted id has arrived, or nothing arrived for `idle_s`, or
    `timeout_s`; how many arrived."""
    deadline = time.monotonic() + timeout_s
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if wanted <= watch.arrivals.keys():
            break
        now = time.monotonic()
        if len(watch.arrivals) != seen:
            seen, quiet_since = len(watch.arrivals), now
        elif now - quiet_since > idle_s:
            break
        await asyncio.sleep(poll_s)
    return len(wanted & watch.arrivals.keys())


def latencies(offered: Offered, watch: FeedWatch, ids: set[str] | None = None) -> list[float]:
    """Seconds from send to arrival, for each sent id that arrived."""
    keys = offered.sent.keys() if ids is None else ids
    return [
        watch.arrivals[k] - offered.sent[k]
        for k in keys
        if k in watch.arrivals and k in offered.sent
    ]
