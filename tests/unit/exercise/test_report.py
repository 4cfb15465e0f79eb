"""The after-action report: HTML with its figures, Markdown and CSV a player without an
account can read, every one of them marked EXERCICE, none holding personal data."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from simulations.exercise.evaluation import evaluate
from simulations.exercise.report import BANNER, write_report

from .scenarios import SHIPPED, offline_records, planned

pytestmark = pytest.mark.unit

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_report_is_written_marked_and_without_personal_data(tmp_path: Path) -> None:
    # given a night of urban violence played offline (identity checks, case notes, texts)
    loaded, plan = planned(SHIPPED / "violences-urbaines.yaml", 2026)
    records = offline_records(plan)
    evaluation = evaluate(loaded, plan, records, digest="d" * 64)
    # when its report is written
    files = write_report(evaluation, records, tmp_path / "report")
    # then every document is there
    names = sorted(p.name for p in files.directory.iterdir())
    assert names == [
        "agencies.csv",
        "delays.png",
        "expected.csv",
        "objectives.csv",
        "report.html",
        "report.md",
        "swimlane.png",
        "timeline.csv",
        "violations.csv",
    ]
    for image in files.images:
        assert image.read_bytes().startswith(PNG)
    # marked EXERCICE at the top and the bottom of the page and the Markdown
    for page in (files.html, files.markdown):
        text = page.read_text(encoding="utf-8")
        assert text.count(BANNER) >= 2
        assert "d" * 64 in text
    html = files.html.read_text(encoding="utf-8")
    assert 'src="swimlane.png"' in html
    assert 'src="delays.png"' in html
    # and on every row of every CSV
    for table in files.csv:
        with table.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0][0] == "exercice"
        assert all(row[0] == "EXERCICE" for row in rows[1:]), table.name
    timeline = list(csv.reader(files.csv[-1].open(encoding="utf-8")))
    assert len(timeline) == len(records) + 1
    # and nothing personal: no checked person's identity, no case note, no free text
    for given in ("Personne fictive A", "Notes de médiation", "Jets de projectiles"):
        assert any(given in str(s.event) for s in plan.steps)
        for path in (files.html, files.markdown, *files.csv):
            assert given not in path.read_text(encoding="utf-8"), (given, path.name)


def test_expected_actions_and_violations_reach_the_exports(tmp_path: Path) -> None:
    loaded, plan = planned(SHIPPED / "concert-stade.yaml", 2026)
    records = offline_records(plan)
    evaluation = evaluate(loaded, plan, records)
    files = write_report(evaluation, records, tmp_path)
    expected = list(csv.DictReader((tmp_path / "expected.csv").open(encoding="utf-8")))
    assert [row["id"] for row in expected] == [e.id for e in loaded.scenario.expected]
    assert {row["résultat"] for row in expected} <= {"met", "late", "missed"}
    violations = list(csv.DictReader((tmp_path / "violations.csv").open(encoding="utf-8")))
    assert {(row["inject"], row["prévue"]) for row in violations} == {
        ("INJ-DRONE-TOT", "oui"),
        ("INJ-SP-HORS-SITE", "oui"),
    }
    markdown = files.markdown.read_text(encoding="utf-8")
    assert "## Actions attendues" in markdown
    assert "drone_not_authorised" in markdown
