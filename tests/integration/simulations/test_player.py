"""The whole evening played at high speed against stand-in agency services on a real
nats-server: every report answered (some after a retry), every desk proposal stored,
every receipt handed, and the play ends in bounded time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nats.aio.client import Client

from contracts import subjects
from contracts.charter import load_charter
from contracts.credentials import ensure_unit_keys
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from simulations.festival import SimClock, Via, build_evening
from simulations.festival.player import PlayProgress, expected_receipts, play
from simulations.field import RetryPolicy

from .standin import StandIn

pytestmark = pytest.mark.integration

CHARTER = Path(__file__).resolve().parents[3] / "infra/charters/fete-musique-presquile.yaml"
PROPOSALS = subjects.stream_name(Mode.LIVE, StreamRole.PROPOSALS)


async def test_the_evening_plays_to_its_end_and_every_report_is_answered(
    client: Client, tmp_path: Path
) -> None:
    # given the evening, unit keys, and stand-in services that stay silent the first time
    # they see one report in forty (as if they had crashed before answering)
    evening = build_evening(load_charter(CHARTER), 5, label="it-play")
    ensure_unit_keys(tmp_path)
    agencies = sorted({agency for agency, _ in evening.units()})
    standin = StandIn(
        client,
        Mode.LIVE,
        agencies,
        tmp_path,
        silent_first=lambda report: sum(report.encode()) % 40 == 0,
    )
    await standin.start()
    progress: list[PlayProgress] = []
    unit_actions = [a for a in evening.actions if a.via is Via.UNIT]
    desk_actions = [a for a in evening.actions if a.via is Via.DESK]
    # when it is played a million times faster than real time
    try:
        result = await asyncio.wait_for(
            play(
                evening,
                client,
                client.jetstream(),
                tmp_path,
                SimClock(evening.start, 1_000_000),
                progress.append,
                retry=RetryPolicy(attempts=4, timeout_s=0.5, backoff_s=0.05),
                settle_s=1.0,
            ),
            timeout=120,
        )
    finally:
        await standin.stop()
    # then every report was answered `proposed`, those dropped once after a retry
    assert result.actions == len(evening.actions) == len(progress)
    assert result.reports_sent == result.proposed == len(unit_actions)
    assert result.refused == {}
    assert result.undelivered == result.unreadable == 0
    dropped = sum(1 for a in unit_actions if sum(a.key.encode()) % 40 == 0)
    assert dropped > 0
    assert result.retries == dropped
    assert {r.report for r in standin.reports} == {a.key for a in unit_actions}
    # every desk proposal is stored once, every receipt reached its person
    assert result.desk_published == len(desk_actions)
    assert result.desk_failed == result.desk_duplicates == 0
    assert (await client.jetstream().stream_info(PROPOSALS)).state.messages == len(desk_actions)
    assert result.receipts == result.receipts_expected == expected_receipts(evening)
    # the deliberate refusals were sent (the coordinator, absent here, would refuse them)
    assert result.deliberate == len(evening.refusals())
    # nobody dispatched anything here: the play waited for dispatches, but boundedly
    assert result.dispatches == 0 < result.dispatches_expected
    assert progress[-1].done == len(evening.actions)
