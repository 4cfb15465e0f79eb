"""`interforces exercise run FILE --speed N --json` starts the whole system by itself (no
NATS_URL / DATABASE_URL), runs the scenario, prints the evaluation summary and writes the
after-action report under its data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interforces.commands.exercise import app

pytestmark = pytest.mark.integration

SHORT = Path(__file__).resolve().parents[2] / "unit" / "exercise" / "data" / "short.yaml"


def test_run_prints_the_evaluation_summary_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    data = tmp_path / "exercise"
    result = CliRunner().invoke(
        app, ["run", str(SHORT), "--speed", "100", "--json", "--data-dir", str(data)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {"expected", "met", "late", "missed", "violations"} <= set(summary)
    assert summary["expected"] == 4
    assert summary["missed"] >= 1  # nobody answers EXP-DENSITE in a dry run
    assert summary["seed"] == 7  # the scenario's
    assert summary["operation"].startswith("court-s7-")
    report = Path(summary["report"])
    assert report.is_relative_to(data / "reports")
    assert report.exists()
    assert (report.parent / "report.md").exists()
