"""The coordinator's shell: fold the timeline at start, then decide batches of proposals and
publish what they owe, acknowledging a proposal only once its outputs are acknowledged.

Order of a batch: decide every proposal in order (the situation advances), append the
records to the timeline with asynchronous publishes (bounded window, `Nats-Msg-Id` = record
id, so a redelivered proposal cannot append twice), wait for their acknowledgements, then
publish each recipient's copy (sequence set) the same way. Any failure raises: the batch is
redelivered, the state is folded again from the timeline before the next batch, and
proposals already on the timeline only get their copies re-sent (deduplicated too).

A proposal JetStream gave up on (its deliveries all failed) is recorded as a dead letter
(`record_exhausted`), through the same append and fan-out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Tracer

from contracts import subjects
from contracts.cloudevents import from_structured, to_structured
from contracts.envelope import Envelope
from contracts.errors import EnvelopeError
from contracts.routing import (
    CLOUDEVENTS_JSON,
    CONTENT_TYPE_HEADER,
    DELIVERIES_HEADER,
    DIGEST_HEADER,
    MSG_ID_HEADER,
    PROPOSAL_HEADER,
    RecordDelivery,
    decode_deliveries,
    encode_deliveries,
    feed_msg_id,
    mode_headers,
)
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from services.coordinator.dead_letters import dead_letter
from services.coordinator.domain import (
    Coordinator,
    Incoming,
    Outcome,
    feed_copy,
    feed_subject,
    proposal_digest,
    proposal_id_of,
)
from services.coordinator.publisher import AckGroup, JetStreamPublisher
from services.runtime.consumer import Exhausted

log = structlog.get_logger("interforces.coordinator")


@dataclass
class Counters:
    """What the coordinator has done since it started (health details)."""

    accepted: int = 0
    rejected: int = 0
    redelivered: int = 0
    restored: int = 0
    batches: int = 0
    dead_letters: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counters."""
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "redelivered": self.redelivered,
            "restored": self.restored,
            "batches": self.batches,
            "dead_letters": self.dead_letters,
            "rejections_by_reason": dict(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class _Copies:
    """An appended record, its routing and trace headers: the copies it owes."""

    record: Envelope
    deliveries: tuple[RecordDelivery, ...]
    trace_headers: dict[str, str]
    sequence: int


@dataclass(frozen=True, slots=True)
class _Pending:
    """An outcome whose record is being appended, with its trace headers."""

    outcome: Outcome
    headers: dict[str, str]


class Pipeline:
    """Decides batches of proposals and publishes their outputs."""

    def __init__(
        self,
        coordinator: Coordinator,
        *,
        publish_timeout_s: float = 10.0,
        publish_window: int = 2048,
        tracer: Tracer | None = None,
    ) -> None:
        self.coordinator = coordinator
        self.publish_timeout_s = publish_timeout_s
        self.publish_window = publish_window
        self._out: JetStreamPublisher | None = None
        self.tracer = tracer or trace.get_tracer("interforces.coordinator")
        self.counters = Counters()
        self._stale: set[Mode] = set()

    # --- start and recovery ----------------------------------------------------------------

    def mark_stale(self, mode: Mode) -> None:
        """Fold the mode's timeline again before its next batch."""
        self._stale.add(mode)

    async def restore(self, js: JetStreamContext, mode: Mode) -> int:
        """Fold the mode's whole timeline into the coordinator's state; return records read."""
        self.coordinator.reset(mode)
        stream = subjects.stream_name(mode, StreamRole.TIMELINE)
        last = (await js.stream_info(stream)).state.last_seq
        if last == 0:
            return 0
        sub = await js.pull_subscribe(
            subjects.timeline_of(mode),
            stream=stream,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=30.0,
            ),
        )
        read = 0
        try:
            seq = 0
            while seq < last:
                for msg in await sub.fetch(1000, timeout=5.0):
                    seq = msg.metadata.sequence.stream
                    read += 1
                    self._fold(mode, msg.headers or {}, msg.data, seq)
        finally:
            await sub.unsubscribe()
        self.counters.restored += read
        log.info("timeline folded", mode=mode.value, records=read, last_sequence=last)
        return read

    def _fold(self, mode: Mode, headers: dict[str, str], body: bytes, seq: int) -> None:
        try:
            record = from_structured(body)
        except EnvelopeError as exc:  # only the coordinator writes here: should never happen
            log.error("unreadable timeline record", sequence=seq, reason=exc.code)
            return
        self.coordinator.apply(record)
        proposal_id = headers.get(PROPOSAL_HEADER, record.id)
        self.coordinator.remember(mode, proposal_id, seq, headers.get(DIGEST_HEADER))

    # --- a batch ---------------------------------------------------------------------------

    async def handle(self, js: JetStreamContext, mode: Mode, messages: Sequence[Msg]) -> None:
        """Decide and publish a batch; return normally only once every output is acked."""
        if mode in self._stale:
            await self.restore(js, mode)
            self._stale.discard(mode)
        try:
            await self._handle(js, mode, messages)
        except BaseException:
            # Decisions of this batch may be in the state without their records on the
            # timeline: fold the timeline again before deciding anything else.
            self._stale.add(mode)
            raise
        self.counters.batches += 1

    async def _handle(self, js: JetStreamContext, mode: Mode, messages: Sequence[Msg]) -> None:
        pending: list[_Pending] = []
        resend: list[int] = []
        seen: set[tuple[str, str]] = set()
        for msg in messages:
            incoming = Incoming(
                subject=msg.subject,
                headers=msg.headers or {},
                body=msg.data,
                received_at=msg.metadata.timestamp or datetime.now(UTC),
            )
            decided = self._already(mode, incoming, seen)
            if decided is not None:
                if decided > 0:
                    resend.append(decided)
                continue
            pending.append(self._decide(mode, incoming))
        appended = await self._append(js, pending)
        copies = [
            _Copies(p.outcome.record, p.outcome.deliveries, p.headers, seq) for p, seq in appended
        ]
        for seq in resend:
            copies.append(await self._stored(js, mode, seq))
        await self._fan_out(js, copies)
        for p, seq in appended:
            outcome = p.outcome
            self.coordinator.remember(mode, outcome.proposal_id, seq, outcome.digest)
            self._count(outcome)

    def _already(self, mode: Mode, incoming: Incoming, seen: set[tuple[str, str]]) -> int | None:
        """Timeline sequence of this very proposal decided before (0: earlier in this batch);
        None for a proposal to decide (another content under a known id is one)."""
        proposal_id = proposal_id_of(incoming)
        digest = proposal_digest(incoming)
        if (proposal_id, digest) in seen:
            return 0
        seen.add((proposal_id, digest))
        known = self.coordinator.recorded(mode, proposal_id)
        if known is None or not known.same_proposal(digest):
            return None
        if known.sequence:
            self.counters.redelivered += 1
        return known.sequence

    def _decide(self, mode: Mode, incoming: Incoming) -> _Pending:
        context = propagate.extract(dict(incoming.headers))
        with self.tracer.start_as_current_span(
            "coordinator decide", context=context, kind=SpanKind.CONSUMER
        ) as span:
            outcome = self.coordinator.decide(mode, incoming)
            record = outcome.record
            span.set_attributes(
                {
                    "interforces.event_id": record.id,
                    "interforces.operation": record.operation,
                    "interforces.agency": record.agency.value,
                    "interforces.accepted": outcome.accepted,
                }
            )
            headers: dict[str, str] = {}
            propagate.inject(headers)
            # Every acceptance is on the timeline already: logging each one at info would cost
            # the hot path thousands of lines a second; refusals are worth an operator's eye.
            emit = log.debug if outcome.accepted else log.info
            emit(
                "proposal accepted" if outcome.accepted else "proposal refused",
                operation=record.operation,
                agency=record.agency.value,
                event_id=record.id,
                proposal_id=outcome.proposal_id,
                type=record.type,
                reasons=[r.code.value for r in outcome.reasons],
            )
        return _Pending(outcome, headers)

    async def record_exhausted(
        self, js: JetStreamContext, mode: Mode, exhausted: Exhausted
    ) -> None:
        """Record a proposal JetStream gave up on as a dead letter; raise if it is not
        appended and sent (the caller tries again: the record's id keeps it single, and a
        repeated advisory only re-sends its copies)."""
        outcome = dead_letter(mode, exhausted)
        [(_, seq)] = await self._append(js, [_Pending(outcome, {})])
        await self._fan_out(js, [_Copies(outcome.record, outcome.deliveries, {}, seq)])
        known = self.coordinator.recorded(mode, outcome.proposal_id)
        if known is not None and known.sequence == seq:
            self.counters.redelivered += 1
            return
        self.coordinator.remember(mode, outcome.proposal_id, seq, outcome.digest)
        self.counters.dead_letters += 1
        self._count(outcome)
        log.warning(
            "proposal dead-lettered",
            operation=outcome.record.operation,
            agency=outcome.record.agency.value,
            event_id=outcome.record.id,
            proposal_id=outcome.proposal_id,
            stream=exhausted.stream,
            sequence=exhausted.sequence,
            deliveries=exhausted.deliveries,
        )

    def _count(self, outcome: Outcome) -> None:
        if outcome.accepted:
            self.counters.accepted += 1
        else:
            self.counters.rejected += 1
            self.counters.reasons.update(r.code.value for r in outcome.reasons)

    # --- publishing ------------------------------------------------------------------------

    def _publisher(self, js: JetStreamContext) -> JetStreamPublisher:
        """The publisher on the consumer's connection (made on first use)."""
        nc = js._nc  # the JetStream context's own connection (nats-py keeps it there)
        if self._out is None or self._out.nc is not nc:
            self._out = JetStreamPublisher(
                nc, window=self.publish_window, timeout_s=self.publish_timeout_s
            )
        return self._out

    async def _append(
        self, js: JetStreamContext, pending: list[_Pending]
    ) -> list[tuple[_Pending, int]]:
        out = self._publisher(js)
        with out.group() as group:
            return list(zip(pending, await self._append_in(out, group, pending), strict=True))

    async def _append_in(
        self, out: JetStreamPublisher, group: AckGroup, pending: list[_Pending]
    ) -> list[int]:
        for item in pending:
            outcome = item.outcome
            headers = {
                **item.headers,
                MSG_ID_HEADER: outcome.record.id,
                PROPOSAL_HEADER: outcome.proposal_id,
                DELIVERIES_HEADER: encode_deliveries(outcome.deliveries),
                CONTENT_TYPE_HEADER: CLOUDEVENTS_JSON,
                **mode_headers(outcome.record.mode),
            }
            if outcome.digest is not None:
                headers[DIGEST_HEADER] = outcome.digest
            stream = subjects.stream_name(outcome.record.mode, StreamRole.TIMELINE)
            # Publishes leave in order on one connection: the timeline keeps decision order
            # while acknowledgements arrive in a window.
            body = to_structured(outcome.record)
            await out.publish(group, outcome.timeline_subject, body, headers, stream)
        return await out.wait(group)

    async def _stored(self, js: JetStreamContext, mode: Mode, seq: int) -> _Copies:
        """A record already on the timeline, with its routing, to re-send its copies."""
        raw = await js.get_msg(subjects.stream_name(mode, StreamRole.TIMELINE), seq)
        headers = dict(raw.headers or {})
        record = from_structured(raw.data or b"")
        deliveries = decode_deliveries(headers.get(DELIVERIES_HEADER, "[]"))
        trace_headers = {k: v for k, v in headers.items() if k in ("traceparent", "tracestate")}
        return _Copies(record, deliveries, trace_headers, seq)

    async def _fan_out(
        self,
        js: JetStreamContext,
        copies: Sequence[_Copies],
    ) -> None:
        out = self._publisher(js)
        with out.group() as group:
            await self._fan_out_in(out, group, copies)

    async def _fan_out_in(
        self, out: JetStreamPublisher, group: AckGroup, copies: Sequence[_Copies]
    ) -> None:
        for item in copies:
            record = item.record
            numbered = record.model_copy(update={"sequence": item.sequence})
            stream = subjects.stream_name(record.mode, StreamRole.FEEDS)
            trace_headers = item.trace_headers
            marks = mode_headers(record.mode)
            # Recipients owed the same redaction get the same bytes: rendered once.
            bodies: dict[tuple[tuple[str, ...], tuple[tuple[str, int], ...]], bytes] = {}
            for delivery in item.deliveries:
                key = (delivery.remove, delivery.coarsen)
                body = bodies.get(key)
                if body is None:
                    body = bodies[key] = to_structured(feed_copy(numbered, delivery))
                headers = {
                    **trace_headers,
                    MSG_ID_HEADER: feed_msg_id(record.id, delivery.to),
                    CONTENT_TYPE_HEADER: CLOUDEVENTS_JSON,
                    **marks,
                }
                await out.publish(group, feed_subject(record, delivery), body, headers, stream)
        await out.wait(group)
