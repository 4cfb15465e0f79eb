"""The broker refuses what the perimeters forbid, as an attacker would find out.

A real nats-server runs the configuration generated for the shipped festival charter and its
exercise twin. With private security's, mediation's and municipal police's service
credentials, private security's field units' and a trainer's, every attempt of the matrix is
made for real; the operator's column is the control (the same attempts succeed where nothing
walls them), and the rows of each credential's own job show it still works.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts import subjects
from contracts.charter import load_charter
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from infra.nats.perimeters import Role
from infra.nats.users import OPERATOR, OVERSIGHT, TRAINER, NatsLogin, desk_user, units_user
from integration.security import matrix
from integration.security.conftest import STADIUM, Connect, SecuredBroker
from integration.security.matrix import Arena, Column, Expectation, Outcome, Row
from integration.security.sessions import Verb
from services.coordinator.app import SERVICE as COORDINATOR
from services.coordinator.app import durable_name as coordinator_durable
from services.crisis_api.app import SERVICE as CRISIS_API
from services.runtime.consumer import max_deliveries_subject
from services.timeline.app import SERVICE as TIMELINE
from services.timeline.handlers import consumer_name as projector_durable

pytestmark = pytest.mark.integration

COLUMNS = (
    Column(Agency.SECURITE_PRIVEE.value, Agency.SECURITE_PRIVEE, Mode.LIVE, Role.SERVICE),
    Column(Agency.MEDIATION.value, Agency.MEDIATION, Mode.LIVE, Role.SERVICE),
    Column(Agency.POLICE_MUNICIPALE.value, Agency.POLICE_MUNICIPALE, Mode.LIVE, Role.SERVICE),
    Column(
        units_user(Agency.SECURITE_PRIVEE, Mode.LIVE), Agency.SECURITE_PRIVEE, Mode.LIVE, Role.UNITS
    ),
    Column(TRAINER, Agency.EXERCISE_CONTROL, Mode.EXERCISE, Role.TRAINER),
    Column(OPERATOR, Agency.CRISIS_CELL, Mode.LIVE, Role.OPERATOR),
)


def job(*roles: Role) -> Expectation:
    """Allowed to the credentials whose job it is."""
    return lambda c: Outcome.ALLOWED if c.role in roles else Outcome.NOT_APPLICABLE


def walled(column: Column) -> Outcome:
    """Refused, except to the operator (the control)."""
    return Outcome.ALLOWED if column.role is Role.OPERATOR else Outcome.REFUSED


def never(column: Column) -> Outcome:
    """Refused to everybody, the operator included."""
    return Outcome.REFUSED


def live_from_exercise(column: Column) -> Outcome:
    return Outcome.REFUSED if column.mode is Mode.EXERCISE else Outcome.NOT_APPLICABLE


def reflection(column: Column) -> Outcome:
    """In its own account a reflected acknowledgement reaches nothing; the operator, in the
    streams' account, shows what it would do without accounts."""
    return {Role.OPERATOR: Outcome.ALLOWED, Role.UNITS: Outcome.NOT_APPLICABLE}.get(
        column.role, Outcome.CONTAINED
    )


def victim_filter(column: Column) -> Outcome:
    return Outcome.NOT_APPLICABLE if column.role is Role.OPERATOR else Outcome.REFUSED


def hidden_filter(column: Column) -> Outcome:
    """The subject names its own filter, so only JetStream can see the body's."""
    return {Role.OPERATOR: Outcome.NOT_APPLICABLE, Role.SERVICE: Outcome.REJECTED}.get(
        column.role, Outcome.REFUSED
    )


