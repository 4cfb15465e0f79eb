"""Canaries, searched as an attacker would: the whole system plays a festival evening (the
demo, at ×3000) in which one checked person bears a canary identity and one mediation's
case notes a canary phrase — fresh random values for each run. Then every store is
searched: every message of every JetStream stream (headers and body), every row of every
table of every schema of PostgreSQL, the services' logs, the exported traces, the debrief
and public report written for the demo operation, the agencies' private stores, and every
byte of every file the run left on disk.

The identity may appear only in the receipt delivered to the person's phone; the phrase only
in the mediation service's own store. Positive controls prove each search could fail: the
canary check and mediation *are* in each store (by their ids), the identity *is* on the
phone, the phrase *is* in mediation's store.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
from integration.agency.harness import Phone
from integration.jetstream import read_all
from nats.aio.client import Client
from typer.testing import CliRunner

from contracts.vocabulary import Agency, Mode
from interforces.commands import report
from interforces.demo import run as demo_run
from interforces.demo.run import DemoRun, run_demo
from interforces.demo.summary import Summary
from interforces.stack.stack import Stack
from services.agency.settings import PRIVATE_STORE_FILE
from services.crisis_api.auth import Principal, Role
from services.crisis_api.hierarchy import HierarchyView, read_hierarchy
from services.crisis_api.public_report import CSV_FILE, HTML_FILE
from simulations.festival import Canary, Evening, build_evening
from simulations.festival.player import PlayResult, expected_receipts
from simulations.festival.player import play as real_play

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHARTER = ROOT / "infra/charters/fete-musique-presquile.yaml"
#: Agencies that hand receipts of identity checks.
RECEIPT_AGENCIES = (Agency.POLICE_NATIONALE, Agency.GENDARMERIE)

Documents = list[tuple[str, str]]


@dataclass
class Sweep:
    """What the run planted, and what each store held (as lower-case text, by location)."""

    canary: Canary
    data_dir: Path
    evening: Evening | None = None
    phone: Phone | None = None
    run: DemoRun | None = None
    operation: str = ""
    streams: Documents = field(default_factory=list)
    database: Documents = field(default_factory=list)
    timeline_texts: set[str] = field(default_factory=set)
    hierarchy: HierarchyView | None = None
    commands: list[str] = field(default_factory=list)

    @property
    def identity(self) -> tuple[str, ...]:
        """The canary identity's parts, as searched (lower case)."""
        return tuple(part.lower() for part in self.canary.identity)

    @property
    def phrase(self) -> str:
        """The canary phrase, as searched (lower case)."""
        return self.canary.phrase.lower()

    def planted(self, kind: str) -> dict[str, Any]:
        """The action that carries the canary: `check` or `mediation`; its event and key."""
        assert self.evening is not None
        found = [
            a
            for a in self.evening.actions
            if (kind == "check" and a.event.get("person", {}).get("surname") == self.canary.surname)
            or (kind == "mediation" and self.canary.phrase in str(a.event.get("case_notes")))
        ]
        assert len(found) == 1, f"the canary is in one {kind} exactly"
        return {**found[0].event, "key": found[0].key}


def hits(documents: Iterable[tuple[str, str]], needle: str) -> list[str]:
    """Where `needle` (lower case) occurs."""
    return [where for where, text in documents if needle in text]


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


async def _read_streams(nc: Client) -> Documents:
    documents: Documents = []
    for info in await nc.jetstream().streams_info():
        name = info.config.name
        assert name is not None
        for msg in await read_all(nc, name):
            text = json.dumps(dict(msg.headers or {}), ensure_ascii=False)
            text += msg.data.decode("utf-8", "replace")
            where = f"stream {name} #{msg.metadata.sequence.stream} {msg.subject}"
            documents.append((where, text.lower()))
    return documents


async def _read_database(conn: asyncpg.Connection) -> Documents:
    tables = await conn.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
    )
    documents: Documents = []
    for table in tables:
        name = f'"{table["table_schema"]}"."{table["table_name"]}"'
        for row in await conn.fetch(f"SELECT t::text AS row FROM {name} t"):  # noqa: S608
            documents.append((name, str(row["row"]).lower()))
    return documents


