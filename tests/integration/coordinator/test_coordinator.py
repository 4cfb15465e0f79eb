"""The coordinator on a real nats-server: every proposal ends as exactly one timeline record,
accepted events reach exactly their entitled feeds (redacted), refusals reach only the crisis
cell and the proposer, and a restart neither loses nor duplicates anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from faststream import TestApp
from nats.aio.client import Client

from contracts import subjects
from contracts.charter.loader import load_charter
from contracts.cloudevents import from_structured
from contracts.events.violations import PerimeterViolated
from contracts.routing import DELIVERIES_HEADER, MSG_ID_HEADER, PROPOSAL_HEADER
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from integration.jetstream import count, read_all, wait_for
from services.coordinator.app import build_app
from services.coordinator.handlers import Pipeline
from services.coordinator.perimeter.compiled import compile_charter
from services.coordinator.perimeter.dry_run import decide_lines
from services.coordinator.settings import CoordinatorSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CHARTER = ROOT / "infra/charters/fete-musique-presquile.yaml"
SAMPLES = ROOT / "simulations/samples/fete-musique-proposals.jsonl"
TIMELINE = subjects.stream_name(Mode.LIVE, StreamRole.TIMELINE)
FEEDS = subjects.stream_name(Mode.LIVE, StreamRole.FEEDS)
PROPOSALS = subjects.stream_name(Mode.LIVE, StreamRole.PROPOSALS)


def settings_for(url: str) -> CoordinatorSettings:
    return CoordinatorSettings(
        nats_url=url,
        charters=(CHARTER,),
        coordinator_modes=(Mode.LIVE,),
        coordinator_batch_size=8,
        coordinator_batch_timeout_s=0.05,
    )


def sample_events() -> list[dict[str, Any]]:
    """The sample night's live proposals (not its broken, spoofed or exercise lines: an
    exercise proposal travels on the exercise streams, which this coordinator does not serve)."""
    events = []
    for line in SAMPLES.read_text().splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if "specversion" in document and document["mode"] == "live":
            events.append(document)
    return events


async def propose(nc: Client, event: dict[str, Any]) -> None:
    subject = subjects.proposal(
        Mode(event["mode"]), event["operation"], Agency(event["agency"]), event["type"]
    )
    await nc.jetstream().publish(
        subject, json.dumps(event).encode(), headers={MSG_ID_HEADER: event["id"]}
    )


class Running:
    """A coordinator app started with its whole lifecycle (hooks included)."""

    def __init__(self, url: str) -> None:
        self.app, self.pipeline = build_app(settings_for(url))
        self._test_app = TestApp(self.app)

    async def start(self) -> Pipeline:
        await self._test_app.__aenter__()
        return self.pipeline

    async def stop(self) -> None:
        await self._test_app.__aexit__(None, None, None)


async def start(url: str) -> tuple[Running, Pipeline]:
    running = Running(url)
    return running, await running.start()


async def test_each_proposal_becomes_one_record_and_exactly_its_feeds(
    nats_url: str, client: Client
) -> None:
    # given the festival's sample proposals, and what the engine alone decides for them
    events = sample_events()
    expected = {
        row["id"]: row
        for row in decide_lines(
            (json.dumps(e) for e in events), compile_charter(load_charter(CHARTER))
        )
    }
    app, pipeline = await start(nats_url)
    try:
        # when agencies publish them (one twice: a retry)
        for event in events:
            await propose(client, event)
        await propose(client, events[0])

        # then each ends as exactly one timeline record
        async def decided() -> bool:
            return await count(client, TIMELINE) >= len(events)

        await wait_for(decided)
        await wait_for(lambda: _settled(client, pipeline))
    finally:
        await app.stop()
    records = await read_all(client, TIMELINE)
    assert len(records) == len(events)
    by_proposal = {m.headers[PROPOSAL_HEADER]: m for m in records if m.headers}
    assert set(by_proposal) == {e["id"] for e in events}

    feeds = await read_all(client, FEEDS)
    copies: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for msg in feeds:
        envelope = from_structured(msg.data)
        recipient = msg.subject.split(".")[4]
        copies.setdefault(envelope.id, []).append((recipient, envelope.model_dump(mode="json")))
        assert envelope.sequence is not None

    for proposal_id, msg in by_proposal.items():
        record = from_structured(msg.data)
        row = expected[proposal_id]
        got = sorted(r for r, _ in copies.get(record.id, []))
        if row["outcome"] == "accepted":
            # accepted: the event itself, to exactly the recipients the engine named
            assert record.id == proposal_id
            assert got == sorted(r["recipient"] for r in row["recipients"])
            for recipient, copy in copies[record.id]:
                wanted = next(r for r in row["recipients"] if r["recipient"] == recipient)
                for removed in wanted["removed"]:
                    default = (
                        type(record.data)
                        .model_fields[removed]
                        .get_default(call_default_factory=True)
                    )
                    assert copy["data"].get(removed) == default
        else:
            # refused: a violation with the engine's reasons, to crisis cell and proposer only
            assert isinstance(record.data, PerimeterViolated)
            assert {r.code.value for r in record.data.reasons} == {
                r["code"] for r in row["reasons"]
            }
            assert got == sorted({"crisis_cell", row["agency"]})
        assert json.loads(msg.headers[DELIVERIES_HEADER]) is not None  # type: ignore[index]


async def _settled(nc: Client, pipeline: Pipeline) -> bool:
    info = await nc.jetstream().consumer_info(PROPOSALS, "coordinator-live")
    return bool(info.num_ack_pending == 0 and info.num_pending == 0)


async def test_unreadable_and_unknown_operation_proposals_are_recorded_refusals(
    nats_url: str, client: Client
) -> None:
    # given a running coordinator
    app, pipeline = await start(nats_url)
    try:
        js = client.jetstream()
        # when garbage, an oversized body and an unknown operation are proposed
        subject = subjects.proposal(
            Mode.LIVE, "fete-musique-2026-lyon-presquile", Agency.MEDIATION,
            "fr.interforces.help.requested",
        )  # fmt: skip
        await js.publish(subject, b"{not json", headers={MSG_ID_HEADER: "garbage-1"})
        await js.publish(subject, b"x" * 70_000, headers={MSG_ID_HEADER: "huge-1"})
        event = sample_events()[0] | {"operation": "no-such-operation", "id": "lost-1"}
        await propose(client, event)

        async def three() -> bool:
            return await count(client, TIMELINE) >= 3

        await wait_for(three)
        await wait_for(lambda: _settled(client, pipeline))
    finally:
        await app.stop()
    # then each is one violation with a stable reason code, and the loop carried on
    codes = {}
    for msg in await read_all(client, TIMELINE):
        record = from_structured(msg.data)
        assert isinstance(record.data, PerimeterViolated)
        codes[record.data.proposal_id] = {r.code.value for r in record.data.reasons}
    assert codes == {
        "garbage-1": {"malformed"},
        "huge-1": {"payload_too_large"},
        "lost-1": {"wrong_operation"},
    }


async def test_a_restarted_coordinator_resumes_without_loss_or_duplicate(
    nats_url: str, client: Client
) -> None:
    # given a coordinator that decided half the proposals, then stopped
    events = sample_events()
    half = len(events) // 2
    app, pipeline = await start(nats_url)
    for event in events[:half]:
        await propose(client, event)

    async def first_half() -> bool:
        return await count(client, TIMELINE) >= half

    await wait_for(first_half)
    await wait_for(lambda: _settled(client, pipeline))
    await app.stop()
    feeds_before = await count(client, FEEDS)
    assert feeds_before > 0

    # when the rest arrives while it is down, one proposal is re-sent, and it restarts
    for event in events[half:]:
        await propose(client, event)
    await client.jetstream().publish(
        subjects.proposal(
            Mode(events[0]["mode"]), events[0]["operation"], Agency(events[0]["agency"]),
            events[0]["type"],
        ),
        json.dumps(events[0]).encode(),
        headers={MSG_ID_HEADER: events[0]["id"] + "-resent-beyond-dedup"},
    )  # fmt: skip
    app, pipeline = await start(nats_url)
    try:

        async def all_decided() -> bool:
            return await count(client, TIMELINE) >= len(events)

        await wait_for(all_decided)
        await wait_for(lambda: _settled(client, pipeline))
    finally:
        await app.stop()

    # then the restarted coordinator folded the timeline first, every proposal has one
    # record, and the re-sent copy of an already decided proposal appended nothing new
    assert pipeline.counters.restored == half
    records = await read_all(client, TIMELINE)
    proposal_ids = [m.headers[PROPOSAL_HEADER] for m in records if m.headers]
    assert len(proposal_ids) == len(set(proposal_ids))
    assert set(proposal_ids) >= {e["id"] for e in events}
