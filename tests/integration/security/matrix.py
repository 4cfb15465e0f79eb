"""The attacker matrix: attempts × credentials → what the broker did.

Each attempt is made for real on a session of the credential. Its outcome is `REFUSED` only
when the server answered with a permissions violation for that very subject (an error, not
silence); `ALLOWED` only when its effect was observed (a JetStream acknowledgement, an
answer, a delivered probe); `SILENT` when neither happened, which no expectation accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from contracts import subjects
from contracts.events.base import EVENT_TYPE_PREFIX
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from infra.nats.perimeters import Role
from infra.nats.users import units_user
from infra.streams import Profile, declare_streams
from integration.security.conftest import Connect, SecuredBroker
from integration.security.sessions import Session, Verb
from services.agency.app import feed_durable, report_queue
from services.runtime.health import health_subject

#: How long an attempt may take to be refused or done: a bound, never an expectation.
ATTEMPT_TIMEOUT_S = 5.0
#: After an attempt ended without effect, how long its refusal may still take to arrive.
LATE_REFUSAL_S = 1.0
INCIDENT = f"{EVENT_TYPE_PREFIX}incident.reported"
INJECT = f"{EVENT_TYPE_PREFIX}exercise.injected"
#: The victim of every attempt: what private security must never reach.
VICTIM = Agency.POLICE_NATIONALE
UNIT = "unit-1"


class Outcome(StrEnum):
    """What the broker did with an attempt."""

    REFUSED = "refused"
    REJECTED = "rejected"
    CONTAINED = "contained"
    ALLOWED = "allowed"
    SILENT = "SILENT"
    NOT_APPLICABLE = "—"


LEGEND = (
    "refused: the server answered with a permissions violation",
    "rejected: JetStream refused the request (its body's filter is not the subject's)",
    "contained: accepted in the user's own account, reached nothing outside it",
    "allowed: done (its own job, or the operator's control column)",
    "—: not applicable to this credential",
)


@dataclass(frozen=True, slots=True)
class Column:
    """A credential under attack: its user, the agency it acts as, its own mode."""

    user: str
    agency: Agency
    mode: Mode
    role: Role


@dataclass
class Arena:
    """Everything an attempt needs: the broker, the operator's session, the operation."""

    broker: SecuredBroker
    operator: Session
    connect: Connect
    operation: str
    other_operation: str
    sessions: dict[str, Session] = field(default_factory=dict)


Attempt = Callable[[Arena, Column, Session], Awaitable[Outcome]]
Expectation = Callable[[Column], Outcome]


@dataclass(frozen=True, slots=True)
class Row:
    """One attempt and what each credential must get."""

    label: str
    attempt: Attempt
    expected: Expectation


# --- how an attempt ends -------------------------------------------------------------------


async def flushed(nc: Client) -> None:
    """Flush, safe to cancel: nats-py's own flush, cancelled before its PONG, breaks the
    connection's read loop."""
    await asyncio.shield(nc.flush())


