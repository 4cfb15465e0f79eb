"""The public activity report of an operation (doctrine point 6): aggregate figures only.

Incidents by category, sector and agency; identity checks by legal basis and ground;
mediations; refusals by reason. Every label comes from a closed vocabulary (an enumeration,
a sector or agency id), never from free text, and no unit, officer or person is named. A
count under the threshold is shown as "< threshold", never its value; when a table shows
its total and hides a single cell, its next smallest cell is hidden too, so that no hidden
count can be worked out from the total.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field

from contracts.events.identity_checks import CheckGround, IdentityCheckRecorded, LegalBasis
from contracts.events.mediation import MediationClosed, MediationStarted, MediationTopic
from contracts.ids import IDENTIFIER_PATTERN
from contracts.reasons import ReasonCode
from contracts.vocabulary import Agency, IncidentCategory, Mode
from services.crisis_api.instants import DEFAULT_TIMEZONE
from services.timeline.store import Conn, stored_record

#: Counts under this are suppressed, unless told otherwise.
DEFAULT_THRESHOLD: Final = 5
#: File names the report is written under.
HTML_FILE: Final = "public_report.html"
CSV_FILE: Final = "public_report.csv"
#: Labels of what a record does not say.
NO_SECTOR: Final = "non précisé"
UNASSIGNED: Final = "non affecté"
UNCATEGORISED: Final = "non catégorisé"
OTHER: Final = "autre"
TOTAL: Final = "total"

_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
_E = TypeVar("_E", bound=StrEnum)
_TYPES: Final = tuple(
    cls.model_fields["type"].default
    for cls in (IdentityCheckRecorded, MediationStarted, MediationClosed)
)


class Cell(BaseModel):
    """A published count: its value, or None when suppressed; `text` is what is shown."""

    model_config = ConfigDict(frozen=True)

    value: int | None
    text: str


class Row(BaseModel):
    """One line of a table."""

    model_config = ConfigDict(frozen=True)

    label: str
    cell: Cell


class Table(BaseModel):
    """One aggregate: its rows in label order, and its total when it has one."""

    model_config = ConfigDict(frozen=True)

    key: str
    title: str
    rows: list[Row]
    total: Cell | None


class PublicReport(BaseModel):
    """The public activity report of one operation."""

    model_config = ConfigDict(frozen=True)

    mode: Mode
    operation: str
    threshold: int = Field(ge=1, description="Counts under it are suppressed.")
    first_day: date | None = Field(description="Local date of the first record.")
    last_day: date | None = Field(description="Local date of the last record.")
    tables: list[Table]


@dataclass(frozen=True, slots=True)
class Counts:
    """A table before suppression: counts by label, and the total to publish (or None)."""

    key: str
    title: str
    counts: Mapping[str, int]
    total: int | None = None


def _label(enum: type[_E], value: object) -> str:
    """The value if `enum` knows it, else `OTHER`: a label is never free text."""
    try:
        return enum(str(value)).value
    except ValueError:
        return OTHER


def _sector(value: object) -> str:
    if value is None:
        return NO_SECTOR
    return value if isinstance(value, str) and _IDENTIFIER.fullmatch(value) else OTHER


def suppressed(counts: Counts, threshold: int) -> Table:
    """The table of `counts` with every count under `threshold` hidden (and, when a lone
    hidden count could be worked out from the published total, the next smallest too)."""
    hidden = {label for label, n in counts.counts.items() if n < threshold}
    if counts.total is not None and counts.total >= threshold and len(hidden) == 1:
        shown = sorted((n, label) for label, n in counts.counts.items() if label not in hidden)
        hidden |= {label for _, label in shown[:1]}

    def cell(n: int, hide: bool) -> Cell:
        return Cell(value=None, text=f"< {threshold}") if hide else Cell(value=n, text=str(n))

    rows = [Row(label=label, cell=cell(n, label in hidden)) for label, n in counts.counts.items()]
    total = counts.total
    return Table(
        key=counts.key,
        title=counts.title,
        rows=sorted(rows, key=lambda r: r.label),  # never by count: that would rank hidden ones
        total=None if total is None else cell(total, total < threshold),
    )


def public_report_of(
    counts: Iterable[Counts],
    *,
    mode: Mode,
    operation: str,
    threshold: int = DEFAULT_THRESHOLD,
    first_day: date | None = None,
    last_day: date | None = None,
) -> PublicReport:
    """The report of some counts, suppressed under `threshold`."""
    if threshold < 1:
        raise ValueError("the threshold is at least 1")
    return PublicReport(
        mode=mode,
        operation=operation,
        threshold=threshold,
        first_day=first_day,
        last_day=last_day,
        tables=[suppressed(c, threshold) for c in counts],
    )


def _counter(values: Iterable[str]) -> dict[str, int]:
    return dict(Counter(values))


def _counts_of_incidents(rows: Iterable[Mapping[str, object]]) -> list[Counts]:
    incidents = list(rows)

    def table(key: str, title: str, label: Callable[[Mapping[str, object]], str]) -> Counts:
        return Counts(key, title, _counter(label(i) for i in incidents), total=len(incidents))

    def assignee(i: Mapping[str, object]) -> str:
        return UNASSIGNED if i["assignee"] is None else _label(Agency, i["assignee"])

    return [
        table(
            "incidents_by_category",
            "Incidents par catégorie",
            lambda i: _label(IncidentCategory, i["category"]),
        ),
        table("incidents_by_sector", "Incidents par secteur", lambda i: _sector(i["sector"])),
        table(
            "incidents_by_reporting_agency",
            "Incidents par service qui les a signalés",
            lambda i: _label(Agency, i["reporter"]),
        ),
        table("incidents_by_agency_in_charge", "Incidents par service en charge", assignee),
    ]


def _counts_of_records(
    checks: list[IdentityCheckRecorded], started: list[MediationStarted], closed: int
) -> list[Counts]:
    return [
        Counts(
            "identity_checks_by_legal_basis",
            "Contrôles d'identité par fondement légal",
            _counter(_label(LegalBasis, c.legal_basis) for c in checks),
            total=len(checks),
        ),
        Counts(
            "identity_checks_by_ground",
            "Contrôles d'identité par motif",
            _counter(_label(CheckGround, c.ground) if c.ground else UNCATEGORISED for c in checks),
            total=len(checks),
        ),
        Counts("mediations", "Médiations", {"engagées": len(started), "clôturées": closed}),
        Counts(
            "mediations_by_topic",
            "Médiations engagées par thème",
            _counter(_label(MediationTopic, m.topic) for m in started),
            total=len(started),
        ),
    ]


async def read_counts(conn: Conn, mode: Mode, operation: str) -> list[Counts]:
    """Every table of the report, before suppression, from the projection (one snapshot)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        incidents = await conn.fetch(
            """SELECT i.category, i.reporter, i.assignee, e.sector FROM incidents i
               LEFT JOIN timeline_events e ON e.mode = i.mode AND e.seq = i.report_seq
               WHERE i.mode = $1 AND i.operation = $2""",
            mode.value,
            operation,
        )
        records = await conn.fetch(
            """SELECT mode, seq, envelope, proposal_id, deliveries FROM timeline_events
               WHERE mode = $1 AND operation = $2 AND type = ANY($3::text[]) ORDER BY seq""",
            mode.value,
            operation,
            list(_TYPES),
        )
        reasons = await conn.fetch(
            "SELECT code, count(*) AS n FROM rejections, unnest(reason_codes) AS code"
            " WHERE mode = $1 AND operation = $2 GROUP BY code",
            mode.value,
            operation,
        )
        refusals = await conn.fetchval(
            "SELECT count(*) FROM rejections WHERE mode = $1 AND operation = $2",
            mode.value,
            operation,
        )
    data = [stored_record(r).envelope.data for r in records]
    by_reason: Counter[str] = Counter()
    for row in reasons:
        by_reason[_label(ReasonCode, row["code"])] += int(row["n"])
    return [
        *_counts_of_incidents(dict(r) for r in incidents),
        *_counts_of_records(
            [d for d in data if isinstance(d, IdentityCheckRecorded)],
            [d for d in data if isinstance(d, MediationStarted)],
            sum(1 for d in data if isinstance(d, MediationClosed)),
        ),
        Counts(
            "rejections_by_reason",
            "Propositions refusées par motif (une proposition peut en avoir plusieurs)",
            dict(by_reason),
            total=int(refusals or 0),
        ),
    ]


