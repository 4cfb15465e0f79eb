"""Exercises on the whole system (a Stack: nats-server, PostgreSQL, the services), a short
scenario at ×100: two runs of one seed leave the same digest and another seed another; a
run the trainers pause, speed and inject into — from the command channel and the API —
leaves the same timeline plus its live inject; each run is evaluated and reported, and
the evaluation's reading of the timeline is journaled."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.aio.client import Client
from typer.testing import CliRunner

from contracts.events.exercise import ExerciseInjected
from contracts.vocabulary import Agency
from interforces.commands.exercise import app as exercise_cli
from interforces.stack.stack import Stack, StackSettings
from services.crisis_api.app import create_app
from services.crisis_api.auth import Caller, Role, TokenRegistry
from services.crisis_api.exercise_routes import router as exercise_router
from services.crisis_api.settings import CrisisApiSettings
from services.timeline.domain import TimelineRecord
from simulations.exercise.control import ControlRequest, RunStatus, control
from simulations.exercise.digest import exercise_digest
from simulations.exercise.errors import ControlError
from simulations.exercise.evaluation import Status
from simulations.exercise.records import exercise_records
from simulations.exercise.runner import ExerciseRun, PreparedRun, play_run, prepare_run
from simulations.exercise.validation import validate_scenario

pytestmark = pytest.mark.integration

SHORT = Path(__file__).resolve().parents[2] / "unit" / "exercise" / "data" / "short.yaml"
TRAINER = "token-formateur-0123456789abcdef"
AGENCY = "token-police-municipale-0123456789abcdef"
CALLERS = (
    Caller(name="formateur", role=Role.TRAINER, token=TRAINER),
    Caller(name="pm", role=Role.AGENCY, agency=Agency.POLICE_MUNICIPALE, token=AGENCY),
)


@asynccontextmanager
async def api(stack: Stack, secrets: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The crisis-cell API on the stack's servers, with the exercise routes."""
    settings = CrisisApiSettings(
        nats_url=stack.nats_url,
        database_url=stack.database_url,
        charters=(),
        secrets_dir=secrets,
    )
    app: FastAPI = create_app(settings, TokenRegistry(CALLERS))
    if not any(str(getattr(r, "path", "")).startswith("/v1/exercises") for r in app.routes):
        app.include_router(exercise_router)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test", timeout=30
        ) as http,
    ):
        yield http


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _running(nc: Client, operation: str) -> RunStatus:
    """Wait until the run answers its trainers; its status."""
    for _ in range(300):
        try:
            reply = await control(nc, operation, ControlRequest(action="status"), timeout_s=1)
        except ControlError:
            await asyncio.sleep(0.1)
            continue
        if reply.status is not None and reply.status.done > 0:
            return reply.status
        await asyncio.sleep(0.1)
    raise AssertionError(f"{operation} never answered")


async def steer(stack: Stack, run: PreparedRun, secrets: Path) -> dict[str, Any]:
    """Pause the run from the command channel, inject and resume it through the API."""
    seen: dict[str, Any] = {}
    nc = await nats.connect(stack.nats_url)
    try:
        operation = run.operation
        await _running(nc, operation)
        paused = await control(nc, operation, ControlRequest(action="pause"))
        assert paused.status is not None
        seen["paused"] = paused.status
        await asyncio.sleep(1.0)  # at ×100, more than a scenario minute if it were running
        still = await control(nc, operation, ControlRequest(action="status"))
        seen["still"] = still.status
        async with api(stack, secrets) as http:
            base = f"/v1/exercises/{operation}"
            seen["agency"] = await http.post(f"{base}/pause", headers=_as(AGENCY))
            live = {"target": "mediation", "message": "Un riverain appelle : bagarre de chiens"}
            seen["inject"] = await http.post(f"{base}/injects", json=live, headers=_as(TRAINER))
            seen["slower"] = await http.post(
                f"{base}/speed", json={"speed": 50}, headers=_as(TRAINER)
            )
            seen["resumed"] = await http.post(f"{base}/resume", headers=_as(TRAINER))
            seen["nobody"] = await http.get("/v1/exercises/court-s1-ffffff", headers=_as(TRAINER))
    finally:
        await nc.close()
    return seen