ROWS = (
    Row("own job: declare the streams", matrix.declare, job(Role.OPERATOR)),
    Row("own job: propose in its operation", matrix.propose, job(Role.SERVICE, Role.TRAINER)),
    Row("own job: read its own feed", matrix.read_own_feed, job(Role.SERVICE, Role.TRAINER)),
    Row("own job: unit report answered", matrix.report_answered, job(Role.SERVICE, Role.UNITS)),
    Row("own job: dispatch to its units", matrix.dispatch, job(Role.SERVICE, Role.UNITS)),
    Row("own job: receipt to the person", matrix.receipt, job(Role.SERVICE, Role.UNITS)),
    Row("own job: answer health requests", matrix.health, job(Role.SERVICE)),
    Row("subscribe to the timeline", matrix.subscribe_timeline, walled),
    Row("subscribe to the police feed", matrix.subscribe_victim_feed, walled),
    Row("subscribe to police unit reports", matrix.subscribe_victim_reports, walled),
    Row("subscribe to >", matrix.subscribe_everything, walled),
    Row("subscribe to the police inbox", matrix.subscribe_victim_inbox, walled),
    Row("publish as the police", matrix.publish_as_victim, walled),
    Row("publish into another operation", matrix.publish_other_operation, walled),
    Row("publish into live (exercise creds)", matrix.publish_into_live, live_from_exercise),
    Row("forge a timeline record", matrix.forge_timeline, walled),
    Row("forge a copy in the police feed", matrix.forge_victim_copy, walled),
    Row("reflect a JetStream ack onto police", matrix.reflect_onto_victim, reflection),
    Row("delete the timeline stream", matrix.delete_timeline, never),
    Row("purge the timeline", matrix.purge_timeline, never),
    Row("delete a timeline message", matrix.delete_timeline_message, never),
    Row("JS API: create a stream", matrix.create_stream, walled),
    Row("JS API: consumer on the timeline", matrix.consume_timeline, walled),
    Row("JS API: take the police durable", matrix.take_victim_durable, walled),
    Row("JS API: fetch from police durable", matrix.fetch_victim_durable, walled),
    Row("JS API: own durable, police filter", matrix.own_durable_victim_filter, victim_filter),
    Row("JS API: same, filter in the body", matrix.own_durable_hidden_filter, hidden_filter),
    Row("JS API: timeline stream info", matrix.timeline_info, walled),
    Row("JS API: timeline direct get", matrix.timeline_direct_get, walled),
    Row("JS API: timeline message get", matrix.timeline_msg_get, walled),
    Row("JS API: list the streams", matrix.list_streams, walled),
)


