"""`interforces perimeter decide`: a deputy's dry run of the shipped sample batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from interforces.cli import app

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CHARTER = ROOT / "infra" / "charters" / "fete-musique-presquile.yaml"
SAMPLES = ROOT / "simulations" / "samples" / "fete-musique-proposals.jsonl"


def _run(*args: str, stdin: str | None = None) -> tuple[int, list[dict[str, Any]], str]:
    result = CliRunner().invoke(
        app,
        ["perimeter", "decide", "--charter", str(CHARTER), *args],
        input=SAMPLES.read_text(encoding="utf-8") if stdin is None else stdin,
    )
    decisions = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, decisions, result.stdout


def test_the_sample_night_is_decided_line_by_line() -> None:
    # Given the sample batch of the Fête de la musique
    lines = [line for line in SAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    # When it is dry-run against the shipped charter
    code, decisions, _ = _run()
    # Then every line gets exactly one decision, and refusals do not fail the run
    assert code == 0
    assert [d["line"] for d in decisions] == list(range(1, len(lines) + 1))
    by_id = {d.get("id"): d for d in decisions}
    outcomes = {i: d["outcome"] for i, d in by_id.items()}
    assert outcomes["pm-0001"] == "accepted"
    assert outcomes["med-0001"] == "rejected"  # reinforcement before its 20:00 window
    # The crisis cell cannot send mediators onto a fight, and is told who can go
    refused = by_id["pc-0001"]
    assert {r["code"] for r in refused["reasons"]} == {
        "assignee_not_competent",
        "violent_situation_forbidden",
    }
    assert refused["competent_agencies"] == ["police_nationale", "police_municipale"]
    assert outcomes["pc-0002"] == "accepted"  # the police, then
    assert outcomes["pn-0001"] == "accepted"  # which acknowledges
    assert {r["code"] for r in by_id["med-0004"]["reasons"]} == {"not_assignee"}
    # A spoofed agency is refused, and the refusal goes to the real publisher
    spoofed = by_id["pn-0099"]
    assert {r["code"] for r in spoofed["reasons"]} == {"identity_mismatch"}
    assert [r["recipient"] for r in spoofed["recipients"]] == ["crisis_cell", "securite_privee"]


def test_nothing_personal_comes_out_of_a_dry_run() -> None:
    # Given a batch holding mediation case notes and a receipt with a person's identity
    sample = SAMPLES.read_text(encoding="utf-8")
    assert "Canari" in sample
    assert "Exemple" in sample
    # When it is dry-run
    _, decisions, stdout = _run()
    # Then the notes are withheld from the record, the receipt is refused as not shareable,
    # and neither the phrase nor the name appears in what the command prints
    by_id = {d.get("id"): d for d in decisions}
    assert by_id["med-0005"]["withheld"] == ["case_notes"]
    assert "not_shareable" in {r["code"] for r in by_id["pn-0003"]["reasons"]}
    assert "Canari" not in stdout
    assert "Exemple" not in stdout
    # And the identity check record reaches its own force and the crisis cell only
    record = by_id["pn-0002"]
    assert {r["recipient"] for r in record["recipients"]} == {"crisis_cell", "police_nationale"}


def test_fail_on_reject_turns_refusals_into_an_exit_code() -> None:
    # Given the sample batch, which holds refusals, and then one accepted line alone
    first_line = SAMPLES.read_text(encoding="utf-8").splitlines()[0] + "\n"
    # When it is dry-run with --fail-on-reject
    # Then the run fails on the batch and passes on the accepted line
    assert _run("--fail-on-reject")[0] == 1
    assert _run("--fail-on-reject", stdin=first_line)[0] == 0


def test_an_invalid_charter_stops_the_dry_run(tmp_path: Path) -> None:
    # Given a charter with a YAML error
    broken = tmp_path / "broken.yaml"
    broken.write_text("operation: [unclosed\n", encoding="utf-8")
    # When a dry run is asked against it
    result = CliRunner().invoke(app, ["perimeter", "decide", "--charter", str(broken)], input="")
    # Then it stops with exit code 2 and says where the fault is
    assert result.exit_code == 2
    assert "broken.yaml:" in result.output