async def decided(
    session: Session, action: Awaitable[Outcome], verb: Verb | None, subject: str | None
) -> Outcome:
    """Race the action against the server's refusal of `verb` on `subject` (any refusal
    when `subject` is None)."""

    async def refusal() -> bool:
        if verb is None or subject is None:
            while not session.violations.messages:
                await asyncio.sleep(0.01)
            return True
        return await session.violations.wait(verb, subject)

    refused = asyncio.ensure_future(refusal())
    acted = asyncio.ensure_future(action)
    try:
        done, _ = await asyncio.wait(
            {refused, acted}, timeout=ATTEMPT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        if refused in done:
            return Outcome.REFUSED
        if acted in done and acted.result() is not Outcome.SILENT:
            return acted.result()
        with contextlib.suppress(TimeoutError):  # a silent end may still be refused
            await asyncio.wait_for(asyncio.shield(refused), timeout=LATE_REFUSAL_S)
            return Outcome.REFUSED
        return Outcome.SILENT
    finally:
        for task in (refused, acted):
            task.cancel()
        await asyncio.gather(refused, acted, return_exceptions=True)


async def js_published(session: Session, subject: str, reply: str | None = None) -> Outcome:
    """Publish onto JetStream and wait for its acknowledgement."""

    async def act() -> Outcome:
        try:
            await session.js.publish(subject, b"attacker-matrix", timeout=ATTEMPT_TIMEOUT_S)
        except (NatsError, TimeoutError):
            return Outcome.SILENT
        return Outcome.ALLOWED

    return await decided(session, act(), Verb.PUBLISH, subject)


async def requested(session: Session, subject: str, body: Mapping[str, object] | None) -> Outcome:
    """A request (the JetStream API): any answer is `ALLOWED`, an API error `REJECTED`."""

    async def act() -> Outcome:
        payload = json.dumps(body).encode() if body is not None else b""
        try:
            msg = await session.nc.request(subject, payload, timeout=ATTEMPT_TIMEOUT_S)
        except (NatsError, TimeoutError):
            return Outcome.SILENT
        return Outcome.REJECTED if _api_error(msg.data) else Outcome.ALLOWED

    return await decided(session, act(), Verb.PUBLISH, subject)


def _api_error(data: bytes) -> bool:
    """Whether an answer is a JetStream API error (a direct get answers with the message)."""
    try:
        answer = json.loads(data)
    except ValueError:
        return False
    return isinstance(answer, dict) and "error" in answer


async def subscribed(arena: Arena, session: Session, subject: str, probe: str) -> Outcome:
    """Subscribe, then have the operator publish `probe`: `ALLOWED` when it arrives."""
    arrived = asyncio.Event()

    async def on_message(_: Msg) -> None:
        arrived.set()

    async def act() -> Outcome:
        subscription = await session.nc.subscribe(subject, cb=on_message)
        try:
            await flushed(session.nc)
            await arena.operator.nc.publish(probe, b"probe")
            await flushed(arena.operator.nc)
            await arrived.wait()
        finally:
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()
        return Outcome.ALLOWED

    return await decided(session, act(), Verb.SUBSCRIBE, subject)


# --- the attempts --------------------------------------------------------------------------


def _js(column_session: Session, *tokens: str) -> str:
    return ".".join((column_session.user.js_api, *tokens))


def _stream(column: Column, role: StreamRole) -> str:
    return subjects.stream_name(column.mode, role)


def _own_type(column: Column) -> str:
    return INJECT if column.agency is Agency.EXERCISE_CONTROL else INCIDENT


def subscribe_timeline(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Read the log of record."""
    return subscribed(
        arena,
        session,
        subjects.timeline_of(column.mode, arena.operation),
        subjects.timeline(column.mode, arena.operation, INCIDENT),
    )


def subscribe_victim_feed(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Read the police's feed."""
    return subscribed(
        arena,
        session,
        subjects.feed_of(column.mode, VICTIM, arena.operation),
        subjects.feed(column.mode, arena.operation, VICTIM, INCIDENT),
    )


def subscribe_victim_reports(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Overhear the police units' reports."""
    return subscribed(
        arena,
        session,
        subjects.reports_of(column.mode, VICTIM),
        subjects.report(column.mode, arena.operation, VICTIM, UNIT),
    )


def subscribe_everything(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Read everything."""
    return subscribed(
        arena, session, ">", subjects.feed(column.mode, arena.operation, VICTIM, INCIDENT)
    )


def subscribe_victim_inbox(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Read the replies the police service receives (JetStream answers, deliveries)."""
    return subscribed(arena, session, "_INBOX_police_nationale.>", "_INBOX_police_nationale.x")


def publish_as_victim(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Propose as the police."""
    return js_published(session, subjects.proposal(column.mode, arena.operation, VICTIM, INCIDENT))


def publish_other_operation(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Propose into an operation the credential has no part in."""
    subject = subjects.proposal(
        column.mode, arena.other_operation, column.agency, _own_type(column)
    )
    return js_published(session, subject)


def publish_into_live(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """From exercise credentials, propose into the live operation of the same id."""
    subject = subjects.proposal(Mode.LIVE, arena.operation, column.agency, _own_type(column))
    return js_published(session, subject)


def forge_timeline(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Write a record of the log of record directly."""
    return js_published(session, subjects.timeline(column.mode, arena.operation, INCIDENT))


def forge_victim_copy(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Slip a copy into the police's feed."""
    return js_published(session, subjects.feed(column.mode, arena.operation, VICTIM, INCIDENT))


async def reflect_onto_victim(arena: Arena, column: Column, session: Session) -> Outcome:
    """Publish its own proposal with the reply subject set to a police proposal subject, so
    that JetStream's acknowledgement is published there (a reply is not permission-checked)."""
    own = subjects.proposal(column.mode, arena.operation, column.agency, _own_type(column))
    victim = subjects.proposal(column.mode, arena.operation, VICTIM, INCIDENT)
    proposals = _stream(column, StreamRole.PROPOSALS)
    before = await _stored(arena, proposals, victim)
    await session.nc.publish(own, b"attacker-matrix", reply=victim)
    # JetStream answers in order: once a later publish is acknowledged, the reflected
    # acknowledgement has been sent wherever it could go.
    if await js_published(session, own) is not Outcome.ALLOWED:
        return Outcome.SILENT
    after = await _stored(arena, proposals, victim)
    return Outcome.ALLOWED if after > before else Outcome.CONTAINED


async def _stored(arena: Arena, stream: str, subject: str) -> int:
    info = await arena.operator.js.stream_info(stream, subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


def delete_timeline(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Delete the timeline stream."""
    return requested(
        session, _js(session, "STREAM", "DELETE", _stream(column, StreamRole.TIMELINE)), None
    )


def purge_timeline(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Purge the timeline stream."""
    return requested(
        session, _js(session, "STREAM", "PURGE", _stream(column, StreamRole.TIMELINE)), {}
    )


def delete_timeline_message(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Erase one record of the timeline."""
    subject = _js(session, "STREAM", "MSG", "DELETE", _stream(column, StreamRole.TIMELINE))
    return requested(session, subject, {"seq": 1})


def create_stream(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Create a stream that would keep the police units' reports."""
    config = {
        "name": f"SPY_{column.user.upper().replace('-', '_')}",
        "subjects": [subjects.reports_of(column.mode, VICTIM)],
        "storage": "memory",
    }
    return requested(session, _js(session, "STREAM", "CREATE", str(config["name"])), config)


def _consumer(stream: str, name: str, filter_subject: str) -> dict[str, object]:
    config = {"name": name, "durable_name": name, "filter_subject": filter_subject}
    return {"stream_name": stream, "config": config | {"ack_policy": "explicit"}}


def consume_timeline(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Create a consumer of the timeline."""
    stream, name = _stream(column, StreamRole.TIMELINE), f"spy-{column.user}"
    filter_subject = subjects.timeline_of(column.mode)
    subject = _js(session, "CONSUMER", "CREATE", stream, name, filter_subject)
    return requested(session, subject, _consumer(stream, name, filter_subject))


def _victim_durable(column: Column) -> str:
    return feed_durable(VICTIM, column.mode)


def take_victim_durable(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Create (or take over) the police's durable consumer of its feed."""
    stream, name = _stream(column, StreamRole.FEEDS), _victim_durable(column)
    filter_subject = subjects.feed_of(column.mode, VICTIM)
    subject = _js(session, "CONSUMER", "CREATE", stream, name, filter_subject)
    return requested(session, subject, _consumer(stream, name, filter_subject))


def fetch_victim_durable(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Pull a message from the police's durable consumer (delivered under its own subject,
    not as an answer: a plain request would never see it)."""
    subject = _js(
        session,
        "CONSUMER",
        "MSG",
        "NEXT",
        _stream(column, StreamRole.FEEDS),
        _victim_durable(column),
    )

    async def act() -> Outcome:
        inbox = session.nc.new_inbox()
        deliveries = await session.nc.subscribe(inbox)
        try:
            await session.nc.publish(subject, b'{"batch": 1, "no_wait": true}', reply=inbox)
            await deliveries.next_msg(timeout=ATTEMPT_TIMEOUT_S)
        finally:
            await deliveries.unsubscribe()
        return Outcome.ALLOWED

    return decided(session, guarded(act()), Verb.PUBLISH, subject)


def own_durable_victim_filter(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Create its own durable consumer filtered on the police's feed."""
    stream, name = _stream(column, StreamRole.FEEDS), feed_durable(column.agency, column.mode)
    victim_filter = subjects.feed_of(column.mode, VICTIM)
    subject = _js(session, "CONSUMER", "CREATE", stream, name, victim_filter)
    return requested(session, subject, _consumer(stream, name, victim_filter))


def own_durable_hidden_filter(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """The same, with its own filter in the subject and the police's in the body."""
    stream, name = _stream(column, StreamRole.FEEDS), feed_durable(column.agency, column.mode)
    own_filter = subjects.feed_of(column.mode, column.agency)
    subject = _js(session, "CONSUMER", "CREATE", stream, name, own_filter)
    body = _consumer(stream, name, subjects.feed_of(column.mode, VICTIM))
    return requested(session, subject, body)


def timeline_info(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Read the timeline stream's state."""
    return requested(
        session, _js(session, "STREAM", "INFO", _stream(column, StreamRole.TIMELINE)), None
    )


def timeline_direct_get(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Read a timeline record by direct get."""
    subject = _js(session, "DIRECT", "GET", _stream(column, StreamRole.TIMELINE))
    return requested(session, subject, {"seq": 1})


def timeline_msg_get(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Read a timeline record through the stream API."""
    subject = _js(session, "STREAM", "MSG", "GET", _stream(column, StreamRole.TIMELINE))
    return requested(session, subject, {"seq": 1})


def list_streams(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """List the streams and their state."""
    return requested(session, _js(session, "STREAM", "LIST"), {"offset": 0})


# --- its own job ---------------------------------------------------------------------------


async def guarded(action: Awaitable[Outcome]) -> Outcome:
    """An action's outcome, `SILENT` when the broker failed it (no answer, no delivery)."""
    try:
        return await action
    except (NatsError, TimeoutError, IndexError):
        return Outcome.SILENT


def declare(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Declare (here: bring up to date) every stream."""

    async def act() -> Outcome:
        await declare_streams(session.js, Profile.SINGLE)
        return Outcome.ALLOWED

    return decided(session, guarded(act()), None, None)


def propose(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """Propose in its own operation, under its own name."""
    subject = subjects.proposal(column.mode, arena.operation, column.agency, _own_type(column))
    return js_published(session, subject)


def read_own_feed(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """A service reads its feed through its durable consumer (created with its filter,
    fetched, acknowledged); an actor without a service subscribes to it."""
    copy = subjects.feed(column.mode, arena.operation, column.agency, _own_type(column))
    if column.role is not Role.SERVICE:
        own = subjects.feed_of(column.mode, column.agency, arena.operation)
        return subscribed(arena, session, own, copy)

    async def act() -> Outcome:
        subscription = await session.js.pull_subscribe(
            subjects.feed_of(column.mode, column.agency),
            durable=feed_durable(column.agency, column.mode),
            stream=_stream(column, StreamRole.FEEDS),
        )
        try:
            await arena.operator.js.publish(copy, b"own-copy")
            (message,) = await subscription.fetch(1, timeout=ATTEMPT_TIMEOUT_S)
            await message.ack_sync(timeout=ATTEMPT_TIMEOUT_S)
        finally:
            await subscription.unsubscribe()
        return Outcome.ALLOWED if message.data == b"own-copy" else Outcome.SILENT

    return decided(session, guarded(act()), None, None)


async def _pair(arena: Arena, column: Column, session: Session) -> tuple[Session, Session]:
    """The agency service's session and its units' (one of them is the column's)."""
    if column.role is Role.SERVICE:
        return session, await arena.connect(units_user(column.agency, column.mode))
    return await arena.connect(column.agency.value), session


def report_answered(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """A unit reports to its service, which answers."""

    async def act() -> Outcome:
        service, units = await _pair(arena, column, session)

        async def answer(msg: Msg) -> None:
            await msg.respond(b"ack:" + msg.data)

        await service.nc.subscribe(
            subjects.reports_of(column.mode, column.agency),
            queue=report_queue(column.agency),
            cb=answer,
        )
        await flushed(service.nc)
        subject = subjects.report(column.mode, arena.operation, column.agency, UNIT)
        reply = await units.nc.request(subject, b"report", timeout=ATTEMPT_TIMEOUT_S)
        return Outcome.ALLOWED if reply.data == b"ack:report" else Outcome.SILENT

    return decided(session, guarded(act()), None, None)


def _service_to_units(subject: str) -> Attempt:
    async def act(arena: Arena, column: Column, session: Session) -> Outcome:
        service, units = await _pair(arena, column, session)
        inbox = await units.nc.subscribe(subject)
        await flushed(units.nc)
        await service.nc.publish(subject, b"to-the-field")
        await flushed(service.nc)
        message = await inbox.next_msg(timeout=ATTEMPT_TIMEOUT_S)
        return Outcome.ALLOWED if message.data == b"to-the-field" else Outcome.SILENT

    def attempt(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
        return decided(session, guarded(act(arena, column, session)), None, None)

    return attempt


def dispatch(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """The service tells one of its units (an assignment)."""
    subject = subjects.dispatch(column.mode, arena.operation, column.agency, UNIT)
    return _service_to_units(subject)(arena, column, session)


def receipt(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """The service hands a receipt to a checked person (on the officer's device)."""
    subject = subjects.recepisse(column.mode, arena.operation, column.agency)
    return _service_to_units(subject)(arena, column, session)


def health(arena: Arena, column: Column, session: Session) -> Awaitable[Outcome]:
    """The service answers the operator's health request."""

    async def act() -> Outcome:
        async def answer(msg: Msg) -> None:
            await msg.respond(b"up")

        await session.nc.subscribe(health_subject(column.agency.value), cb=answer)
        await flushed(session.nc)
        reply = await arena.operator.nc.request(
            health_subject(column.agency.value), b"", timeout=ATTEMPT_TIMEOUT_S
        )
        return Outcome.ALLOWED if reply.data == b"up" else Outcome.SILENT

    return decided(session, guarded(act()), None, None)


# --- the matrix ----------------------------------------------------------------------------


def expected(columns: Sequence[Column], rows: Sequence[Row]) -> list[list[Outcome]]:
    """What each cell must be."""
    return [[row.expected(column) for column in columns] for row in rows]


async def play(arena: Arena, columns: Sequence[Column], rows: Sequence[Row]) -> list[list[Outcome]]:
    """Every applicable row for every column (columns one after the other)."""
    grid = [[Outcome.NOT_APPLICABLE] * len(columns) for _ in rows]
    for j, column in enumerate(columns):
        session = arena.sessions[column.user]
        for i, row in enumerate(rows):
            if row.expected(column) is Outcome.NOT_APPLICABLE:
                continue
            session.violations.clear()
            grid[i][j] = await row.attempt(arena, column, session)
    return grid


def render(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Row],
    grid: Sequence[Sequence[Outcome]],
    expected: Sequence[Sequence[Outcome]],
) -> str:
    """The matrix as text; a cell that differs from its expectation is marked `!`."""
    headings = [c.user for c in columns]
    cells = [
        [f"{got}{'' if got is want else '!'}" for got, want in zip(line, wants, strict=True)]
        for line, wants in zip(grid, expected, strict=True)
    ]
    first = max(len(r.label) for r in rows)
    widths = [max(len(h), *(len(line[j]) for line in cells)) for j, h in enumerate(headings)]

    def line(label: str, values: Sequence[str]) -> str:
        return " | ".join(
            [label.ljust(first), *(v.ljust(w) for v, w in zip(values, widths, strict=True))]
        )

    rule = "-+-".join(["-" * first, *("-" * w for w in widths)])
    body = [line(r.label, c) for r, c in zip(rows, cells, strict=True)]
    return "\n".join([title, "", line("attempt", headings), rule, *body, "", *LEGEND]) + "\n"
