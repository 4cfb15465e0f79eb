"""Poison messages and bad input on a real nats-server: a proposal whose handling always fails
holds no other back, ends, after its bounded deliveries, as exactly one dead-letter record
(once, however often JetStream's advisory is heard), and the coordinator keeps consuming;
every file of the bad-input corpus ends as one timeline record with its reason codes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from corpus import load_manifest
from faststream import TestApp
from nats.aio.client import Client
from nats.aio.msg import Msg
from unit.perimeter.builders import POINTS, envelope, payload

from contracts import subjects
from contracts.cloudevents import from_structured, to_structured
from contracts.envelope import Envelope
from contracts.events.violations import PerimeterViolated
from contracts.reasons import ReasonCode
from contracts.routing import MSG_ID_HEADER, PROPOSAL_HEADER
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from integration.jetstream import count, read_all, wait_for
from services.coordinator.app import build_app, durable_name
from services.coordinator.domain import Engine
from services.coordinator.handlers import Pipeline
from services.coordinator.perimeter.compiled import CompiledCharter
from services.coordinator.perimeter.decision import Decision, Proposal
from services.coordinator.perimeter.engine import decide
from services.coordinator.perimeter.situation import Situation
from services.coordinator.settings import CoordinatorSettings
from services.runtime.consumer import max_deliveries_subject

pytestmark = pytest.mark.integration

MANIFEST = load_manifest()
PROPOSALS = subjects.stream_name(Mode.LIVE, StreamRole.PROPOSALS)
TIMELINE = subjects.stream_name(Mode.LIVE, StreamRole.TIMELINE)
FEEDS = subjects.stream_name(Mode.LIVE, StreamRole.FEEDS)
CONSUMER = durable_name(Mode.LIVE)
MAX_DELIVER = 3
POISON = "poison-1"
WITNESS = "Témoin : Mme Jeanne Exemple, 06 12 34 56 78"


def settings_for(url: str) -> CoordinatorSettings:
    return CoordinatorSettings(
        nats_url=url,
        charters=(MANIFEST.charter_path,),
        coordinator_modes=(Mode.LIVE,),
        coordinator_batch_size=8,
        coordinator_batch_timeout_s=0.05,
        coordinator_max_deliver=MAX_DELIVER,
        coordinator_redelivery_delays_s=(0.05,),
        coordinator_max_proposal_bytes=MANIFEST.max_proposal_bytes,
    )


@asynccontextmanager
async def running(url: str, engine: Engine = decide) -> AsyncIterator[Pipeline]:
    """A coordinator app with its whole lifecycle (hooks included), while the block runs."""
    app, pipeline = build_app(settings_for(url), engine=engine)
    async with TestApp(app):
        yield pipeline


def failing_on(event_id: str) -> Engine:
    """The perimeter engine, with a bug that one proposal triggers on every delivery."""

    def engine(proposal: Proposal, compiled: CompiledCharter, situation: Situation) -> Decision:
        if proposal.envelope.id == event_id:
            raise RuntimeError("a bug this proposal triggers")
        return decide(proposal, compiled, situation)

    return engine


def report(event_id: str, description: str = "Vol à l'arraché") -> Envelope:
    data = payload(
        "incident.reported",
        incident=f"INC-{event_id}",
        position=POINTS["fest"],
        description=description,
    )
    return envelope(data, Agency.POLICE_MUNICIPALE, event_id=event_id)


async def propose(nc: Client, event: Envelope) -> int:
    """Publish a proposal as its agency service does; its stream sequence."""
    subject = subjects.proposal(event.mode, event.operation, event.agency, event.type)
    ack = await nc.jetstream().publish(
        subject, to_structured(event), headers={MSG_ID_HEADER: event.id}
    )
    return int(ack.seq)


async def settled(nc: Client) -> bool:
    info = await nc.jetstream().consumer_info(PROPOSALS, CONSUMER)
    return bool(info.num_ack_pending == 0 and info.num_pending == 0)


async def decided(nc: Client, records: int) -> None:
    """Wait until the timeline holds `records` records and no proposal is pending."""

    async def enough() -> bool:
        return await count(nc, TIMELINE) >= records

    await wait_for(enough)
    await wait_for(lambda: settled(nc))


def dead_letters(records: list[Msg]) -> list[tuple[Envelope, PerimeterViolated]]:
    """The dead-letter records among timeline messages, with their violation."""
    out = []
    for msg in records:
        record = from_structured(msg.data)
        violation = record.data
        if isinstance(violation, PerimeterViolated) and any(
            r.code is ReasonCode.DEAD_LETTER for r in violation.reasons
        ):
            out.append((record, violation))
    return out


async def test_a_poison_proposal_becomes_one_dead_letter_and_holds_nothing_back(
    nats_url: str, client: Client
) -> None:
    # given a coordinator whose engine fails on one proposal, every time
    async with running(nats_url, failing_on(POISON)) as pipeline:
        # when it comes among good proposals
        before = [f"good-{i}" for i in range(6)]
        for event_id in before[:3]:
            await propose(client, report(event_id))
        poison_seq = await propose(client, report(POISON, WITNESS))
        for event_id in before[3:]:
            await propose(client, report(event_id))

        # then every good one is decided, and the poison one becomes one dead letter
        await decided(client, len(before) + 1)
        assert pipeline.counters.dead_letters == 1

        # and the coordinator keeps consuming afterwards
        after = [f"late-{i}" for i in range(3)]
        for event_id in after:
            await propose(client, report(event_id))
        await decided(client, len(before) + 1 + len(after))

    records = await read_all(client, TIMELINE)
    assert len(records) == len(before) + 1 + len(after)
    accepted = [m.headers[PROPOSAL_HEADER] for m in records if m.headers]
    letters = dead_letters(records)
    assert sorted(set(accepted) - {POISON}) == sorted(before + after)
    assert len(accepted) == len(set(accepted))
    # the dead letter says where the message is and how often it was tried, not what it says
    [(letter, violation)] = letters
    assert violation.proposal_id == POISON
    message = violation.reasons[0].message
    assert f"{PROPOSALS}, position {poison_seq}" in message
    assert f"{MAX_DELIVER} remises" in message
    assert "Jeanne" not in to_structured(letter).decode()
    # and it went to the crisis cell and to the proposer, like any refusal
    copies = {
        msg.subject.split(".")[4]
        for msg in await read_all(client, FEEDS)
        if from_structured(msg.data).id == letter.id
    }
    assert copies == {Agency.CRISIS_CELL.value, Agency.POLICE_MUNICIPALE.value}


async def test_a_repeated_or_broken_advisory_records_nothing_twice(
    nats_url: str, client: Client
) -> None:
    # given a poison proposal already recorded as a dead letter
    async with running(nats_url, failing_on(POISON)) as pipeline:
        poison_seq = await propose(client, report(POISON))
        await decided(client, 1)
        assert pipeline.counters.dead_letters == 1

        # when the advisory is heard again, then an unreadable one, then one naming a
        # message the stream no longer holds
        advisory = max_deliveries_subject(PROPOSALS, CONSUMER)

        def about(sequence: int) -> bytes:
            body: dict[str, Any] = {
                "type": "io.nats.jetstream.advisory.v1.max_deliver",
                "stream": PROPOSALS,
                "consumer": CONSUMER,
                "stream_seq": sequence,
                "deliveries": MAX_DELIVER,
            }
            return json.dumps(body).encode()

        await client.publish(advisory, about(poison_seq))
        await client.publish(advisory, b"{not an advisory")
        await client.publish(advisory, about(poison_seq + 1000))

        async def heard() -> bool:  # in order: once the last is recorded, all were heard
            return pipeline.counters.dead_letters == 2

        await wait_for(heard)

        # then the coordinator still decides proposals
        await propose(client, report("good-after"))
        await decided(client, 3)

    assert pipeline.counters.redelivered == 1
    # and the timeline holds the poison's dead letter once, and one for the missing message,
    # recorded with what could be known of it
    records = await read_all(client, TIMELINE)
    assert len(records) == 3
    letters = dead_letters(records)
    assert [v.proposal_id for _, v in letters] == [POISON, f"{PROPOSALS}:{poison_seq + 1000}"]
    missing, violation = letters[1]
    assert missing.operation == "unknown"
    assert "message non relu" in violation.reasons[0].message


async def test_every_file_of_the_corpus_ends_as_one_record_with_its_reasons(
    nats_url: str, client: Client
) -> None:
    # given a running coordinator of the corpus's charter
    async with running(nats_url) as pipeline:
        # when every file of the corpus is proposed, in order, on the corpus's subject
        js = client.jetstream()
        for case in MANIFEST.cases:
            await js.publish(MANIFEST.subject, case.body, headers={MSG_ID_HEADER: case.msg_id})
        await decided(client, len(MANIFEST.cases))
        assert pipeline.counters.dead_letters == 0

    # then each ends as exactly one record, in order, accepted or with its reason codes
    records = await read_all(client, TIMELINE)
    assert len(records) == len(MANIFEST.cases)
    for case, msg in zip(MANIFEST.cases, records, strict=True):
        record = from_structured(msg.data)
        if case.accepted:
            document = json.loads(case.body)
            assert record.id == document["id"], case.file
            assert (
                record.data.model_dump(mode="json")["description"]
                == (document["data"]["description"])
            ), case.file
        else:
            assert isinstance(record.data, PerimeterViolated), case.file
            assert {r.code for r in record.data.reasons} == case.reasons, case.file
