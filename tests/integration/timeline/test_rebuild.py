"""Rebuilding one operation from the timeline stream into an empty schema, on a real
nats-server and PostgreSQL: after the live projector has caught up, the rebuilt schema has
the operation's digest and nothing of the other operations; a changed row shows in the
digest; rebuilding again gives the same bytes; the CLI prints the digests."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from typer.testing import CliRunner, Result
from unit.timeline.builders import at, envelope, event

from contracts import subjects
from contracts.cloudevents import to_structured
from contracts.envelope import Envelope
from contracts.routing import MSG_ID_HEADER
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from interforces.commands.operator import EXIT_NO_SERVER, EXIT_UNKNOWN
from interforces.commands.timeline import app
from services.timeline.digest import projection_digest
from services.timeline.handlers import consumer_name
from services.timeline.rebuild import (
    InvalidSchemaError,
    OperationNotFoundError,
    check_rebuild_schema,
    connect,
    default_schema,
    find_mode,
    read_operation,
    rebuild_from_stream,
)

from .conftest import fetch, publish, publish_raw, running, settings_for, wait_checkpoint

pytestmark = pytest.mark.integration

FETE = "fete-quais"
MATCH = "match-stade"
PN, PM, CELL = Agency.POLICE_NATIONALE, Agency.POLICE_MUNICIPALE, Agency.CRISIS_CELL
#: Every projection table (each has an `operation` column).
PROJECTIONS = ("units", "incidents", "incident_assignments", "security_perimeters", "rejections")


def evening(operation: str, start: int) -> list[Envelope]:
    """An operation's evening: units, an incident reassigned then resolved, a perimeter, a
    refused proposal, a unit leaving."""
    steps = [
        (event("unit.checked_in", unit="PN-1"), PN),
        (event("unit.checked_in", unit="PM-1", armed=False), PM),
        (event("incident.reported", category="fight", people_involved=3), PM),
        (event("incident.assigned", assignee="police_municipale", assignee_unit="PM-1"), CELL),
        (event("incident.declined", reason="équipage engagé"), PM),
        (event("incident.assigned", assignee="police_nationale", assignee_unit="PN-1"), CELL),
        (event("incident.acknowledged", eta_minutes=4), PN),
        (event("unit.position_reported", unit="PN-1"), PN),
        (event("security_perimeter.established", incident="INC-1"), PN),
        (event("perimeter.violated"), Agency.SECURITE_PRIVEE),
        (event("incident.resolved", outcome="rixe dispersée"), PN),
        (event("security_perimeter.lifted"), PN),
        (event("unit.checked_out", unit="PM-1"), PM),
    ]
    return [
        envelope(data, agency, time=at(start + i), operation=operation)
        for i, (data, agency) in enumerate(steps)
    ]


@dataclass(frozen=True, slots=True)
class Published:
    """What the stream holds for the operation that is rebuilt."""

    records: int
    duplicates: int
    unreadable: int
    last_seq: int


@pytest.fixture
async def projected(nats_url: str, database_url: str, client: Client) -> Published:
    """Two operations' evenings interleaved on the live timeline, with one record appended
    twice and, in each operation, a message nobody can read and an exercise event in the
    live stream; projected by the live projector until it has caught up."""
    fete, match = evening(FETE, 0), evening(MATCH, 2)
    last = 0
    for index, (mine, other) in enumerate(zip(fete, match, strict=True)):
        await publish(client, mine)
        last = await publish(client, other)
        if index == 5:  # the assignment appended again, beyond deduplication
            await publish(client, mine, msg_id=f"{mine.id}:again")
        if index == 7:
            for operation in (FETE, MATCH):
                await publish_raw(client, Mode.LIVE, b"{not json", {}, operation=operation)
                drill = envelope(event("unit.checked_in"), mode=Mode.EXERCISE, operation=operation)
                await publish_raw(
                    client, Mode.LIVE, to_structured(drill), {MSG_ID_HEADER: drill.id}, operation
                )
    async with running(settings_for(nats_url, database_url, timeline_batch_size=16)):
        await wait_checkpoint(database_url, last)
    return Published(records=len(fete) + 1, duplicates=1, unreadable=2, last_seq=last)


async def digest_in(database_url: str, schema: str | None = None, **scope: Any) -> str:
    """`projection_digest` of a schema (the live one by default)."""
    conn = await connect(database_url, schema)
    try:
        return await projection_digest(conn, **scope)
    finally:
        await conn.close()


async def test_a_rebuilt_operation_has_the_live_digest_and_nothing_of_the_others(
    database_url: str, client: Client, projected: Published
) -> None:
    # when the first operation is rebuilt from the stream into a fresh schema, in small pages
    result = await rebuild_from_stream(
        client, database_url, mode=Mode.LIVE, operation=FETE, page_size=5
    )
    # then every message of the operation was read, each event appended once
    assert result.schema == default_schema(FETE) == "rebuild_fete_quais"
    assert (result.records, result.duplicates, result.unreadable) == (
        projected.records,
        projected.duplicates,
        projected.unreadable,
    )
    assert result.events_per_s > 0
    # and the rebuilt operation has the live operation's digest
    live = await digest_in(database_url, mode=Mode.LIVE, operation=FETE)
    rebuilt = await digest_in(database_url, result.schema, mode=Mode.LIVE, operation=FETE)
    assert rebuilt == live
    # and the rebuilt schema holds that operation only, while the live one holds both
    assert await digest_in(database_url, result.schema) == rebuilt
    assert await digest_in(database_url, mode=Mode.LIVE, operation=MATCH) != live
    for table in ("timeline_events", *PROJECTIONS):
        rows = await fetch(database_url, f"SELECT DISTINCT operation FROM {table}")  # noqa: S608
        assert {r["operation"] for r in rows} == {FETE, MATCH}
        rows = await fetch(
            database_url,
            f"SELECT DISTINCT operation FROM {result.schema}.{table}",  # noqa: S608
        )
        assert {r["operation"] for r in rows} == {FETE}
    notes = await fetch(database_url, f"SELECT subject FROM {result.schema}.timeline_unreadable")  # noqa: S608
    assert len(notes) == 2
    assert all(n["subject"].startswith(f"ifc.live.{FETE}.timeline.") for n in notes)
    # and the live tables were not touched, and no reading consumer is left behind
    assert await digest_in(database_url, mode=Mode.LIVE, operation=FETE) == live
    stream = subjects.stream_name(Mode.LIVE, StreamRole.TIMELINE)
    consumers = await client.jetstream().consumers_info(stream)
    assert [c.name for c in consumers] == [consumer_name(Mode.LIVE)]


async def test_a_changed_projected_row_makes_the_digests_differ(
    database_url: str, client: Client, projected: Published
) -> None:
    # given an operation rebuilt with the live digest
    result = await rebuild_from_stream(client, database_url, mode=Mode.LIVE, operation=FETE)
    rebuilt = await digest_in(database_url, result.schema, mode=Mode.LIVE, operation=FETE)
    assert await digest_in(database_url, mode=Mode.LIVE, operation=FETE) == rebuilt
    conn = await asyncpg.connect(database_url)
    try:
        # when a row of the other operation changes, the operation's digest does not
        await conn.execute("UPDATE incidents SET severity = 'critical' WHERE operation = $1", MATCH)
        assert await digest_in(database_url, mode=Mode.LIVE, operation=FETE) == rebuilt
        # when one of its own projected rows changes, it differs from the rebuilt one
        await conn.execute(
            "UPDATE units SET personnel = personnel + 1 WHERE operation = $1 AND unit = 'PN-1'",
            FETE,
        )
        assert await digest_in(database_url, mode=Mode.LIVE, operation=FETE) != rebuilt
    finally:
        await conn.close()


async def test_rebuilding_twice_gives_the_same_digest_and_only_a_rebuild_schema_is_dropped(
    database_url: str, client: Client, projected: Published
) -> None:
    # given an operation rebuilt into a named schema
    first = await rebuild_from_stream(
        client, database_url, mode=Mode.LIVE, operation=FETE, schema="rebuild_twice"
    )
    digest = await digest_in(database_url, "rebuild_twice", mode=Mode.LIVE, operation=FETE)
    # when it is rebuilt again into the same schema, with other page sizes
    second = await rebuild_from_stream(
        client, database_url, mode=Mode.LIVE, operation=FETE, schema="rebuild_twice", page_size=2
    )
    # then the schema is the same, byte for byte, and so are the counts
    assert await digest_in(database_url, "rebuild_twice", mode=Mode.LIVE, operation=FETE) == digest
    assert (second.records, second.unreadable, second.last_seq) == (
        first.records,
        first.unreadable,
        first.last_seq,
    )
    # and a schema the rebuild did not make, or the live one, is never dropped
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE SCHEMA keep_me; CREATE TABLE keep_me.notes (id int)")
    finally:
        await conn.close()
    for schema in ("keep_me", "public", "Rebuild; DROP"):
        with pytest.raises(InvalidSchemaError):
            await rebuild_from_stream(
                client, database_url, mode=Mode.LIVE, operation=FETE, schema=schema
            )
    assert await fetch(database_url, "SELECT * FROM keep_me.notes") == []


async def test_the_rebuild_reads_up_to_the_last_sequence_at_start(
    client: Client, projected: Published
) -> None:
    # given a reading of the operation started with a first page
    seqs: list[int] = []
    async with aclosing(read_operation(client.jetstream(), Mode.LIVE, FETE, 4)) as pages:
        async for page in pages:
            if not seqs:
                # when a record of the operation is appended meanwhile
                later = await publish(client, evening(FETE, 50)[0])
            seqs += [m.metadata.sequence.stream for m in page]
    # then the reading stops at the stream's end as it was, in order, nothing twice
    assert seqs == sorted(set(seqs))
    assert len(seqs) == projected.records + projected.unreadable
    assert seqs[-1] < later


async def test_a_message_lost_on_the_way_is_read_again_in_order(
    client: Client, projected: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a connection that loses the second message of the first page it fetches
    fetch_page = JetStreamContext.PullSubscription.fetch
    fetches = 0

    async def lossy(self: JetStreamContext.PullSubscription, *args: Any, **kwargs: Any) -> Any:
        nonlocal fetches
        fetches += 1
        messages = await fetch_page(self, *args, **kwargs)
        return [m for i, m in enumerate(messages) if fetches > 1 or i != 1]

    monkeypatch.setattr(JetStreamContext.PullSubscription, "fetch", lossy)
    # when the operation is read
    async with aclosing(read_operation(client.jetstream(), Mode.LIVE, FETE, 4)) as pages:
        seqs = [m.metadata.sequence.stream async for page in pages for m in page]
    # then every message arrives once, in order (a new consumer resumed after the loss)
    assert seqs == sorted(set(seqs))
    assert len(seqs) == projected.records + projected.unreadable
    assert fetches > 1


async def test_the_mode_is_found_in_the_database_else_in_the_streams(
    database_url: str, client: Client, projected: Published
) -> None:
    js = client.jetstream()
    # an operation projected in the live database is found there
    assert await find_mode(js, database_url, FETE) is Mode.LIVE
    # an exercise only in its stream (never projected here) is found in the stream
    drill = envelope(event("unit.checked_in"), mode=Mode.EXERCISE, operation="drill-quais")
    await publish(client, drill)
    assert await find_mode(js, database_url, "drill-quais") is Mode.EXERCISE
    # an operation nowhere is refused
    with pytest.raises(OperationNotFoundError):
        await find_mode(js, database_url, "nowhere")


def test_schema_names_are_plain_identifiers_and_never_a_live_schema() -> None:
    # a default name is derived from the operation, shortened with a hash when too long
    long_ids = ("a" * 63, "a" * 62 + "b")
    names = {default_schema(op) for op in long_ids}
    assert len(names) == 2
    assert all(len(n) <= 63 and check_rebuild_schema(n) == n for n in names)
    # and a rebuild never writes into public, a system schema or a quoted name
    for name in ("public", "pg_catalog", "information_schema", "Fete", "a-b", "x" * 64, ""):
        with pytest.raises(InvalidSchemaError):
            check_rebuild_schema(name)


def invoke(env: dict[str, str | None], *args: str) -> Result:
    """The timeline commands, as `interforces timeline …` runs them."""
    return CliRunner().invoke(app, list(args), env=env)


async def test_the_cli_rebuilds_and_prints_the_digests_as_json(
    nats_url: str, database_url: str, projected: Published, tmp_path: Path
) -> None:
    env: dict[str, str | None] = {"NATS_URL": nats_url, "DATABASE_URL": database_url}
    # when the operation is rebuilt, then its live and rebuilt digests are asked for
    rebuilt = await asyncio.to_thread(invoke, env, "rebuild", "--op", FETE, "--json")
    assert rebuilt.exit_code == 0, rebuilt.output
    document = json.loads(rebuilt.stdout)
    live = await asyncio.to_thread(invoke, env, "digest", "--op", FETE, "--json")
    again = await asyncio.to_thread(
        invoke, env, "digest", "--op", FETE, "--schema", document["schema"], "--json"
    )
    # then all three print the same digest, the mode found in the database
    assert live.exit_code == again.exit_code == 0, live.output + again.output
    assert json.loads(live.stdout) == {
        "operation": FETE,
        "mode": "live",
        "schema": "public",
        "events": projected.records - projected.duplicates,
        "digest": await digest_in(database_url, mode=Mode.LIVE, operation=FETE),
    }
    assert json.loads(again.stdout)["digest"] == json.loads(live.stdout)["digest"]
    assert document["digest"] == json.loads(live.stdout)["digest"]
    assert (document["records"], document["unreadable"]) == (
        projected.records,
        projected.unreadable,
    )
    # and the human form says the same
    human = await asyncio.to_thread(invoke, env, "digest", "--op", FETE)
    assert document["digest"] in human.stdout
    # and an unknown operation, a missing schema or no server give a clear message and a code
    unknown = await asyncio.to_thread(invoke, env, "digest", "--op", "nowhere")
    assert unknown.exit_code == EXIT_UNKNOWN
    assert "nowhere" in unknown.output
    missing = await asyncio.to_thread(
        invoke, env, "digest", "--op", FETE, "--schema", "rebuild_none"
    )
    assert missing.exit_code == EXIT_NO_SERVER
    assert "does not exist" in missing.output
    alone: dict[str, str | None] = {"NATS_URL": None, "DATABASE_URL": None}
    stranded = await asyncio.to_thread(
        invoke, alone, "digest", "--op", FETE, "--data-dir", str(tmp_path)
    )
    assert stranded.exit_code == EXIT_NO_SERVER
    assert "DATABASE_URL" in stranded.output or "NATS_URL" in stranded.output
