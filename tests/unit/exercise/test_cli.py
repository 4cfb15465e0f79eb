"""`interforces exercise`: validate says what is wrong where and exits 1; the remote control
says when there is nothing to reach."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interforces.commands.exercise import app

from .scenarios import DATA, SHIPPED

pytestmark = pytest.mark.unit


def test_validate_summarises_a_valid_scenario() -> None:
    result = CliRunner().invoke(app, ["validate", "--json", str(SHIPPED / "crue-pcs.yaml")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["scenario"] == "crue-pcs"
    assert summary["planned_refusals"] == 1
    assert summary["steps"]["inject"] == 6


def test_validate_lists_each_fault_with_its_line_and_exits_1() -> None:
    path = DATA / "broken-structure.yaml"
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
    assert lines[0].startswith(f"{path}: scénario invalide (5 problème(s))")
    assert f"{path}:12: injects[0].at: " in result.stderr


def test_run_refuses_a_speed_beyond_a_hundred() -> None:
    result = CliRunner().invoke(app, ["run", str(SHIPPED / "crue-pcs.yaml"), "--speed", "500"])
    assert result.exit_code == 2
    assert "--speed" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["pause", "--op", "crue-pcs-s1-abcdef"],
        ["inject", "--op", "crue-pcs-s1-abcdef", "--target", "crisis_cell", "--message", "x"],
    ],
)
def test_the_remote_control_needs_a_running_system(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, [*command, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "NATS_URL is not set" in result.stderr


def test_run_refuses_a_run_id_that_is_no_subject_token() -> None:
    result = CliRunner().invoke(
        app, ["run", str(SHIPPED / "crue-pcs.yaml"), "--run-id", "Mauvais Nom"]
    )
    assert result.exit_code == 2
    assert "--run-id" in result.stderr
