"""Replays on a real NATS and PostgreSQL: a minute of an evening, stored as the projector
stores it, replayed into `ifc.replay.<session>.>` — every record of the window in order with
its subject and headers, at least as slowly as scheduled, paused and resumed without burst,
sought, stopped, several at once, through a caller's view, bounded in number, and never
landing in a stream. The `interforces replay` command runs one from the terminal."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import nats
import pytest
import typer
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import NoStreamResponseError
from typer.testing import CliRunner
from unit.timeline.builders import OPERATION, STATION, T0, event, record

from contracts import subjects
from contracts.cloudevents import from_structured
from contracts.envelope import Envelope
from contracts.redaction import copy_for
from contracts.routing import MSG_ID_HEADER, RecordDelivery
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from integration.jetstream import count, wait_for
from integration.timeline.conftest import publish
from interforces.commands.replay import replay as replay_command
from services.crisis_api.replay import (
    InvalidReplayError,
    ReplayLimitError,
    ReplayManager,
    ReplayNotFoundError,
    ReplayState,
    ReplayStateError,
    View,
)
from services.crisis_api.replay_models import SEQ_HEADER, SESSION_HEADER
from services.timeline import store
from services.timeline.domain import TimelineRecord, plan_batch
from services.timeline.migrations import migrate

pytestmark = pytest.mark.integration

MINUTE = timedelta(seconds=60)
#: Never early: how much sooner than due a message may arrive (clock granularity).
EPSILON_S = 0.01
#: Every record goes to the crisis cell and to private security, without its description.
CRISIS = RecordDelivery(to=Agency.CRISIS_CELL)
PRIVATE = RecordDelivery(to=Agency.SECURITE_PRIVEE, remove=("description",))
DELIVERIES = (CRISIS, PRIVATE)


def at_s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def minute_of_the_evening() -> list[TimelineRecord]:
    """From 21:00:00: units checking in and moving, a fight reported, assigned, acknowledged
    and resolved, a crowd density, a refused proposal — and a report relayed late (a higher
    sequence for an earlier instant); then records just outside the minute."""
    happenings = [
        (0, event("unit.checked_in", unit="PN-1"), Agency.POLICE_NATIONALE),
        (1, event("unit.checked_in", unit="PM-7", armed=False), Agency.POLICE_MUNICIPALE),
        *(
            (
                s,
                event("unit.position_reported", unit="PN-1", position=STATION),
                Agency.POLICE_NATIONALE,
            )
            for s in range(4, 58, 4)
        ),
        (
            10,
            event("incident.reported", incident="INC-1", category="fight"),
            Agency.POLICE_MUNICIPALE,
        ),
        (20, event("incident.assigned", incident="INC-1"), Agency.CRISIS_CELL),
        (25, event("incident.acknowledged", incident="INC-1"), Agency.POLICE_NATIONALE),
        (
            9,
            event("incident.reported", incident="INC-2", description="sac oublié"),
            Agency.SECURITE_PRIVEE,
        ),
        (30, event("crowd.density_reported", persons_per_m2=4.5), Agency.POLICE_MUNICIPALE),
        (
            30,
            event("unit.status_changed", unit="PM-7", status="on_scene"),
            Agency.POLICE_MUNICIPALE,
        ),
        (50, event("incident.resolved", incident="INC-1"), Agency.POLICE_NATIONALE),
        (55, event("perimeter.violated"), Agency.SECURITE_PRIVEE),
        (-1, event("unit.checked_in", unit="PN-0"), Agency.POLICE_NATIONALE),
        (60, event("unit.checked_out", unit="PN-1"), Agency.POLICE_NATIONALE),
    ]
    return [
        record(seq, data, agency, time=T0 + at_s(s), deliveries=DELIVERIES)
        for seq, (s, data, agency) in enumerate(happenings, start=1)
    ]


def in_window(records: list[TimelineRecord], start_s: float = 0) -> list[TimelineRecord]:
    """The records a replay of [T0 + start_s, T0 + 60 s) sends, in its order."""
    inside = [r for r in records if T0 + at_s(start_s) <= r.envelope.time < T0 + MINUTE]
    return sorted(inside, key=lambda r: (r.envelope.time, r.seq))


def offset_s(rec: TimelineRecord) -> float:
    return (rec.envelope.time - T0).total_seconds()


@pytest.fixture
async def evening(database_url: str) -> list[TimelineRecord]:
    """The minute stored in a migrated database, with an exercise record and another
    operation's record at the same instants (which no replay of the minute sends)."""
    records = minute_of_the_evening()
    others = [
        record(
            len(records) + 1, event("unit.checked_in", unit="X-1"), operation="other-op", time=T0
        )
    ]
    drill = [record(1, event("unit.checked_in", unit="EX-1"), mode=Mode.EXERCISE, time=T0)]
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        async with conn.transaction():
            await store.append(conn, "probe-live", plan_batch(0, records + others))
            await store.append(conn, "probe-exercise", plan_batch(0, drill))
    finally:
        await conn.close()
    return records


