"""`interforces chaos`: one row per scenario, as a table or JSON, and its exit code says
whether every row is exact (the scenarios themselves are stood in for: test_faults runs
them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from interforces.commands import chaos as command
from simulations.chaos import FAULTS, ChaosConfig, ChaosPostgres, ChaosRow, Scenario, scenarios

pytestmark = pytest.mark.unit

KEYS = {"scenario", "sent", "accepted", "rejected", "lost", "duplicated"}


def row(scenario: Scenario, *, lost: int = 0) -> ChaosRow:
    return ChaosRow(
        scenario=scenario.value,
        sent=100,
        accepted=85,
        rejected=15 - lost,
        lost=lost,
        duplicated=0,
        unexpected=0,
        dead_letters=0,
        stream_records=100 - lost,
        projected_records=100 - lost,
        digest_equal=True,
        settled=True,
        rate=50.0,
        retries=3,
        unconfirmed=0,
        fault_at_s=0.8,
        recovery_s=1.2,
        settle_s=0.5,
        duration_s=3.0,
        detail={"note": 1},
    )


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Scenario, ChaosConfig]]:
    """Scenarios stand in for; the one named `nats-node-kill` loses a proposal."""
    calls: list[tuple[Scenario, ChaosConfig]] = []

    async def run_scenario(
        scenario: Scenario, config: ChaosConfig, postgres: ChaosPostgres
    ) -> ChaosRow:
        calls.append((scenario, config))
        return row(scenario, lost=int(scenario is Scenario.NATS_NODE_KILL))

    def no_server(self: ChaosPostgres) -> str:
        return "postgresql://stand-in/postgres"

    monkeypatch.setattr(scenarios, "run_scenario", run_scenario)
    monkeypatch.setattr(ChaosPostgres, "start", no_server)
    monkeypatch.setattr(ChaosPostgres, "stop", lambda self: None)
    return calls


def invoke(args: Sequence[str]) -> Any:
    app = typer.Typer()
    app.command()(command.chaos)
    return CliRunner().invoke(app, list(args))


def test_json_prints_one_row_per_chosen_scenario(
    ran: list[tuple[Scenario, ChaosConfig]], tmp_path: Path
) -> None:
    result = invoke(
        ["--json", "--scenario", "coordinator-kill", "--scenario", "agency-restart",
         "--rate", "50", "--seconds", "2", "--work-dir", str(tmp_path)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["scenario"] for r in rows] == ["coordinator-kill", "agency-restart"]
    assert all(set(r) >= KEYS for r in rows)
    assert [(s, c.count, c.work_dir) for s, c in ran] == [
        (Scenario.COORDINATOR_KILL, 100, tmp_path),
        (Scenario.AGENCY_RESTART, 100, tmp_path),
    ]


def test_every_fault_by_default_and_exit_1_when_a_row_lost_something(
    ran: list[tuple[Scenario, ChaosConfig]],
) -> None:
    result = invoke(["--seconds", "1"])
    assert [s for s, _ in ran] == list(FAULTS)
    assert result.exit_code == command.EXIT_INEXACT
    assert "nats-node-kill" in result.stdout
    assert "lost = sent − distinct recorded" in result.stdout


def test_an_unknown_scenario_is_refused(ran: list[tuple[Scenario, ChaosConfig]]) -> None:
    result = invoke(["--scenario", "meteor-strike"])
    assert result.exit_code == 2
    assert ran == []
