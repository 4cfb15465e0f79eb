"""The agency's private store: what never leaves the service (doctrine points 4 and 5).

One SQLite file per agency, `<data_dir>/<agency>/private.sqlite3` (directory 0700, file
0600), with two tables:

- `case_notes`: fields only this agency may hold (mediators' case notes), one row per event
  and field, written before the proposal leaves, idempotent under retries;
- `refused_reports`: every report refused here (report id, operation, mode, unit, reason,
  time), never the payload.

The store is small and local: stdlib `sqlite3` on one connection, each call in a worker
thread so the event loop never waits on the disk. `InMemoryPrivateStore` is its twin for
tests; both pass the same contract tests.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from contracts.reasons import ReasonCode
from contracts.vocabulary import Mode
from services.agency.domain import HeldNotes
from services.agency.errors import PrivateStoreError

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS case_notes (
    event_id    TEXT NOT NULL,
    field       TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    operation   TEXT NOT NULL,
    mode        TEXT NOT NULL,
    unit        TEXT NOT NULL,
    case_ref    TEXT,
    occurred_at TEXT NOT NULL,
    notes       TEXT NOT NULL,
    held_at     TEXT NOT NULL,
    PRIMARY KEY (event_id, field)
);
CREATE TABLE IF NOT EXISTS refused_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    report      TEXT NOT NULL,
    operation   TEXT,
    mode        TEXT,
    unit        TEXT,
    reason      TEXT NOT NULL,
    refused_at  TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class RefusedReport:
    """A report refused here: who sent it and why, never what it said."""

    report: str
    operation: str | None
    mode: Mode | None
    unit: str | None
    reason: ReasonCode
    refused_at: datetime


class PrivateStore(Protocol):
    """Port of the agency's private store."""

    async def hold(self, notes: HeldNotes) -> bool:
        """Keep an event's private fields; whether they were new (a retry finds them kept)."""
        ...

    async def record_refusal(self, refusal: RefusedReport) -> None:
        """Record a refused report."""
        ...

    async def held_notes(self, event_id: str | None = None) -> list[HeldNotes]:
        """Private fields kept, of one event or all, oldest first."""
        ...

    async def refusals(self) -> list[RefusedReport]:
        """Refused reports, oldest first."""
        ...

    async def close(self) -> None:
        """Release the store."""
        ...


class InMemoryPrivateStore:
    """The private store in memory (tests)."""

    def __init__(self) -> None:
        self._notes: dict[str, HeldNotes] = {}
        self._refusals: list[RefusedReport] = []

    async def hold(self, notes: HeldNotes) -> bool:
        """Keep an event's private fields; whether they were new."""
        if notes.event_id in self._notes:
            return False
        self._notes[notes.event_id] = notes
        return True

    async def record_refusal(self, refusal: RefusedReport) -> None:
        """Record a refused report."""
        self._refusals.append(refusal)

    async def held_notes(self, event_id: str | None = None) -> list[HeldNotes]:
        """Private fields kept, of one event or all."""
        return [n for n in self._notes.values() if event_id in (None, n.event_id)]

    async def refusals(self) -> list[RefusedReport]:
        """Refused reports, oldest first."""
        return list(self._refusals)

    async def close(self) -> None:
        """Nothing to release."""


class SqlitePrivateStore:
    """The private store in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.parent.chmod(0o700)
            path.touch(mode=0o600, exist_ok=True)
            path.chmod(0o600)  # touch's mode is masked by the umask
            # One connection shared by worker threads, serialised by the lock below.
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise PrivateStoreError(f"{path}: {exc}") from exc
        self._lock = threading.Lock()

    async def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        def locked() -> _T:
            with self._lock:
                return work(self._db)

        try:
            return await asyncio.to_thread(locked)
        except sqlite3.Error as exc:
            raise PrivateStoreError(f"{self.path}: {exc}") from exc

    async def hold(self, notes: HeldNotes) -> bool:
        """Keep an event's private fields, one row per field; whether they were new."""
        held_at = datetime.now(UTC).isoformat()
        rows = [
            (
                notes.event_id,
                name,
                notes.event_type,
                notes.operation,
                notes.mode.value,
                notes.unit,
                notes.case,
                notes.occurred_at.isoformat(),
                value,
                held_at,
            )
            for name, value in notes.fields
        ]

        def write(db: sqlite3.Connection) -> bool:
            with db:  # one transaction: all the fields of an event, or none
                inserted = 0
                for row in rows:
                    inserted += db.execute(
                        "INSERT OR IGNORE INTO case_notes VALUES (?,?,?,?,?,?,?,?,?,?)", row
                    ).rowcount
            return inserted > 0

        return await self._run(write)

    async def record_refusal(self, refusal: RefusedReport) -> None:
        """Record a refused report."""
        row = (
            refusal.report,
            refusal.operation,
            None if refusal.mode is None else refusal.mode.value,
            refusal.unit,
            refusal.reason.value,
            refusal.refused_at.isoformat(),
        )

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute(
                    "INSERT INTO refused_reports (report, operation, mode, unit, reason, "
                    "refused_at) VALUES (?,?,?,?,?,?)",
                    row,
                )

        await self._run(write)

    async def held_notes(self, event_id: str | None = None) -> list[HeldNotes]:
        """Private fields kept, of one event or all, oldest first."""

        def read(db: sqlite3.Connection) -> list[Any]:
            return db.execute(
                "SELECT event_id, event_type, operation, mode, unit, case_ref, occurred_at, "
                "field, notes FROM case_notes WHERE ? IS NULL OR event_id = ? "
                "ORDER BY rowid",
                (event_id, event_id),
            ).fetchall()

        grouped: dict[str, HeldNotes] = {}
        for eid, kind, operation, mode, unit, case, occurred, name, value in await self._run(read):
            previous = grouped.get(eid)
            fields = (previous.fields if previous else ()) + ((name, value),)
            grouped[eid] = HeldNotes(
                event_id=eid,
                event_type=kind,
                operation=operation,
                mode=Mode(mode),
                unit=unit,
                case=case,
                occurred_at=datetime.fromisoformat(occurred),
                fields=fields,
            )
        return list(grouped.values())

    async def refusals(self) -> list[RefusedReport]:
        """Refused reports, oldest first."""

        def read(db: sqlite3.Connection) -> list[Any]:
            return db.execute(
                "SELECT report, operation, mode, unit, reason, refused_at "
                "FROM refused_reports ORDER BY id"
            ).fetchall()

        return [
            RefusedReport(
                report=report or "",
                operation=operation,
                mode=Mode(mode) if mode else None,
                unit=unit,
                reason=ReasonCode(reason),
                refused_at=datetime.fromisoformat(refused_at),
            )
            for report, operation, mode, unit, reason, refused_at in await self._run(read)
        ]

    async def close(self) -> None:
        """Close the connection."""
        await self._run(lambda db: db.close())