@pytest.fixture
async def replays(nats_url: str, database_url: str) -> AsyncIterator[ReplayManager]:
    """A manager on its own NATS connection and a database pool."""
    nc = await nats.connect(nats_url)
    pool = await store.open_pool(database_url)
    manager = ReplayManager(nc, pool)
    yield manager
    await manager.aclose()
    await pool.close()
    await nc.close()


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float
    msg: Msg


@asynccontextmanager
async def listening(
    nc: Client, subject: str = subjects.replay_of()
) -> AsyncIterator[list[Arrival]]:
    """Everything published on `subject` while the block runs, with its arrival time."""
    got: list[Arrival] = []

    async def keep(msg: Msg) -> None:
        got.append(Arrival(time.monotonic(), msg))

    sub = await nc.subscribe(subject, cb=keep)
    await nc.flush()
    try:
        yield got
    finally:
        await sub.unsubscribe()


async def until(check: Callable[[], bool]) -> None:
    """Wait until `check` holds (or fail after a while)."""

    async def holds() -> bool:
        return check()

    await wait_for(holds)


def plain(output: str) -> str:
    """Command output on one line, without the boxes of error panels."""
    return " ".join(output.replace("│", " ").split())


def seqs(arrivals: list[Arrival]) -> list[int]:
    return [int((a.msg.headers or {})[SEQ_HEADER]) for a in arrivals]


async def test_a_subscriber_receives_every_record_of_the_window_in_order(
    evening: list[TimelineRecord], replays: ReplayManager, client: Client
) -> None:
    expected = in_window(evening)
    async with listening(client) as got:
        # When the minute is replayed at x100
        session = await replays.create(
            mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0 + MINUTE, speed=100, owner="cic"
        )
        status = await session.wait()
        await until(lambda: len(got) >= len(expected))
    # Then every record of the minute arrived once, by instant then sequence
    assert status.state is ReplayState.FINISHED
    assert (status.sent, status.total) == (len(expected), len(expected))
    assert seqs(got) == [r.seq for r in expected]
    assert seqs(got)[:6] == [1, 2, 3, 4, 20, 17]  # the late report (21:00:09) in its place
    for arrival, rec in zip(got, expected, strict=True):
        msg = arrival.msg
        # on the session's replay subject, with its headers and no message id
        assert msg.subject == subjects.replay(session.id, OPERATION, rec.envelope.type)
        assert msg.subject.startswith(f"ifc.replay.{session.id}.{OPERATION}.")
        headers = msg.headers or {}
        assert headers[SESSION_HEADER] == session.id
        assert MSG_ID_HEADER not in headers
        # and the record itself, as the timeline holds it
        assert from_structured(msg.data) == rec.envelope
    assert status.subject == f"ifc.replay.{session.id}.>"
    assert replays.get(session.id).state is ReplayState.FINISHED


async def test_a_minute_at_x20_takes_at_least_its_three_scheduled_seconds(
    evening: list[TimelineRecord], replays: ReplayManager, client: Client
) -> None:
    expected = in_window(evening)
    async with listening(client) as got:
        begun = time.monotonic()
        session = await replays.create(
            mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0 + MINUTE, speed=20, owner="cic"
        )
        status = await session.wait()
        took = time.monotonic() - begun
        await until(lambda: len(got) == len(expected))
    # Then it took at least its schedule (and not absurdly more)
    assert status.scheduled_duration_s == 3.0
    assert status.elapsed_s >= 3.0 - EPSILON_S
    assert 3.0 - EPSILON_S <= took < 30.0
    assert status.end_drift_ms is not None
    assert status.end_drift_ms >= -EPSILON_S * 1000
    assert status.skew_ms is not None
    assert status.skew_ms.p50 >= 0
    # and no record arrived before its due time
    for arrival, rec in zip(got, expected, strict=True):
        assert arrival.at - begun >= offset_s(rec) / 20 - EPSILON_S, rec.seq


