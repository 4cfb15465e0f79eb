"""What the API reads from PostgreSQL: the operations, an operation's records up to an
instant, pages of the timeline and of the rejections — always through a caller's view."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.events.incidents import IncidentCorrected
from contracts.vocabulary import Mode
from services.crisis_api.auth import Principal, Role
from services.crisis_api.situation import Basis
from services.crisis_api.views import delivered_filter, visible
from services.timeline.domain import TimelineRecord
from services.timeline.store import Conn, stored_record

_RECORD_COLUMNS = "mode, seq, envelope, proposal_id, deliveries"
#: Rows read per round trip while a filtered page fills.
_CHUNK = 1000
#: Rows one page may scan before it returns what it found (the cursor goes on from there).
_SCAN_BUDGET = 20_000


class OperationSummary(BaseModel):
    """An operation the timeline holds records of."""

    model_config = ConfigDict(frozen=True)

    mode: Mode
    operation: str
    records: int
    first_occurred_at: datetime
    last_occurred_at: datetime
    last_recorded_at: datetime | None
    charter: bool = Field(description="Whether the API knows its charter (sectors, window).")


async def operations(
    conn: Conn, principal: Principal, charters: frozenset[str]
) -> list[OperationSummary]:
    """The operations whose records the caller may see; `charters` are the operation ids
    whose charter the API knows."""
    rows = await conn.fetch(
        """SELECT mode, operation, count(*) AS records, min(occurred_at) AS first,
                  max(occurred_at) AS last, max(recorded_at) AS recorded
           FROM timeline_events
           WHERE $1::jsonb IS NULL OR deliveries @> $1::jsonb
           GROUP BY mode, operation ORDER BY min(occurred_at), operation""",
        delivered_filter(principal),
    )
    return [
        OperationSummary(
            mode=Mode(r["mode"]),
            operation=r["operation"],
            records=r["records"],
            first_occurred_at=r["first"],
            last_occurred_at=r["last"],
            last_recorded_at=r["recorded"],
            charter=r["operation"] in charters,
        )
        for r in rows
        if principal.sees_mode(Mode(r["mode"])) or principal.role is Role.OVERSIGHT
    ]


async def first_occurred_at(conn: Conn, mode: Mode, operation: str) -> datetime | None:
    """When the operation's first record happened (None: no records)."""
    found: datetime | None = await conn.fetchval(
        "SELECT min(occurred_at) FROM timeline_events WHERE mode = $1 AND operation = $2",
        mode.value,
        operation,
    )
    return found


async def records_until(
    conn: Conn, principal: Principal, *, mode: Mode, operation: str, at: datetime, basis: Basis
) -> list[TimelineRecord]:
    """The operation's records at or before `at` on the chosen clock, as the caller sees
    them, in sequence order."""
    column = "coalesce(recorded_at, occurred_at)" if basis is Basis.RECORDED else "occurred_at"
    rows = await conn.fetch(
        f"""SELECT {_RECORD_COLUMNS} FROM timeline_events
            WHERE mode = $1 AND operation = $2 AND {column} <= $3
              AND ($4::jsonb IS NULL OR deliveries @> $4::jsonb)
            ORDER BY seq""",  # noqa: S608 - fixed column choice
        mode.value,
        operation,
        at,
        delivered_filter(principal),
    )
    return [v for r in rows if (v := visible(principal, stored_record(r))) is not None]


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    """Filters of a timeline page (all optional but the operation)."""

    mode: Mode
    operation: str
    since: datetime | None = None
    until: datetime | None = None
    agency: str | None = None
    sector: str | None = None
    type: str | None = None
    text: str | None = None
    after_seq: int = 0
    limit: int = 100


class TimelineEntry(BaseModel):
    """One record as the caller may see it, with the corrections made to it."""

    model_config = ConfigDict(frozen=True)

    seq: int
    event_id: str
    type: str
    agency: str
    unit: str | None
    sector: str | None
    classification: str
    occurred_at: datetime = Field(description="When it happened (CloudEvents `time`).")
    recorded_at: datetime | None = Field(description="When the coordinator recorded it.")
    corrects: str | None = Field(default=None, description="Event this one corrects.")
    data: dict[str, Any]
    corrections: list[TimelineEntry] = Field(
        default_factory=list, description="Later corrections of this event, in order."
    )


class TimelinePage(BaseModel):
    """A page of the timeline; `next_after_seq` continues it (None at the end)."""

    entries: list[TimelineEntry]
    next_after_seq: int | None


def entry_of(record: TimelineRecord) -> TimelineEntry:
    """A visible record as a timeline entry."""
    env = record.envelope
    data = env.data
    return TimelineEntry(
        seq=record.seq,
        event_id=env.id,
        type=env.type,
        agency=env.agency.value,
        unit=env.unit,
        sector=env.sector,
        classification=env.classification.value,
        occurred_at=env.time,
        recorded_at=env.recordedtime,
        corrects=data.corrects if isinstance(data, IncidentCorrected) else None,
        data=data.model_dump(mode="json", exclude={"type"}),
    )


def _matches(entry: TimelineEntry, text: str | None) -> bool:
    if not text:
        return True
    return text.casefold() in json.dumps(entry.data, ensure_ascii=False).casefold()


