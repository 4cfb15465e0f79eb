"""`interforces report public` on a projected timeline: aggregates only, small counts shown
as "< threshold", and nothing written in the timeline's free text reaches the files."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client
from typer.testing import CliRunner, Result
from unit.agency.builders import identity_check_recorded
from unit.timeline.builders import FEST, envelope

from contracts.events.identity_checks import IdentityCheckRecorded
from contracts.events.mediation import MediationClosed, MediationStarted, MediationTopic
from contracts.geo import GeoPoint
from contracts.vocabulary import Agency
from integration.crisis_api.conftest import OPERATION, publish_evening
from integration.timeline.conftest import publish, running, settings_for, wait_checkpoint
from interforces.commands import report
from services.crisis_api.public_report import CSV_FILE, HTML_FILE

pytestmark = pytest.mark.integration

MOTIVE = "Réquisitions du procureur : vols en réunion sur la Presqu'île"


def check(number: int, ground: str) -> IdentityCheckRecorded:
    numbered = {"check": f"RC-{number}", "officer_number": f"{number:07d}", "ground": ground}
    return IdentityCheckRecorded.model_validate({**identity_check_recorded(), **numbered})


def mediation(number: int, topic: str) -> MediationStarted:
    return MediationStarted(
        mediation=f"MED-{number}", topic=MediationTopic(topic), position=GeoPoint(**FEST)
    )


def closed(number: int) -> MediationClosed:
    return MediationClosed(mediation=f"MED-{number}", outcome="Échange apaisé, chacun repart")


@pytest.fixture
async def projected(nats_url: str, database_url: str, client: Client) -> str:
    """The crisis-cell tests' evening, six identity checks and six mediations (two closed),
    projected into `database_url`."""
    await publish_evening(client)
    police, mediators = Agency.POLICE_NATIONALE, Agency.MEDIATION
    checks = [check(n, "prosecutor_requisitions") for n in range(1, 6)]
    checks.append(check(6, "offence_suspected"))
    records = [envelope(c, police, unit="PN-1", sector="station") for c in checks]
    rounds = [mediation(n, "noise") for n in range(1, 6)] + [mediation(6, "dialogue")]
    records += [envelope(m, mediators, unit="MED-1", sector="fest") for m in rounds]
    records += [envelope(closed(n), mediators, unit="MED-1") for n in (1, 2)]
    last = 0
    for record in records:
        last = await publish(client, record)
    async with running(settings_for(nats_url, database_url)):
        await wait_checkpoint(database_url, last)
    return database_url


@pytest.fixture
def configured(projected: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The command's environment: this database, no charter."""
    monkeypatch.setenv("DATABASE_URL", projected)
    monkeypatch.setenv("IFC_CHARTERS", "[]")
    return projected


async def public(out: Path, *options: str) -> Result:
    arguments = ["public", "--op", OPERATION, "--mode", "live", "--out", str(out), *options]
    return await asyncio.to_thread(CliRunner().invoke, report.app, arguments)


def cells(text: str) -> dict[tuple[str, str], str]:
    return {(r["table"], r["label"]): r["value"] for r in csv.DictReader(io.StringIO(text))}


async def test_the_report_publishes_aggregates_with_small_counts_suppressed(
    configured: str, tmp_path: Path
) -> None:
    result = await public(tmp_path)
    assert result.exit_code == 0, result.output
    found = cells((tmp_path / CSV_FILE).read_text(encoding="utf-8"))
    assert (tmp_path / HTML_FILE).read_text(encoding="utf-8").startswith("<!doctype html>")
    # two thefts (no sector said), one assigned: each under 5
    assert found["incidents_by_category", "theft"] == "< 5"
    assert found["incidents_by_category", "total"] == "< 5"
    assert found["incidents_by_sector", "non précisé"] == "< 5"
    # six checks on one basis; by ground, 5 and 1: the 5 goes too, or 6 - 5 would tell the 1
    assert found["identity_checks_by_legal_basis", "cpp_78_2_al2"] == "6"
    assert found["identity_checks_by_ground", "offence_suspected"] == "< 5"
    assert found["identity_checks_by_ground", "prosecutor_requisitions"] == "< 5"
    assert found["identity_checks_by_ground", "total"] == "6"
    # six mediations engaged, two closed; refusals by reason
    assert found["mediations", "engagées"] == "6"
    assert found["mediations", "clôturées"] == "< 5"
    assert found["rejections_by_reason", "outside_territory"] == "< 5"
    # and no published value is under the threshold
    assert all(not v.isdigit() or int(v) >= 5 for v in found.values())


async def test_a_lower_threshold_shows_more(configured: str, tmp_path: Path) -> None:
    result = await public(tmp_path, "--threshold", "2")
    assert result.exit_code == 0, result.output
    found = cells((tmp_path / CSV_FILE).read_text(encoding="utf-8"))
    assert found["incidents_by_category", "theft"] == "2"
    assert found["mediations", "clôturées"] == "2"


def _texts(value: Any) -> Iterator[str]:
    """Every string in a JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


async def test_nothing_written_on_the_timeline_reaches_the_report(
    configured: str, tmp_path: Path
) -> None:
    result = await public(tmp_path)
    assert result.exit_code == 0, result.output
    published = (tmp_path / HTML_FILE).read_text(encoding="utf-8")
    published += (tmp_path / CSV_FILE).read_text(encoding="utf-8")
    conn = await asyncpg.connect(configured)
    try:
        rows = await conn.fetch("SELECT unit, envelope->'data' AS data FROM timeline_events")
        journaled = await conn.fetchval(
            "SELECT count(*) FROM consultation_journal WHERE action = 'report public'"
        )
    finally:
        await conn.close()
    # free text (anything with a space), units, officers and ids of the timeline
    written = {t for r in rows for t in _texts(json.loads(r["data"])) if " " in t.strip()}
    named = {r["unit"] for r in rows if r["unit"]}
    named |= {t for r in rows for k, t in json.loads(r["data"]).items()
              if k in {"check", "officer_number", "incident", "mediation"}}  # fmt: skip
    assert MOTIVE in written
    assert {"PN-1", "0000006", "RC-6", "INC-1", "MED-6"} <= named
    assert [t for t in written | named if t in published] == []
    # and the consultation was journaled
    assert journaled == 1