async def test_a_pause_holds_the_replay_and_the_resume_goes_on_without_burst(
    evening: list[TimelineRecord], replays: ReplayManager, client: Client
) -> None:
    expected = in_window(evening)
    async with listening(client) as got:
        session = await replays.create(
            mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0 + MINUTE, speed=20, owner="cic"
        )
        # When it is paused after a few records
        await until(lambda: len(got) >= 5)
        paused = replays.pause(session.id)
        assert paused.state is ReplayState.PAUSED
        await until(lambda: len(got) == paused.sent)
        # Then nothing more goes out while paused and the scenario clock stands still
        await asyncio.sleep(0.5)
        assert len(got) == paused.sent
        assert replays.get(session.id).sent == paused.sent
        assert replays.get(session.id).position == paused.position
        # And after the resume, the rest arrives on the shifted schedule
        resumed_at = time.monotonic()
        assert replays.resume(session.id).state is ReplayState.RUNNING
        status = await session.wait()
        await until(lambda: len(got) == len(expected))
    assert status.state is ReplayState.FINISHED
    assert seqs(got) == [r.seq for r in expected]
    held = (paused.position - T0).total_seconds()
    following = got[paused.sent]
    next_offset = offset_s(expected[paused.sent])
    assert following.at - resumed_at >= (next_offset - held) / 20 - EPSILON_S
    assert status.elapsed_s >= status.scheduled_duration_s - EPSILON_S
    assert status.scheduled_duration_s == 3.0


async def test_a_seek_forward_skips_to_the_instant(
    evening: list[TimelineRecord], replays: ReplayManager, client: Client
) -> None:
    async with listening(client) as got:
        session = await replays.create(
            mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0 + MINUTE, speed=10, owner="cic"
        )
        # (paused before its task first runs: nothing is sent yet)
        replays.pause(session.id)
        with pytest.raises(InvalidReplayError, match="outside the replayed window"):
            replays.seek(session.id, T0 + at_s(61))
        # When it jumps to 21:00:30 and resumes
        sought = replays.seek(session.id, T0 + at_s(30))
        assert sought.position == T0 + at_s(30)
        replays.resume(session.id)
        status = await session.wait()
        expected = in_window(evening, start_s=30)
        await until(lambda: len(got) == len(expected))
    # Then the records from 21:00:30 on arrive, in order, and only they
    assert seqs(got) == [r.seq for r in expected]
    assert {offset_s(r) for r in expected} >= {30.0, 50.0, 55.0}
    assert status.sent == len(expected)
    # timed from the instant sought: 30 s of scenario at x10
    assert status.scheduled_duration_s == pytest.approx(3.0, abs=0.05)
    assert status.elapsed_s >= status.scheduled_duration_s - EPSILON_S


async def test_stop_ends_a_replay_and_its_status_is_kept(
    evening: list[TimelineRecord], replays: ReplayManager, client: Client
) -> None:
    async with listening(client) as got:
        session = await replays.create(
            mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0 + MINUTE, speed=1, owner="cic"
        )
        await until(lambda: len(got) >= 1)
        # When it is stopped
        status = await replays.stop(session.id)
        await asyncio.sleep(0.3)
    # Then it ended there and nothing followed
    assert status.state is ReplayState.STOPPED
    assert len(got) == status.sent < status.total
    assert replays.running_count() == 0
    assert replays.get(session.id).state is ReplayState.STOPPED
    with pytest.raises(ReplayStateError, match="stopped"):
        replays.pause(session.id)
    assert (await replays.stop(session.id)).state is ReplayState.STOPPED
    with pytest.raises(ReplayNotFoundError):
        replays.get("nope")