def _write_reports(sweep: Sweep) -> None:
    """`interforces report debrief` and `report public` for the demo operation."""
    where = ["--op", sweep.operation, "--out", str(sweep.data_dir / "reports")]
    where += ["--data-dir", str(sweep.data_dir)]
    for arguments in (["debrief", "--motive", "recherche de canaris", *where], ["public", *where]):
        result = CliRunner().invoke(report.app, arguments)
        assert result.exit_code == 0, result.output
        sweep.commands.append(result.output)


def searching(sweep: Sweep) -> Any:
    """The demo's `after` hook: search what the running system holds, write the reports."""

    async def search(stack: Stack, summary: Summary) -> None:
        sweep.operation = summary.operation
        await asyncio.to_thread(_write_reports, sweep)  # first: their consultations are searched
        nc = await nats.connect(stack.nats_url)
        try:
            sweep.streams = await _read_streams(nc)
        finally:
            await nc.close()
        conn = await asyncpg.connect(stack.database_url)
        try:
            sweep.database = await _read_database(conn)
            crisis_cell = Principal(name="canaris", role=Role.CRISIS_CELL)
            sweep.hierarchy = await read_hierarchy(
                conn, crisis_cell, mode=Mode.LIVE, operation=summary.operation
            )
            rows = await conn.fetch(
                "SELECT envelope->'data' AS data FROM timeline_events WHERE operation = $1",
                summary.operation,
            )
        finally:
            await conn.close()
        sweep.timeline_texts = {
            t for r in rows for t in _texts(json.loads(r["data"])) if " " in t.strip()
        }

    return search


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    """The demo played with canaries planted, and what its stores held while it ran."""
    found = Sweep(canary=Canary.fresh(), data_dir=tmp_path_factory.mktemp("canaries"))

    def planted(*args: Any, **kwargs: Any) -> Evening:
        found.evening = build_evening(*args, **kwargs, canary=found.canary)
        return found.evening

    async def play_with_phone(evening: Evening, nc: Client, *args: Any, **kw: Any) -> PlayResult:
        phone = Phone(nc, evening.mode, evening.operation, RECEIPT_AGENCIES)
        async with phone:
            result = await real_play(evening, nc, *args, **kw)
            await phone.wait_for(expected_receipts(evening), timeout_s=10)
        found.phone = phone
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo_run, "build_evening", planted)
        patch.setattr(demo_run, "play", play_with_phone)
        found.run = asyncio.run(
            run_demo(
                CHARTER,
                data_dir=found.data_dir,
                speed=3000,
                trace_file=found.data_dir / "traces.jsonl",
                after=searching(found),
            )
        )
    return found


# --- the receipt, and the record the forces keep ------------------------------------------


def test_the_identity_reaches_the_persons_phone(sweep: Sweep) -> None:
    assert sweep.phone is not None
    assert sweep.evening is not None
    check = sweep.planted("check")
    received = {r.check: r for r in sweep.phone.receipts()}
    assert len(received) == expected_receipts(sweep.evening) == 8
    attestation = received[check["check"]].attestation()
    assert sweep.canary.surname in attestation
    assert sweep.canary.given_names in attestation
    # and only that person's receipt names them
    others = [m.data for m in sweep.phone.messages if check["check"].encode() not in m.data]
    assert not [m for m in others if sweep.canary.surname.encode() in m]


def test_the_hierarchy_lists_the_check_without_the_identity(sweep: Sweep) -> None:
    assert sweep.hierarchy is not None
    check = sweep.planted("check")
    assert check["check"] in {c.check for c in sweep.hierarchy.checks}
    assert [t.count for t in sweep.hierarchy.by_officer if t.key == check["officer_number"]]
    listed = sweep.hierarchy.model_dump_json().lower()
    assert [part for part in sweep.identity if part in listed] == []


# --- what the system holds ------------------------------------------------------------------


def test_no_stream_holds_either_canary(sweep: Sweep) -> None:
    check, mediation = sweep.planted("check"), sweep.planted("mediation")
    # the records are there (proposal, timeline, feeds): the search sees them
    assert len(hits(sweep.streams, check["check"].lower())) >= 2
    assert len(hits(sweep.streams, mediation["mediation"].lower())) >= 2
    for needle in (*sweep.identity, sweep.phrase):
        assert hits(sweep.streams, needle) == [], needle


