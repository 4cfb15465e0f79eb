"""The debrief of an operation: the chronology of its incidents with their handling delays,
the crisis cell's decisions and the refusals — as JSON and as a readable HTML page."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from statistics import median, quantiles
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field

from contracts.vocabulary import Agency, Mode
from services.timeline.store import Conn

_PREFIX = "fr.interforces."


class Handling(BaseModel):
    """Delays of one incident, in minutes of operation time (None: not reached)."""

    model_config = ConfigDict(frozen=True)

    report_to_assignment: float | None
    assignment_to_acknowledgement: float | None
    report_to_resolution: float | None


class AssignmentLine(BaseModel):
    """One assignment of an incident and its answer."""

    model_config = ConfigDict(frozen=True)

    assigned_at: datetime
    assigned_by: str
    assignee: str
    assignee_unit: str | None
    answer: str
    answered_at: datetime | None
    decline_reason: str | None


class IncidentLine(BaseModel):
    """An incident from report to resolution."""

    model_config = ConfigDict(frozen=True)

    incident: str
    category: str
    severity: str
    reporter: str
    reported_at: datetime
    status: str
    assignee: str | None
    first_assigned_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    outcome: str | None
    handling: Handling
    assignments: list[AssignmentLine]


class DecisionLine(BaseModel):
    """A record the crisis cell made (assignment, alert, perimeter, evacuation…)."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    type: str
    summary: str