async def test_two_sessions_run_at_once_on_their_own_subjects(
    evening: list[TimelineRecord], replays: ReplayManager, client: Client
) -> None:
    async with listening(client) as got:
        first, second = await asyncio.gather(
            replays.create(
                mode=Mode.LIVE,
                operation=OPERATION,
                start=T0,
                end=T0 + MINUTE,
                speed=50,
                owner="cic",
            ),
            replays.create(
                mode=Mode.LIVE,
                operation=OPERATION,
                start=T0 + at_s(30),
                end=T0 + MINUTE,
                speed=30,
                owner="formateur",
            ),
        )
        assert replays.running_count() == 2
        assert [s.id for s in replays.list(owner="formateur")] == [second.id]
        statuses = await asyncio.gather(first.wait(), second.wait())
        await until(lambda: len(got) == sum(s.sent for s in statuses))
    assert first.id != second.id
    for session, start_s in ((first, 0), (second, 30)):
        mine = [a for a in got if (a.msg.headers or {})[SESSION_HEADER] == session.id]
        assert all(a.msg.subject.startswith(f"ifc.replay.{session.id}.") for a in mine)
        assert seqs(mine) == [r.seq for r in in_window(evening, start_s)]
    assert {s.state for s in statuses} == {ReplayState.FINISHED}


async def test_a_replay_lands_in_no_stream(
    evening: list[TimelineRecord], replays: ReplayManager, client: Client
) -> None:
    # Given streams holding records of the evening
    for rec in evening[:3]:
        await publish(client, rec.envelope)
    streams = [subjects.stream_name(m, r) for m in Mode for r in StreamRole]
    before = {s: await count(client, s) for s in streams}
    assert before[subjects.stream_name(Mode.LIVE, StreamRole.TIMELINE)] == 3
    # When the minute is replayed
    session = await replays.create(
        mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0 + MINUTE, speed=100, owner="cic"
    )
    assert (await session.wait()).sent > 0
    # Then no stream holds one more message
    assert {s: await count(client, s) for s in streams} == before
    # and JetStream has no stream for a replay subject at all
    with pytest.raises(NoStreamResponseError):
        await client.jetstream().publish(
            subjects.replay(session.id, OPERATION, evening[0].envelope.type), b"{}", timeout=2
        )


def private_view() -> View:
    """What private security may see: its copy of what was delivered to it, nothing else."""

    def view(rec: TimelineRecord) -> Envelope | None:
        if rec.envelope.type.endswith("position_reported"):
            return None
        return copy_for(rec.envelope, PRIVATE)

    return view


async def test_the_callers_view_is_what_is_replayed(
    evening: list[TimelineRecord], replays: ReplayManager, client: Client
) -> None:
    async with listening(client) as got:
        session = await replays.create(
            mode=Mode.LIVE,
            operation=OPERATION,
            start=T0,
            end=T0 + MINUTE,
            speed=100,
            owner="sp",
            view=private_view(),
        )
        status = await session.wait()
        await until(lambda: len(got) == status.sent)
    # Then skipped records are not sent, and the others are the redacted copies
    shown = [r for r in in_window(evening) if not r.envelope.type.endswith("position_reported")]
    assert status.total == len(shown)
    assert seqs(got) == [r.seq for r in shown]
    for arrival, rec in zip(got, shown, strict=True):
        assert from_structured(arrival.msg.data) == copy_for(rec.envelope, PRIVATE)
    # the late report's description stayed behind
    assert evening[19].envelope.data.model_dump()["description"] == "sac oublié"
    assert b"sac oubli" not in b"".join(a.msg.data for a in got)


async def test_the_number_of_running_replays_is_bounded(
    evening: list[TimelineRecord], nats_url: str, database_url: str
) -> None:
    nc = await nats.connect(nats_url)
    pool = await store.open_pool(database_url)
    manager = ReplayManager(nc, pool, max_running=1, keep_ended=2)
    try:
        slow = await manager.create(
            mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0 + MINUTE, speed=1, owner="cic"
        )
        # When a second replay is asked while one runs
        with pytest.raises(ReplayLimitError, match="1 replays are already running"):
            await manager.create(
                mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0 + MINUTE, speed=1, owner="x"
            )
        # Then it can start once the first has stopped
        await manager.stop(slow.id)
        quick = [
            await (
                await manager.create(
                    mode=Mode.LIVE,
                    operation=OPERATION,
                    start=T0,
                    end=T0 + at_s(1),
                    speed=100,
                    owner="cic",
                )
            ).wait()
            for _ in range(2)
        ]
        # and only the last `keep_ended` ended replays are remembered
        assert [s.id for s in manager.list()] == [q.id for q in quick]
        with pytest.raises(ReplayNotFoundError):
            manager.get(slow.id)
        # and invalid requests are refused before anything is loaded
        with pytest.raises(InvalidReplayError, match="speed must be between"):
            await manager.create(
                mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0 + MINUTE, speed=0.1, owner="x"
            )
        with pytest.raises(InvalidReplayError, match="invalid replay window"):
            await manager.create(
                mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0, speed=1, owner="x"
            )
    finally:
        await manager.aclose()
        await pool.close()
        await nc.close()


