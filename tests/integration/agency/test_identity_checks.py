"""An identity check from the unit to the hierarchy, on a real nats-server and PostgreSQL:
the person's phone reads the whole attestation; the record the coordinator appends and the
projector keeps holds everything but the identity; the hierarchy lists who checked, where
and why — the crisis cell every force's checks, the police its own, nobody else any."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client
from unit.agency.builders import (
    BIRTH_DATE,
    FESTIVAL,
    GIVEN_NAMES,
    OPERATION,
    SURNAME,
    check_facts,
    recepisse_issued,
    report_of,
)

from contracts import subjects
from contracts.charter.loader import load_charter
from contracts.events.identity_checks import IdentityCheckRecorded
from contracts.ids import OperationId
from contracts.reports import ReportStatus
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from integration.agency.harness import Phone, Started, send_report, start
from integration.crisis_api.conftest import CALLERS, headers
from integration.jetstream import read_all
from integration.timeline.conftest import publish, running, settings_for, wait_checkpoint
from services.coordinator.domain import Coordinator, Incoming
from services.coordinator.perimeter import compile_charter
from services.crisis_api.app import create_app
from services.crisis_api.auth import TokenRegistry
from services.crisis_api.hierarchy_routes import PATH
from services.crisis_api.hierarchy_routes import router as hierarchy_router
from services.crisis_api.settings import CrisisApiSettings
from services.police_nationale.app import PROFILE as POLICE_NATIONALE

pytestmark = pytest.mark.integration

PROPOSALS = subjects.stream_name(Mode.LIVE, StreamRole.PROPOSALS)
IDENTITY = (SURNAME, GIVEN_NAMES, BIRTH_DATE)
VIEW = "/v1" + PATH.format(mode="live", operation=OPERATION)


def with_hierarchy(app: FastAPI) -> FastAPI:
    """The API with the hierarchy's route (once: the app may already register it)."""
    if not any(getattr(r, "path", None) == f"/v1{PATH}" for r in app.routes):
        app.include_router(hierarchy_router)
    return app


@pytest.fixture
async def police(nats_url: str, tmp_path: Path) -> AsyncIterator[Started]:
    started = await start(POLICE_NATIONALE, nats_url, tmp_path)
    yield started
    await started.stop()


@pytest.fixture
async def checked(
    police: Started, client: Client, nats_url: str, database_url: str
) -> dict[str, Any]:
    """A check reported by a police unit, read by the person's phone, decided by the
    coordinator's core, appended to the timeline and projected."""
    phone = Phone(client, Mode.LIVE, OPERATION, [Agency.POLICE_NATIONALE])
    async with phone:
        report = report_of(police.key, Agency.POLICE_NATIONALE, recepisse_issued())
        ack = await send_report(client, report, Agency.POLICE_NATIONALE)
        assert ack.status is ReportStatus.PROPOSED
        assert await phone.wait_for(1, timeout_s=10)
    [proposal] = await read_all(client, PROPOSALS)
    core = Coordinator({OperationId(OPERATION): compile_charter(load_charter(FESTIVAL))})
    outcome = core.decide(
        Mode.LIVE,
        Incoming(proposal.subject, proposal.headers or {}, proposal.data, datetime.now(UTC)),
    )
    assert outcome.accepted, outcome.reasons
    seq = await publish(client, outcome.record, deliveries=outcome.deliveries)
    async with running(settings_for(nats_url, database_url)):
        await wait_checkpoint(database_url, seq)
    return {"phone": phone, "outcome": outcome}


@pytest.fixture
async def api(
    nats_url: str, database_url: str, checked: dict[str, Any], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = CrisisApiSettings(
        nats_url=nats_url, database_url=database_url, charters=(), secrets_dir=tmp_path / "api"
    )
    app = with_hierarchy(create_app(settings, TokenRegistry(CALLERS)))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield http


async def test_the_phone_reads_the_whole_attestation(checked: dict[str, Any]) -> None:
    [receipt] = checked["phone"].receipts()
    attestation = receipt.attestation()
    facts = check_facts()
    for item in (SURNAME, GIVEN_NAMES, facts["motives"][0], facts["place"], facts["grade"]):
        assert item in attestation
    assert f"(RIO) {facts['officer_number']}" in attestation
    assert checked["phone"].checks == [facts["check"]]


async def test_the_record_kept_holds_everything_but_the_identity(
    checked: dict[str, Any], database_url: str
) -> None:
    # the coordinator routes the record to the police and the crisis cell only
    outcome = checked["outcome"]
    assert {d.to for d in outcome.deliveries} == {Agency.POLICE_NATIONALE, Agency.CRISIS_CELL}
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT type, t::text AS row FROM timeline_events t")
    finally:
        await conn.close()
    # the projection keeps the record with the officer, place and motive, no identity
    [(kind, row)] = [(r["type"], r["row"]) for r in rows]
    assert kind == IdentityCheckRecorded.model_fields["type"].default
    facts = check_facts()
    assert facts["officer_number"] in row
    assert facts["check"] in row
    for part in IDENTITY:
        assert part not in row


async def test_the_hierarchy_sees_who_checked_where_and_why(api: httpx.AsyncClient) -> None:
    facts = check_facts()
    answer = await api.get(VIEW, headers=headers("crisis"))
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["total"] == 1
    [officer] = view["by_officer"]
    assert (officer["key"], officer["count"], officer["checks"]) == (
        facts["officer_number"],
        1,
        [facts["check"]],
    )
    assert (officer["grade"], officer["service"]) == (facts["grade"], facts["service"])
    assert [(t["key"], t["count"]) for t in view["by_place"]] == [(facts["place"], 1)]
    assert [(t["key"], t["count"]) for t in view["by_motive"]] == [(facts["motives"][0], 1)]
    assert [t["key"] for t in view["by_ground"]] == ["prosecutor_requisitions"]
    for part in IDENTITY:
        assert part not in answer.text
    # the police sees its own checks, the same
    police = await api.get(VIEW, headers=headers("police"))
    assert police.json() == {**view, "agency": "police_nationale"}


async def test_nobody_else_sees_the_checks(api: httpx.AsyncClient) -> None:
    for other in ("private", "mediation"):
        answer = await api.get(VIEW, headers=headers(other))
        assert answer.status_code == 200
        assert (answer.json()["total"], answer.json()["checks"]) == (0, [])
    assert (await api.get(VIEW, headers=headers("trainer"))).status_code == 403
    assert (await api.get(VIEW, headers=headers("oversight"))).status_code == 403
    unmotivated = await api.get(VIEW, headers=headers("crisis", motive=None))
    assert unmotivated.status_code == 400


async def test_each_look_at_the_checks_is_journaled(
    api: httpx.AsyncClient, database_url: str
) -> None:
    await api.get(VIEW, headers=headers("crisis", motive="contrôle hiérarchique"))
    conn = await asyncpg.connect(database_url)
    try:
        entry = await conn.fetchrow(
            "SELECT who, action, motive, result_count FROM consultation_journal"
            " ORDER BY seq DESC LIMIT 1"
        )
    finally:
        await conn.close()
    assert entry is not None
    assert dict(entry) == {
        "who": "cic",
        "action": f"GET /v1{PATH}",
        "motive": "contrôle hiérarchique",
        "result_count": 1,
    }