async def test_runs_are_deterministic_steerable_evaluated_and_reported(tmp_path: Path) -> None:
    # given four runs of the short scenario: seed 7 twice, seed 8, and seed 7 steered
    loaded = validate_scenario(SHORT).loaded
    runs = [prepare_run(loaded, seed=s, directory=tmp_path / "charters") for s in (7, 7, 8, 7)]
    settings = StackSettings(
        data_dir=tmp_path / "stack", charters=tuple(r.charter_path for r in runs)
    )
    async with Stack(settings) as stack:
        # when they play side by side at ×100 while the trainers steer the fourth
        steering = asyncio.create_task(steer(stack, runs[3], tmp_path / "api-secrets"))
        played: list[ExerciseRun] = await asyncio.gather(
            *(
                play_run(
                    run,
                    stack.nats_url,
                    stack.database_url,
                    stack.secrets_dir,
                    speed=100,
                    report_dir=tmp_path / "reports" / run.operation,
                )
                for run in runs
            )
        )
        seen = await steering
        # the report is written again from the timeline, by the command line
        rewritten = await asyncio.to_thread(
            CliRunner().invoke,
            exercise_cli,
            ["report", str(SHORT), "--op", runs[0].operation, "--out", str(tmp_path / "again")],
            env={"DATABASE_URL": stack.database_url, "NATS_URL": stack.nats_url},
        )
        conn = await asyncpg.connect(stack.database_url)
        try:
            steered = await exercise_records(conn, runs[3].operation)
            journal = await conn.fetch(
                "SELECT role, action, mode, operation, status FROM consultation_journal"
                " WHERE mode = 'exercise' ORDER BY seq"
            )
        finally:
            await conn.close()

    # then two runs of a seed leave the same digest, another seed another
    digests = [run.evaluation.digest for run in played]
    assert digests[0] == digests[1]
    assert digests[2] != digests[0]
    # and the report written again from the timeline says the same
    assert rewritten.exit_code == 0, rewritten.output
    assert digests[0] in (tmp_path / "again" / "report.md").read_text(encoding="utf-8")
    # and each run is evaluated from its own timeline and reported
    for run in played:
        _evaluated_and_reported(run)
    # the steered run paused, took its live inject, and but for it played the same
    _steered(seen, played[3], steered, digests[0])
    # every evaluation's reading and every API call is journaled, in exercise mode
    actions = [(row["action"], row["operation"]) for row in journal]
    for prepared in runs:
        assert ("exercise evaluate", prepared.operation) in actions
    assert ("POST /v1/exercises/{operation}/injects", runs[3].operation) in actions
    assert ("exercise report", runs[0].operation) in actions
    refused = ("agency", "POST /v1/exercises/{operation}/pause", runs[3].operation, 403)
    assert refused in [(r["role"], r["action"], r["operation"], r["status"]) for r in journal]


def _evaluated_and_reported(run: ExerciseRun) -> None:
    """The answered actions found, the unanswered one missed, the deliberate substitution
    refused as planned, every step recorded once, the report written and marked."""
    summary = run.summary()
    assert summary["expected"] == 4
    assert summary["met"] + summary["late"] == 3
    assert summary["missed"] == 1
    missed = {e.id for e in run.evaluation.expected if e.status is Status.MISSED}
    assert missed == {"EXP-DENSITE"}
    assert summary["violations"] == summary["violations_planned"] == 1
    assert summary["records"] == len(run.prepared.plan.steps) + summary["live_injects"]
    assert run.play.undelivered == run.play.failed == 0
    assert run.report is not None
    assert run.report.html.exists()
    assert "EXERCICE" in run.report.markdown.read_text(encoding="utf-8")
    assert json.loads(json.dumps(summary, default=str))["scenario"] == "court"


def _steered(
    seen: dict[str, Any], run: ExerciseRun, records: list[TimelineRecord], digest: str
) -> None:
    # its clock stood still while paused
    paused, still = seen["paused"], seen["still"]
    assert paused.paused
    assert still.paused
    assert still.clock == paused.clock
    # an agency may not steer it; the trainer injected, slowed it down and resumed it
    assert seen["agency"].status_code == 403
    assert seen["inject"].status_code == 201, seen["inject"].text
    sent = seen["inject"].json()
    assert sent["inject"]["inject"] == "LIVE-01"
    assert sent["status"]["live_injects"] == 1
    assert seen["slower"].json()["speed"] == 50
    assert seen["resumed"].status_code == 200
    assert seen["resumed"].json()["paused"] is False
    assert seen["nobody"].status_code == 404
    # its timeline holds the live inject, at the scenario time it was sent, for mediation
    [live] = run.evaluation.live_injects
    assert (live.inject, live.target) == ("LIVE-01", "mediation")
    assert live.at.replace(microsecond=0) == paused.clock.replace(microsecond=0)
    injected = {r.envelope.data for r in records if isinstance(r.envelope.data, ExerciseInjected)}
    assert {i.inject for i in injected} == {"INJ-MESSAGE", "LIVE-01"}
    # and but for it, the same timeline as an unsteered run of its seed: pausing and
    # changing speed move no scenario time
    rest = [r for r in records if r.envelope.id != sent["inject"]["event_id"]]
    assert exercise_digest(rest) == digest
