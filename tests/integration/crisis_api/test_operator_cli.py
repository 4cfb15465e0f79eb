"""The operator's commands read the timeline like the API does, and journal it too."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
from typer.testing import CliRunner, Result

from integration.crisis_api.conftest import OPERATION, RESTRICTED, Evening
from interforces.cli import app


async def invoke(database_url: str, *args: str) -> Result:
    """`interforces …` in a thread (the commands run their own event loop)."""
    env = {"DATABASE_URL": database_url, "NATS_URL": None, "COLUMNS": "200"}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def _journal(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(
            "SELECT who, role, action, motive, operation FROM consultation_journal ORDER BY seq"
        )
    finally:
        await conn.close()


async def test_timeline_show_prints_the_situation_at_an_instant(
    database_url: str, evening: Evening
) -> None:
    at_ten = await invoke(
        database_url,
        *("timeline", "show", "--op", OPERATION, "--mode", "live", "--at", "21:10", "--json"),
        *("--motive", "point de situation"),
    )
    assert at_ten.exit_code == 0, at_ten.output
    features = json.loads(at_ten.stdout)["features"]
    assert {f["id"] for f in features} == {"unit:PN-1", "incident:INC-1", "perimeter:PER-1"}
    table = await invoke(
        database_url,
        "timeline",
        "show",
        "--op",
        OPERATION,
        "--mode",
        "live",
        "--at",
        "21:45",
        *("--motive", "x"),
    )
    assert table.exit_code == 0, table.output
    assert "INC-2" in table.stdout
    assert "INC-1" not in table.stdout  # resolved at 21:40
    rows = await _journal(database_url)
    assert [(r["role"], r["action"], r["motive"]) for r in rows] == [
        ("operator", "timeline show", "point de situation"),
        ("operator", "timeline show", "x"),
    ]
    assert rows[0]["who"].startswith("cli:")


async def test_a_consultation_without_a_motive_is_refused(
    database_url: str, evening: Evening
) -> None:
    missing = await invoke(database_url, "timeline", "show", "--op", OPERATION)
    assert missing.exit_code != 0
    assert await _journal(database_url) == []


async def test_report_debrief_writes_json_and_html(
    database_url: str, evening: Evening, tmp_path: Path
) -> None:
    result = await invoke(
        database_url,
        *("report", "debrief", "--op", OPERATION, "--mode", "live", "--out", str(tmp_path)),
        *("--motive", "retour d'expérience"),
    )
    assert result.exit_code == 0, result.output
    debrief = json.loads((tmp_path / "debrief.json").read_text())
    assert [i["incident"] for i in debrief["incidents"]] == ["INC-1", "INC-2"]
    page = (tmp_path / "debrief.html").read_text()
    assert "INC-1" in page
    assert RESTRICTED not in page  # the debrief shows handling, not descriptions
    unknown = await invoke(database_url, "report", "debrief", "--op", "nope", "--motive", "x")
    assert unknown.exit_code == 3
