"""The private store's contract, run against its SQLite file and its in-memory twin: held
fields are kept once per event, refusals are recorded without payload."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.reasons import ReasonCode
from contracts.vocabulary import Mode
from services.agency.domain import HeldNotes
from services.agency.private_store import (
    InMemoryPrivateStore,
    PrivateStore,
    RefusedReport,
    SqlitePrivateStore,
)
from unit.agency.builders import CASE_NOTES, DURING, OPERATION

pytestmark = pytest.mark.unit


def notes(event_id: str = "evt-1") -> HeldNotes:
    return HeldNotes(
        event_id=event_id,
        event_type="fr.interforces.mediation.started",
        operation=OPERATION,
        mode=Mode.LIVE,
        unit="MED-SOIR-1",
        case="MED-2026-17",
        occurred_at=DURING,
        fields=(("case_notes", CASE_NOTES),),
    )


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PrivateStore]:
    kept: PrivateStore = (
        SqlitePrivateStore(tmp_path / "mediation" / "private.sqlite3")
        if request.param == "sqlite"
        else InMemoryPrivateStore()
    )
    yield kept
    await kept.close()


async def test_held_fields_are_kept_once_per_event(store: PrivateStore) -> None:
    # given notes held for one event
    assert await store.hold(notes()) is True
    # when the same report is retried, then nothing new is kept
    assert await store.hold(notes()) is False
    await store.hold(notes("evt-2"))
    # then each event's notes read back as held
    assert await store.held_notes("evt-1") == [notes()]
    assert [n.event_id for n in await store.held_notes()] == ["evt-1", "evt-2"]


async def test_refusals_are_recorded_in_order(store: PrivateStore) -> None:
    # given two refusals, one of bytes nobody could read
    at = datetime(2026, 6, 21, 20, 0, tzinfo=UTC)
    unreadable = RefusedReport("", None, None, None, ReasonCode.MALFORMED, at)
    forged = RefusedReport(
        "R-1", OPERATION, Mode.LIVE, "PN-AINAY-1", ReasonCode.UNIT_NOT_AUTHENTICATED, at
    )
    await store.record_refusal(unreadable)
    await store.record_refusal(forged)
    # then both read back, oldest first
    assert await store.refusals() == [unreadable, forged]


async def test_the_file_is_private_and_has_no_payload_column(tmp_path: Path) -> None:
    # given the SQLite store of an agency
    path = tmp_path / "mediation" / "private.sqlite3"
    store = SqlitePrivateStore(path)
    await store.close()
    # then only its owner may read it, and a refusal row cannot hold a payload
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(refused_reports)")}
    assert columns == {"id", "report", "operation", "mode", "unit", "reason", "refused_at"}