async def timeline_page(conn: Conn, principal: Principal, query: TimelineQuery) -> TimelinePage:
    """A page of the operation's timeline in sequence order, filtered, as the caller sees
    it. Text is searched in what the caller sees, never in what its copy lost."""
    delivered = delivered_filter(principal)
    entries: list[TimelineEntry] = []
    after, scanned = query.after_seq, 0
    while len(entries) < query.limit and scanned < _SCAN_BUDGET:
        rows = await conn.fetch(
            f"""SELECT {_RECORD_COLUMNS} FROM timeline_events
                WHERE mode = $1 AND operation = $2 AND seq > $3
                  AND ($4::timestamptz IS NULL OR occurred_at >= $4)
                  AND ($5::timestamptz IS NULL OR occurred_at < $5)
                  AND ($6::text IS NULL OR agency = $6)
                  AND ($7::text IS NULL OR sector = $7)
                  AND ($8::text IS NULL OR type = $8 OR type = 'fr.interforces.' || $8)
                  AND ($9::jsonb IS NULL OR deliveries @> $9::jsonb)
                ORDER BY seq LIMIT $10""",  # noqa: S608 - constant column list
            query.mode.value,
            query.operation,
            after,
            query.since,
            query.until,
            query.agency,
            query.sector,
            query.type,
            delivered,
            _CHUNK,
        )
        if not rows:
            return TimelinePage(entries=entries, next_after_seq=None)
        scanned += len(rows)
        for row in rows:
            after = int(row["seq"])
            record = visible(principal, stored_record(row))
            if record is None:
                continue
            entry = entry_of(record)
            if _matches(entry, query.text):
                entries.append(entry)
                if len(entries) == query.limit:
                    break
    entries = await _with_corrections(conn, principal, query.mode, query.operation, entries)
    return TimelinePage(entries=entries, next_after_seq=after)


async def _with_corrections(
    conn: Conn, principal: Principal, mode: Mode, operation: str, entries: list[TimelineEntry]
) -> list[TimelineEntry]:
    if not entries:
        return entries
    rows = await conn.fetch(
        f"""SELECT {_RECORD_COLUMNS} FROM timeline_events
            WHERE mode = $1 AND operation = $2 AND type = 'fr.interforces.incident.corrected'
              AND envelope->'data'->>'corrects' = ANY($3::text[])
            ORDER BY seq""",  # noqa: S608 - constant column list
        mode.value,
        operation,
        [e.event_id for e in entries],
    )
    found: dict[str, list[TimelineEntry]] = {}
    for row in rows:
        record = visible(principal, stored_record(row))
        if record is not None:
            correction = entry_of(record)
            found.setdefault(correction.corrects or "", []).append(correction)
    return [e.model_copy(update={"corrections": found.get(e.event_id, [])}) for e in entries]


class RejectionEntry(BaseModel):
    """A refused proposal and every reason, as the caller may see it."""

    model_config = ConfigDict(frozen=True)

    seq: int
    event_id: str
    proposal_id: str
    proposal_type: str
    proposer: str | None
    credentials_agency: str | None
    reason_codes: list[str]
    reasons: list[dict[str, Any]]
    competent_agencies: list[str]
    rejected_at: datetime


async def rejections(
    conn: Conn, principal: Principal, *, mode: Mode, operation: str, after_seq: int, limit: int
) -> list[RejectionEntry]:
    """Refusals of the operation recorded for the caller (an agency: those delivered to it,
    i.e. its own), in sequence order."""
    rows = await conn.fetch(
        """SELECT r.* FROM rejections r
           JOIN timeline_events e ON e.mode = r.mode AND e.event_id = r.event_id
           WHERE r.mode = $1 AND r.operation = $2 AND r.seq > $3
             AND ($4::jsonb IS NULL OR e.deliveries @> $4::jsonb)
           ORDER BY r.seq LIMIT $5""",
        mode.value,
        operation,
        after_seq,
        delivered_filter(principal),
        limit,
    )
    return [
        RejectionEntry(
            seq=r["seq"],
            event_id=r["event_id"],
            proposal_id=r["proposal_id"],
            proposal_type=r["proposal_type"],
            proposer=r["proposer"],
            credentials_agency=r["credentials_agency"],
            reason_codes=list(r["reason_codes"]),
            reasons=json.loads(r["reasons"]),
            competent_agencies=list(r["competent_agencies"]),
            rejected_at=r["rejected_at"],
        )
        for r in rows
    ]


async def aggregates(conn: Conn, *, mode: Mode, operation: str) -> dict[str, Any]:
    """Counts only: records by agency and type, refusals by reason, incidents by status."""
    by_type = await conn.fetch(
        "SELECT agency, type, count(*) AS n FROM timeline_events WHERE mode = $1"
        " AND operation = $2 GROUP BY agency, type ORDER BY agency, type",
        mode.value,
        operation,
    )
    reasons = await conn.fetch(
        "SELECT code, count(*) AS n FROM rejections, unnest(reason_codes) AS code"
        " WHERE mode = $1 AND operation = $2 GROUP BY code ORDER BY code",
        mode.value,
        operation,
    )
    statuses = await conn.fetch(
        "SELECT status, count(*) AS n FROM incidents WHERE mode = $1 AND operation = $2"
        " GROUP BY status ORDER BY status",
        mode.value,
        operation,
    )
    records: dict[str, dict[str, int]] = {}
    for row in by_type:
        records.setdefault(row["agency"], {})[row["type"]] = int(row["n"])
    return {
        "mode": mode.value,
        "operation": operation,
        "records_by_agency_and_type": records,
        "rejections_by_reason": {r["code"]: int(r["n"]) for r in reasons},
        "incidents_by_status": {r["status"]: int(r["n"]) for r in statuses},
    }