async def build_public_report(
    conn: Conn,
    mode: Mode,
    operation: str,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    timezone: str = DEFAULT_TIMEZONE,
) -> PublicReport:
    """Read and suppress the public report of one operation (dates in `timezone`)."""
    span = await conn.fetchrow(
        "SELECT min(occurred_at) AS first, max(occurred_at) AS last FROM timeline_events"
        " WHERE mode = $1 AND operation = $2",
        mode.value,
        operation,
    )
    zone = ZoneInfo(timezone)

    def day(value: datetime | None) -> date | None:
        return None if value is None else value.astimezone(zone).date()

    return public_report_of(
        await read_counts(conn, mode, operation),
        mode=mode,
        operation=operation,
        threshold=threshold,
        first_day=day(span["first"]) if span else None,
        last_day=day(span["last"]) if span else None,
    )


def public_report_csv(report: PublicReport) -> str:
    """One line per published cell: operation, mode, table, label, value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("operation", "mode", "table", "label", "value"))
    for table in report.tables:
        for row in table.rows:
            writer.writerow(
                (report.operation, report.mode.value, table.key, row.label, row.cell.text)
            )
        if table.total is not None:
            writer.writerow(
                (report.operation, report.mode.value, table.key, TOTAL, table.total.text)
            )
    return out.getvalue()


_TEMPLATES = Environment(
    loader=PackageLoader("services.crisis_api", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def public_report_html(report: PublicReport) -> str:
    """The report as a standalone HTML page (no scripts, no external resources)."""
    return _TEMPLATES.get_template("public_report.html.j2").render(r=report)