def test_no_table_of_postgresql_holds_either_canary(sweep: Sweep) -> None:
    check, mediation = sweep.planted("check"), sweep.planted("mediation")
    assert '"public"."timeline_events"' in hits(sweep.database, check["check"].lower())
    assert '"public"."timeline_events"' in hits(sweep.database, mediation["mediation"].lower())
    assert hits(sweep.database, "report debrief")  # the reports' consultations, journaled
    for needle in (*sweep.identity, sweep.phrase):
        assert hits(sweep.database, needle) == [], needle


def _files(paths: Iterable[Path]) -> Documents:
    return [(str(p), p.read_text(encoding="utf-8", errors="replace").lower()) for p in paths]


def test_no_log_holds_either_canary(sweep: Sweep) -> None:
    logs = _files(sorted((sweep.data_dir / "logs").glob("*.log")))
    # the services logged the two reports (by their keys): the search reads their logs
    assert hits(logs, sweep.planted("check")["key"].lower())
    assert hits(logs, sweep.planted("mediation")["key"].lower())
    for needle in (*sweep.identity, sweep.phrase):
        assert hits(logs, needle) == [], needle


def test_no_exported_trace_holds_either_canary(sweep: Sweep) -> None:
    traces = _files([sweep.data_dir / "traces.jsonl"])
    assert hits(traces, sweep.operation.lower())
    for needle in (*sweep.identity, sweep.phrase):
        assert hits(traces, needle) == [], needle


def test_no_report_holds_either_canary(sweep: Sweep) -> None:
    directory = sweep.data_dir / "reports"
    names = ("debrief.json", "debrief.html", HTML_FILE, CSV_FILE)
    reports = _files(directory / name for name in names)
    assert hits(reports, "identity_check")  # the checks are counted in both
    for needle in (*sweep.identity, sweep.phrase):
        assert hits(reports, needle) == [], needle


def test_the_public_report_of_the_demo_is_aggregates_only(sweep: Sweep) -> None:
    directory = sweep.data_dir / "reports"
    page = (directory / HTML_FILE).read_text(encoding="utf-8")
    table = (directory / CSV_FILE).read_text(encoding="utf-8")
    values = {(r["table"], r["label"]): r["value"] for r in csv.DictReader(io.StringIO(table))}
    # the evening's eight checks are published; its six refusals too, but not one reason
    assert values["identity_checks_by_legal_basis", "total"] == "8"
    assert values["rejections_by_reason", "total"] == "6"
    reasons = {v for (t, label), v in values.items() if t == "rejections_by_reason"}
    assert reasons == {"< 5", "6"}
    assert all(not v.isdigit() or int(v) >= 5 for v in values.values())
    # and nothing written on the timeline (descriptions, outcomes, motives, places…) is in it
    assert len(sweep.timeline_texts) > 50
    assert [t for t in sweep.timeline_texts if t in page or t in table] == []


def test_the_phrase_stays_in_the_mediation_store_and_the_identity_in_none(sweep: Sweep) -> None:
    stores: Documents = []
    for path in sorted(sweep.data_dir.glob(f"*/{PRIVATE_STORE_FILE}")):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            stores.append((path.parent.name, "\n".join(db.iterdump()).lower()))
        finally:
            db.close()
    assert {name for name, _ in stores} >= {"mediation", "police_nationale"}
    assert hits(stores, sweep.phrase) == ["mediation"]
    for needle in sweep.identity:
        assert hits(stores, needle) == [], needle


def test_on_disk_the_identity_is_nowhere_and_the_phrase_only_with_the_mediators(
    sweep: Sweep,
) -> None:
    check = sweep.planted("check")["check"].lower()
    found: dict[str, list[Path]] = {n: [] for n in (*sweep.identity, sweep.phrase, check)}
    files = [p for p in sweep.data_dir.rglob("*") if p.is_file() and not p.is_symlink()]
    for path in files:
        data = path.read_bytes().lower()
        for needle, where in found.items():
            if needle.encode() in data:
                where.append(path)
    assert len(files) > 20
    # the embedded servers' files are read: the record of the check is in them
    for server in ("nats", "postgres"):
        if (sweep.data_dir / server).is_dir():
            assert [p for p in found[check] if sweep.data_dir / server in p.parents], server
    mediators = sweep.data_dir / Agency.MEDIATION.value
    assert found[sweep.phrase], "the phrase is on disk, in mediation's store"
    assert [p for p in found[sweep.phrase] if mediators not in p.parents] == []
    for needle in sweep.identity:
        assert found[needle] == [], needle