class RejectionLine(BaseModel):
    """A refused proposal."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    proposer: str | None
    proposal_type: str
    reason_codes: list[str]


class DelayStats(BaseModel):
    """A delay distribution, in minutes."""

    model_config = ConfigDict(frozen=True)

    count: int
    p50: float | None
    p90: float | None
    max: float | None


class Debrief(BaseModel):
    """The debrief of one operation."""

    model_config = ConfigDict(frozen=True)

    mode: Mode
    operation: str
    first_event_at: datetime | None
    last_event_at: datetime | None
    records: int
    accepted_by_type: dict[str, int]
    rejections_by_reason: dict[str, int]
    incidents: list[IncidentLine]
    report_to_assignment_by_assignee: dict[str, DelayStats] = Field(
        description="Report → first assignment, by the agency first assigned."
    )
    assignment_to_acknowledgement_by_assignee: dict[str, DelayStats]
    decisions: list[DecisionLine]
    rejections: list[RejectionLine]


def _minutes(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60.0, 1)


def delay_stats(values: Sequence[float]) -> DelayStats:
    """p50, p90 and max of some delays."""
    ordered = sorted(values)
    if not ordered:
        return DelayStats(count=0, p50=None, p90=None, max=None)
    p90 = quantiles(ordered, n=10, method="inclusive")[-1] if len(ordered) > 1 else ordered[0]
    return DelayStats(
        count=len(ordered),
        p50=round(median(ordered), 1),
        p90=round(p90, 1),
        max=round(ordered[-1], 1),
    )


def _summary(data: dict[str, Any]) -> str:
    keys = ("incident", "assignee", "assignee_unit", "perimeter", "alert", "level", "reason")
    parts = [f"{k}={data[k]}" for k in keys if data.get(k) not in (None, "", [])]
    return ", ".join(parts)


async def build_debrief(conn: Conn, mode: Mode, operation: str) -> Debrief:
    """Read the debrief of one operation from the projection (one snapshot)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        span = await conn.fetchrow(
            "SELECT count(*) AS n, min(occurred_at) AS first, max(occurred_at) AS last"
            " FROM timeline_events WHERE mode = $1 AND operation = $2",
            mode.value,
            operation,
        )
        by_type = await conn.fetch(
            "SELECT type, count(*) AS n FROM timeline_events WHERE mode = $1 AND operation = $2"
            " AND type <> 'fr.interforces.perimeter.violated' GROUP BY type ORDER BY type",
            mode.value,
            operation,
        )
        reasons = await conn.fetch(
            "SELECT code, count(*) AS n FROM rejections, unnest(reason_codes) AS code"
            " WHERE mode = $1 AND operation = $2 GROUP BY code ORDER BY n DESC, code",
            mode.value,
            operation,
        )
        incidents = await conn.fetch(
            "SELECT * FROM incidents WHERE mode = $1 AND operation = $2"
            " ORDER BY reported_at, incident",
            mode.value,
            operation,
        )
        assignments = await conn.fetch(
            "SELECT * FROM incident_assignments WHERE mode = $1 AND operation = $2"
            " ORDER BY incident, assignment_seq",
            mode.value,
            operation,
        )
        decisions = await conn.fetch(
            "SELECT seq, occurred_at, type, envelope->'data' AS data FROM timeline_events"
            " WHERE mode = $1 AND operation = $2 AND agency = $3 ORDER BY seq",
            mode.value,
            operation,
            Agency.CRISIS_CELL.value,
        )
        refused = await conn.fetch(
            "SELECT rejected_at, proposer, proposal_type, reason_codes FROM rejections"
            " WHERE mode = $1 AND operation = $2 ORDER BY seq",
            mode.value,
            operation,
        )
    by_incident: dict[str, list[AssignmentLine]] = {}
    for a in assignments:
        by_incident.setdefault(a["incident"], []).append(
            AssignmentLine(
                assigned_at=a["assigned_at"],
                assigned_by=a["assigned_by"],
                assignee=a["assignee"],
                assignee_unit=a["assignee_unit"],
                answer=a["answer"],
                answered_at=a["answered_at"],
                decline_reason=a["decline_reason"],
            )
        )
    lines: list[IncidentLine] = []
    to_assign: dict[str, list[float]] = {}
    to_ack: dict[str, list[float]] = {}
    for i in incidents:
        handling = Handling(
            report_to_assignment=_minutes(i["reported_at"], i["first_assigned_at"]),
            assignment_to_acknowledgement=_minutes(i["first_assigned_at"], i["acknowledged_at"]),
            report_to_resolution=_minutes(i["reported_at"], i["resolved_at"]),
        )
        history = by_incident.get(i["incident"], [])
        first = history[0].assignee if history else None
        if first is not None and handling.report_to_assignment is not None:
            to_assign.setdefault(first, []).append(handling.report_to_assignment)
        if first is not None and handling.assignment_to_acknowledgement is not None:
            to_ack.setdefault(first, []).append(handling.assignment_to_acknowledgement)
        lines.append(
            IncidentLine(
                incident=i["incident"],
                category=i["category"],
                severity=i["severity"],
                reporter=i["reporter"],
                reported_at=i["reported_at"],
                status=i["status"],
                assignee=i["assignee"],
                first_assigned_at=i["first_assigned_at"],
                acknowledged_at=i["acknowledged_at"],
                resolved_at=i["resolved_at"],
                outcome=i["outcome"],
                handling=handling,
                assignments=history,
            )
        )
    return Debrief(
        mode=mode,
        operation=operation,
        first_event_at=span["first"] if span else None,
        last_event_at=span["last"] if span else None,
        records=int(span["n"]) if span else 0,
        accepted_by_type={r["type"].removeprefix(_PREFIX): int(r["n"]) for r in by_type},
        rejections_by_reason={r["code"]: int(r["n"]) for r in reasons},
        incidents=lines,
        report_to_assignment_by_assignee={a: delay_stats(v) for a, v in sorted(to_assign.items())},
        assignment_to_acknowledgement_by_assignee={
            a: delay_stats(v) for a, v in sorted(to_ack.items())
        },
        decisions=[
            DecisionLine(
                seq=d["seq"],
                at=d["occurred_at"],
                type=d["type"].removeprefix(_PREFIX),
                summary=_summary(json.loads(d["data"])),
            )
            for d in decisions
        ],
        rejections=[
            RejectionLine(
                at=r["rejected_at"],
                proposer=r["proposer"],
                proposal_type=r["proposal_type"].removeprefix(_PREFIX),
                reason_codes=list(r["reason_codes"]),
            )
            for r in refused
        ],
    )


_TEMPLATES = Environment(
    loader=PackageLoader("services.crisis_api", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def debrief_html(debrief: Debrief) -> str:
    """The debrief as a standalone HTML page (no scripts, no external resources)."""
    return _TEMPLATES.get_template("debrief.html.j2").render(d=debrief)
