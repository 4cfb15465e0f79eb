"""What the evening left in the timeline, read from the crisis cell's PostgreSQL projection."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from statistics import median, quantiles
from typing import Any

import asyncpg
from rich.console import Console
from rich.table import Table

VIOLATION = "fr.interforces.perimeter.violated"
PREFIX = "fr.interforces."


@dataclass(frozen=True, slots=True)
class Delays:
    """Report-to-first-assignment delays of the evening's incidents, in operation minutes."""

    incidents: int
    median_min: float | None
    p90_min: float | None
    max_min: float | None


@dataclass(frozen=True, slots=True)
class Summary:
    """The demo's closing figures (the JSON keys are these field names)."""

    operation: str
    accepted: int
    rejected: int
    by_agency: dict[str, dict[str, int]]
    rejections_by_reason: dict[str, int]
    incidents: dict[str, int]
    open_incidents: list[dict[str, Any]]
    report_to_assignment: Delays
    timeline_records: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


async def summarise(conn: asyncpg.Connection, mode: str, operation: str) -> Summary:
    """Read the summary of one operation from the projection."""
    rows = await conn.fetch(
        "SELECT agency, type, count(*) AS n FROM timeline_events"
        " WHERE mode = $1 AND operation = $2 AND type <> $3 GROUP BY agency, type",
        mode,
        operation,
        VIOLATION,
    )
    by_agency: dict[str, dict[str, int]] = {}
    for row in rows:
        by_agency.setdefault(row["agency"], {})[row["type"].removeprefix(PREFIX)] = row["n"]
    reasons = await conn.fetch(
        "SELECT code, count(*) AS n FROM rejections, unnest(reason_codes) AS code"
        " WHERE mode = $1 AND operation = $2 GROUP BY code ORDER BY n DESC, code",
        mode,
        operation,
    )
    rejected = await conn.fetchval(
        "SELECT count(*) FROM rejections WHERE mode = $1 AND operation = $2", mode, operation
    )
    records = await conn.fetchval(
        "SELECT count(*) FROM timeline_events WHERE mode = $1 AND operation = $2",
        mode,
        operation,
    )
    statuses = await conn.fetch(
        "SELECT status, count(*) AS n FROM incidents WHERE mode = $1 AND operation = $2"
        " GROUP BY status",
        mode,
        operation,
    )
    still_open = await conn.fetch(
        "SELECT incident, category, status, assignee, reported_at FROM incidents"
        " WHERE mode = $1 AND operation = $2 AND status <> 'resolved' ORDER BY reported_at",
        mode,
        operation,
    )
    delays = await conn.fetch(
        "SELECT extract(epoch FROM first_assigned_at - reported_at) / 60.0 AS minutes"
        " FROM incidents WHERE mode = $1 AND operation = $2 AND first_assigned_at IS NOT NULL",
        mode,
        operation,
    )
    minutes = sorted(float(r["minutes"]) for r in delays)
    return Summary(
        operation=operation,
        accepted=sum(sum(types.values()) for types in by_agency.values()),
        rejected=int(rejected),
        by_agency={a: dict(sorted(t.items())) for a, t in sorted(by_agency.items())},
        rejections_by_reason={r["code"]: int(r["n"]) for r in reasons},
        incidents={r["status"]: int(r["n"]) for r in statuses},
        open_incidents=[
            {
                "incident": r["incident"],
                "category": r["category"],
                "status": r["status"],
                "assignee": r["assignee"],
                "reported_at": r["reported_at"].isoformat(),
            }
            for r in still_open
        ],
        report_to_assignment=_delays(minutes),
        timeline_records=int(records),
    )


def _delays(minutes: list[float]) -> Delays:
    if not minutes:
        return Delays(0, None, None, None)
    p90 = quantiles(minutes, n=10)[-1] if len(minutes) > 1 else minutes[0]
    return Delays(len(minutes), round(median(minutes), 1), round(p90, 1), round(minutes[-1], 1))


def render(summary: Summary, console: Console) -> None:
    """The summary as readable tables."""
    console.rule(f"[bold]Bilan — {summary.operation}")
    console.print(
        f"[green]{summary.accepted} événements acceptés[/green], "
        f"[red]{summary.rejected} propositions refusées[/red] "
        f"({summary.timeline_records} enregistrements au journal)"
    )
    accepted = Table(title="Acceptés par agence et type")
    for column in ("agence", "type", "nombre"):
        accepted.add_column(column, justify="right" if column == "nombre" else "left")
    for agency, types in summary.by_agency.items():
        for event_type, n in types.items():
            accepted.add_row(agency, event_type, str(n))
    console.print(accepted)
    refused = Table(title="Refus par motif")
    refused.add_column("motif")
    refused.add_column("nombre", justify="right")
    for code, n in summary.rejections_by_reason.items():
        refused.add_row(code, str(n))
    console.print(refused)
    d = summary.report_to_assignment
    console.print(
        f"Incidents : {summary.incidents or 'aucun'} ; délai signalement → affectation "
        f"(minutes d'opération) : médiane {d.median_min}, p90 {d.p90_min}, max {d.max_min} "
        f"sur {d.incidents} incidents"
    )
    if summary.open_incidents:
        columns = ("incident", "category", "status", "assignee", "reported_at")
        still = Table(title="Incidents encore ouverts")
        for column in columns:
            still.add_column(column)
        for row in summary.open_incidents:
            still.add_row(*(str(row[c] or "—") for c in columns))
        console.print(still)
