"""The exact accounting of a fault scenario: every proposal sent must end as exactly one
timeline record (accepted or rejected), on the stream and in the crisis cell's PostgreSQL.

A proposal's records are found by the id of the proposal they answer (`Ifc-Proposal` on the
stream, `proposal_id` in `timeline_events`). For each place:
`lost = sent − distinct recorded` and `duplicated = records − distinct`; the accounting keeps
the worse of the two places, so a record on the stream that never reached PostgreSQL counts
as lost, and a proposal recorded twice anywhere counts as duplicated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

import asyncpg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts import subjects
from contracts.events.violations import PerimeterViolated
from contracts.reasons import ReasonCode
from contracts.routing import PROPOSAL_HEADER
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode

#: Type of a refusal's record.
VIOLATION = str(PerimeterViolated.model_fields["type"].default)
#: Messages per fetch when reading the timeline.
PAGE = 1000


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one place holds: records per proposal id, and the ids with an accepted record."""

    counts: Counter[str]
    accepted: frozenset[str]

    @property
    def records(self) -> int:
        """Every record."""
        return sum(self.counts.values())


async def read_timeline(js: JetStreamContext, mode: Mode) -> Recorded:
    """The mode's timeline stream as it is now (headers only, through an ephemeral
    consumer the server drops after use)."""
    stream = subjects.stream_name(mode, StreamRole.TIMELINE)
    last = (await js.stream_info(stream)).state.last_seq
    counts: Counter[str] = Counter()
    accepted: set[str] = set()
    if last == 0:
        return Recorded(counts, frozenset())
    refusal = "." + subjects.type_tokens(VIOLATION)
    sub = await js.pull_subscribe(
        subjects.timeline_of(mode),
        stream=stream,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            headers_only=True,
            inactive_threshold=30.0,
            mem_storage=True,
        ),
    )
    try:
        seq = 0
        while seq < last:
            for msg in await sub.fetch(PAGE, timeout=10.0):
                seq = msg.metadata.sequence.stream
                proposal = (msg.headers or {}).get(PROPOSAL_HEADER, "")
                counts[proposal] += 1
                if not msg.subject.endswith(refusal):
                    accepted.add(proposal)
    finally:
        await sub.unsubscribe()
    return Recorded(counts, frozenset(accepted))


async def read_projection(database_url: str, mode: Mode) -> tuple[Recorded, int]:
    """The mode's records in PostgreSQL, and how many of them are dead letters."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT proposal_id, type FROM timeline_events WHERE mode = $1", mode.value
        )
        dead = await conn.fetchval(
            "SELECT count(*) FROM rejections WHERE mode = $1 AND $2 = ANY(reason_codes)",
            mode.value,
            ReasonCode.DEAD_LETTER.value,
        )
    finally:
        await conn.close()
    counts: Counter[str] = Counter(str(r["proposal_id"] or "") for r in rows)
    accepted = frozenset(str(r["proposal_id"]) for r in rows if r["type"] != VIOLATION)
    return Recorded(counts, accepted), int(dead)


@dataclass(frozen=True, slots=True)
class Accounting:
    """Sent, how they ended, and what went wrong (see the module's docstring).

    `unexpected` counts records answering no proposal that was sent."""

    sent: int
    accepted: int
    rejected: int
    lost: int
    duplicated: int
    unexpected: int
    stream_records: int
    projected_records: int
    dead_letters: int

    @property
    def exact(self) -> bool:
        """Every proposal sent is exactly one record, and nothing else is recorded."""
        return self.lost == 0 and self.duplicated == 0 and self.unexpected == 0


def account(
    sent: Collection[str], stream: Recorded, projection: Recorded, dead_letters: int = 0
) -> Accounting:
    """Compare what was sent with what the stream and PostgreSQL hold."""
    expected = set(sent)
    everywhere = {p for p in expected if stream.counts[p] and projection.counts[p]}
    duplicated = sum(max(stream.counts[p], projection.counts[p]) - 1 for p in everywhere)
    recorded = set(stream.counts) | set(projection.counts)
    accepted = {p for p in everywhere if p in stream.accepted and p in projection.accepted}
    return Accounting(
        sent=len(expected),
        accepted=len(accepted),
        rejected=len(everywhere) - len(accepted),
        lost=len(expected - everywhere),
        duplicated=duplicated,
        unexpected=len(recorded - expected),
        stream_records=stream.records,
        projected_records=projection.records,
        dead_letters=dead_letters,
    )