async def test_closing_the_manager_stops_every_replay(
    evening: list[TimelineRecord], replays: ReplayManager
) -> None:
    sessions = [
        await replays.create(
            mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0 + MINUTE, speed=1, owner="cic"
        )
        for _ in range(2)
    ]
    await replays.aclose()
    assert {s.state for s in sessions} == {ReplayState.STOPPED}
    assert replays.running_count() == 0
    with pytest.raises(ReplayStateError, match="closed"):
        await replays.create(
            mode=Mode.LIVE, operation=OPERATION, start=T0, end=T0 + MINUTE, speed=1, owner="cic"
        )


# --- the command ------------------------------------------------------------------------------


def command() -> typer.Typer:
    """A one-command app around `replay`, as the CLI registers it."""
    app = typer.Typer()
    app.command()(replay_command)
    return app


async def test_the_command_replays_a_window_and_prints_its_status(
    evening: list[TimelineRecord], nats_url: str, database_url: str, client: Client
) -> None:
    expected = in_window(evening)
    args = [
        "--op",
        OPERATION,
        "--mode",
        "live",
        "--from",
        "21:00",
        "--to",
        "21:01",
        "--speed",
        "100",
    ]
    args.append("--json")
    env = {"NATS_URL": nats_url, "DATABASE_URL": database_url}
    async with listening(client) as got:
        result = await asyncio.to_thread(CliRunner().invoke, command(), args, env=env)
        assert result.exit_code == 0, result.output
        status = json.loads(result.stdout)
        await until(lambda: len(got) == len(expected))
    assert status["state"] == "finished"
    assert status["sent"] == len(expected)
    assert status["window"] == {
        "start": T0.isoformat(),
        "end": (T0 + MINUTE).isoformat(),
    }
    assert status["skew_ms"]["max"] >= 0
    assert status["end_drift_ms"] is not None
    assert seqs(got) == [r.seq for r in expected]
    # and the consultation is journaled
    conn = await asyncpg.connect(database_url)
    try:
        action = await conn.fetchval(
            "SELECT action FROM consultation_journal WHERE operation = $1", OPERATION
        )
    finally:
        await conn.close()
    assert action == "replay"


async def test_the_command_prints_a_readable_summary(
    evening: list[TimelineRecord], nats_url: str, database_url: str
) -> None:
    args = ["--op", OPERATION, "--mode", "live", "--from", "21:00:50", "--to", "21:01"]
    args += ["--speed", "100"]
    env = {"NATS_URL": nats_url, "DATABASE_URL": database_url}
    result = await asyncio.to_thread(CliRunner().invoke, command(), args, env=env)
    assert result.exit_code == 0, result.output
    sent = len(in_window(evening, 50))
    assert f"finished: {sent}/{sent} events on ifc.replay." in result.stdout
    assert "skew p50" in result.stdout
    assert "planned 0.100 s" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "500"], "speed must be between"),
        (["--from", "25:00"], "not a time of day"),
        (["--to", "20:00"], "end must come after start"),
    ],
)
async def test_the_command_refuses_bad_input_clearly(
    evening: list[TimelineRecord],
    nats_url: str,
    database_url: str,
    args: list[str],
    message: str,
) -> None:
    base = {
        "--op": OPERATION,
        "--mode": "live",
        "--from": "21:00",
        "--to": "21:01",
        "--speed": "10",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = [part for pair in base.items() for part in pair]
    env = {"NATS_URL": nats_url, "DATABASE_URL": database_url}
    result = await asyncio.to_thread(CliRunner().invoke, command(), argv, env=env)
    assert result.exit_code == 2
    assert message in plain(result.output)


def test_the_command_without_servers_says_how_to_get_them(tmp_path: Path) -> None:
    args = ["--op", OPERATION, "--from", "21:00", "--to", "21:01", "--speed", "10"]
    env = {"NATS_URL": None, "DATABASE_URL": None, "IFC_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(command(), args, env=env)
    assert result.exit_code == 2
    assert "interforces up" in plain(result.output)