async def test_the_attacker_matrix(
    secured: SecuredBroker,
    connect: Connect,
    festival_operation: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    operator = await connect(OPERATOR)
    arena = Arena(
        broker=secured,
        operator=operator,
        connect=connect,
        operation=festival_operation,
        other_operation=load_charter(STADIUM).operation.id,
    )
    for column in COLUMNS:
        arena.sessions[column.user] = await connect(column.user)

    grid = await matrix.play(arena, COLUMNS, ROWS)

    wanted = matrix.expected(COLUMNS, ROWS)
    title = f"Attacker matrix: {festival_operation} (live, and its exercise twin)"
    text = matrix.render(title, COLUMNS, ROWS, grid, wanted)
    (tmp_path / "attacker-matrix.txt").write_text(text, encoding="utf-8")
    (tmp_path / "attacker-matrix.json").write_text(
        json.dumps(
            {
                "columns": [c.user for c in COLUMNS],
                "rows": {row.label: line for row, line in zip(ROWS, grid, strict=True)},
            },
            indent=2,
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    with capsys.disabled():
        print(f"\n{text}(saved in {tmp_path / 'attacker-matrix.txt'})")
    assert grid == wanted, f"cells marked ! differ from what the perimeters promise:\n{text}"


@pytest.fixture
def festival_operation(secured: SecuredBroker) -> str:
    """The id of the festival operation (live, and its exercise twin)."""
    (operation,) = {op.id for op in secured.perimeters.operations}
    return operation


async def test_nobody_connects_without_the_right_password(secured: SecuredBroker) -> None:
    with pytest.raises(NatsError):
        await nats.connect(secured.url, allow_reconnect=False, max_reconnect_attempts=0)
    wrong = NatsLogin(Agency.SECURITE_PRIVEE.value, "not-the-password")
    with pytest.raises(NatsError):
        await nats.connect(secured.url, allow_reconnect=False, **wrong.connect_options())
    right = await nats.connect(secured.url, **secured.login(OVERSIGHT).connect_options())
    await right.close()


async def test_oversight_can_neither_publish_nor_subscribe(connect: Connect) -> None:
    oversight = await connect(OVERSIGHT)
    await oversight.nc.subscribe("ifc.>")
    await oversight.nc.publish("ifc.health.coordinator", b"")
    await oversight.nc.flush()
    assert await _refused(oversight.violations.wait(Verb.SUBSCRIBE, "ifc.>"))
    assert await _refused(oversight.violations.wait(Verb.PUBLISH, "ifc.health.coordinator"))


async def _refused(waiting: Coroutine[Any, Any, bool]) -> bool:
    return await asyncio.wait_for(waiting, timeout=matrix.ATTEMPT_TIMEOUT_S)


async def test_the_core_services_and_the_desk_reach_what_they_need(
    connect: Connect, festival_operation: str
) -> None:
    """The calls the coordinator, the projector, the crisis-cell API, the desk and a
    trainer's exercise runner make, as they make them: none refused."""
    mode, op = Mode.LIVE, festival_operation
    proposals, timeline, feeds = (
        subjects.stream_name(mode, role)
        for role in (StreamRole.PROPOSALS, StreamRole.TIMELINE, StreamRole.FEEDS)
    )
    operator = await connect(OPERATOR)
    desk = await connect(desk_user(mode))
    coordinator = await connect(COORDINATOR)
    projector = await connect(TIMELINE)
    api = await connect(CRISIS_API)
    desk_feed = await desk.nc.subscribe(subjects.feed_of(mode, Agency.CRISIS_CELL, op))
    replays = await operator.nc.subscribe(subjects.replay_of())
    for session in (desk, operator):
        await session.nc.flush()

    proposed = await desk.js.publish(
        subjects.proposal(mode, op, Agency.CRISIS_CELL, matrix.INCIDENT), b"proposal"
    )
    # The coordinator: its durable consumer of proposals, its advisories, the timeline and
    # the feeds it writes, what it reads back, the fold of the whole timeline.
    durable = coordinator_durable(mode)
    js = coordinator.js
    await js.add_consumer(
        proposals,
        ConsumerConfig(
            name=durable, durable_name=durable, filter_subject=subjects.proposals_of(mode)
        ),
    )
    await coordinator.nc.subscribe(max_deliveries_subject(proposals, durable))
    batch = await js.pull_subscribe_bind(durable=durable, stream=proposals)
    (message,) = await batch.fetch(1, timeout=matrix.ATTEMPT_TIMEOUT_S)
    await message.ack_sync()
    assert (await js.get_msg(proposals, proposed.seq)).data == b"proposal"
    record = await js.publish(
        subjects.timeline(mode, op, matrix.INCIDENT), b"record", stream=timeline
    )
    await js.publish(
        subjects.feed(mode, op, Agency.CRISIS_CELL, matrix.INCIDENT), b"copy", stream=feeds
    )
    assert (await js.stream_info(timeline)).state.last_seq == record.seq
    assert (await js.get_msg(timeline, record.seq)).data == b"record"
    fold = await js.pull_subscribe(
        subjects.timeline_of(mode),
        stream=timeline,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
    )
    assert [m.data for m in await fold.fetch(1, timeout=matrix.ATTEMPT_TIMEOUT_S)] == [b"record"]
    await fold.unsubscribe()
    # The projector: its durable consumer of the timeline, read, reset.
    name = projector_durable(mode)
    pjs = projector.js
    await pjs.add_consumer(
        timeline,
        ConsumerConfig(name=name, durable_name=name, filter_subject=subjects.timeline_of(mode)),
    )
    projected = await pjs.pull_subscribe_bind(durable=name, stream=timeline)
    (projected_record,) = await projected.fetch(1, timeout=matrix.ATTEMPT_TIMEOUT_S)
    await projected_record.ack_sync()
    assert (await pjs.consumer_info(timeline, name)).ack_floor.stream_seq == record.seq
    assert await pjs.delete_consumer(timeline, name)
    # The crisis-cell API replays into its own namespace and drives a running exercise (a
    # trainer's runner answers); the desk reads its own feed.
    runner = await connect(TRAINER)

    async def answer(msg: Msg) -> None:
        await msg.respond(b"running")

    await runner.nc.subscribe(subjects.exercise_control(op), cb=answer)
    await runner.nc.flush()
    reply = await api.nc.request(
        subjects.exercise_control(op), b"status", timeout=matrix.ATTEMPT_TIMEOUT_S
    )
    assert reply.data == b"running"
    await api.nc.publish(subjects.replay("s1", op, matrix.INCIDENT), b"replayed")
    await api.nc.flush()
    assert (await replays.next_msg(timeout=matrix.ATTEMPT_TIMEOUT_S)).data == b"replayed"
    assert (await desk_feed.next_msg(timeout=matrix.ATTEMPT_TIMEOUT_S)).data == b"copy"
    for session in (desk, coordinator, projector, api, runner):
        assert session.violations.messages == [], session.user.name
