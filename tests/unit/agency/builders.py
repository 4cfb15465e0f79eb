"""Builders for the agency tests: the festival charter, its units, their reports, a fake
outbox, and settings pointing at a temporary secrets and data directory."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from contracts import subjects
from contracts.charter.loader import load_charter
from contracts.cloudevents import to_structured
from contracts.credentials import ensure_unit_keys, read_unit_key, unit_token
from contracts.envelope import Envelope
from contracts.events.incidents import IncidentAssigned
from contracts.ids import EventId, IncidentId, OperationId, UnitId
from contracts.reports import Dispatch, UnitReport
from contracts.vocabulary import Agency, Mode
from services.agency.domain import Engagement, Engagements, authenticate, report_address
from services.agency.errors import PublishError
from services.agency.settings import AgencySettings

ROOT = Path(__file__).resolve().parents[3]
FESTIVAL = ROOT / "infra/charters/fete-musique-presquile.yaml"
STADIUM = ROOT / "infra/charters/concert-stade.yaml"
OPERATION = "fete-musique-2026-lyon-presquile"
#: Inside the festival's window and every actor's own.
DURING = datetime.fromisoformat("2026-06-21T22:15:00+02:00")
#: A point of the Place des Terreaux.
TERREAUX = {"lon": 4.8330, "lat": 45.7675}

#: One unit of each agency in the festival charter.
UNITS: dict[Agency, str] = {
    Agency.POLICE_NATIONALE: "PN-AINAY-1",
    Agency.POLICE_MUNICIPALE: "PM-TERREAUX-1",
    Agency.MEDIATION: "MED-SOIR-1",
    Agency.SECURITE_PRIVEE: "SP-OPERA-SALLE",
}

SURNAME = "Zanzibarovna"
GIVEN_NAMES = "Ilse"
BIRTH_DATE = "1991-04-02"
CASE_NOTES = "Conflit de voisinage apaisé ; la voisine du 3e craint des représailles."


def festival_engagements(agency: Agency) -> Engagements:
    return Engagements.from_charters(agency, [load_charter(FESTIVAL), load_charter(STADIUM)])


def settings_for(tmp_path: Path, nats_url: str = "nats://127.0.0.1:4222") -> AgencySettings:
    """Settings of a service over the festival charter, with fresh unit keys."""
    secrets = tmp_path / "secrets"
    ensure_unit_keys(secrets)
    return AgencySettings(
        nats_url=nats_url,
        data_dir=tmp_path / "data",
        secrets_dir=secrets,
        charters=(FESTIVAL,),
        agency_feed_fetch_timeout_s=0.2,
    )


def key_of(settings: AgencySettings, agency: Agency) -> bytes:
    return read_unit_key(settings.secrets_dir, agency)


def report_id() -> str:
    return f"R-{uuid.uuid4().hex[:12]}"


def incident_reported(incident: str = "INC-1", category: str = "theft") -> dict[str, Any]:
    return {
        "type": "fr.interforces.incident.reported",
        "incident": incident,
        "category": category,
        "position": TERREAUX,
        "description": "Vol à l'arraché devant la scène.",
    }


def check_facts() -> dict[str, Any]:
    return {
        "check": "RC-2026-000123",
        "legal_basis": "cpp_78_2_al2",
        "motives": ["Réquisitions du procureur : vols en réunion sur la Presqu'île"],
        "ground": "prosecutor_requisitions",
        "possible_consequences": "Vérification d'identité au poste si elle ne peut être établie",
        "place": "Place des Terreaux, devant la fontaine Bartholdi",
        "position": TERREAUX,
        "checked_at": "2026-06-21T22:10:00+02:00",
        "officer_number": "1234567",
        "grade": "Gardien de la paix",
        "service": "CSP Lyon Centre",
    }


def recepisse_issued() -> dict[str, Any]:
    return {
        "type": "fr.interforces.identity_check.recepisse_issued",
        **check_facts(),
        "person": {"surname": SURNAME, "given_names": GIVEN_NAMES, "birth_date": BIRTH_DATE},
    }


def identity_check_recorded() -> dict[str, Any]:
    return {"type": "fr.interforces.identity_check.recorded", **check_facts()}


def mediation_started(notes: str = CASE_NOTES) -> dict[str, Any]:
    return {
        "type": "fr.interforces.mediation.started",
        "mediation": "MED-2026-17",
        "topic": "neighbourhood",
        "position": TERREAUX,
        "case_notes": notes,
    }


def report_of(
    key: bytes,
    agency: Agency,
    event: dict[str, Any],
    *,
    unit: str | None = None,
    report: str | None = None,
    operation: str = OPERATION,
    sector: str | None = "terreaux",
) -> UnitReport:
    unit = unit or UNITS[agency]
    return UnitReport.model_validate(
        {
            "report": report or report_id(),
            "operation": operation,
            "unit": unit,
            "token": unit_token(key, operation, unit),
            "time": DURING,
            "sector": sector,
            "event": event,
        }
    )


def subject_of(report: UnitReport, agency: Agency, mode: Mode = Mode.LIVE) -> str:
    return subjects.report(mode, report.operation, agency, report.unit)


def engaged(key: bytes, agency: Agency, report: UnitReport, mode: Mode = Mode.LIVE) -> Engagement:
    """Where the report's unit stands, once authenticated on its subject (or its refusal)."""
    address = report_address(subject_of(report, agency, mode))
    return authenticate(report, address, festival_engagements(agency), key)


def assignment(
    agency: Agency, unit: str | None, incident: str = "INC-1", event_id: str | None = None
) -> Envelope:
    """An `incident.assigned` as the coordinator records it and copies it to feeds."""
    return Envelope(
        id=EventId(event_id or str(uuid.uuid4())),
        source="/interforces/crisis_cell/PC-HDV",
        type="fr.interforces.incident.assigned",
        time=DURING,
        operation=OperationId(OPERATION),
        mode=Mode.LIVE,
        agency=Agency.CRISIS_CELL,
        unit=UnitId("PC-HDV"),
        recordedtime=DURING,
        sequence=7,
        data=IncidentAssigned(
            incident=IncidentId(incident),
            assignee=agency,
            assignee_unit=UnitId(unit) if unit else None,
            instructions="Se rendre sur place",
        ),
    )


def feed_body(envelope: Envelope) -> bytes:
    return to_structured(envelope)


@dataclass
class FakeOutbox:
    """The outbox in memory; `fail` makes every send raise `PublishError` (NATS down)."""

    fail: bool = False
    proposals: list[tuple[str, str, Envelope]] = field(default_factory=list)
    receipts: list[tuple[str, Envelope]] = field(default_factory=list)
    dispatches: list[tuple[str, Dispatch]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    async def propose(self, subject: str, stream: str, envelope: Envelope) -> bool:
        if self.fail:
            raise PublishError(subject, "no responders")
        duplicate = envelope.id in self.seen
        self.seen.add(envelope.id)
        if not duplicate:
            self.proposals.append((subject, stream, envelope))
        return duplicate

    async def hand_receipt(self, subject: str, envelope: Envelope) -> None:
        if self.fail:
            raise PublishError(subject, "no responders")
        self.receipts.append((subject, envelope))

    async def dispatch(self, subject: str, dispatch: Dispatch, mode: Mode) -> None:
        if self.fail:
            raise PublishError(subject, "no responders")
        self.dispatches.append((subject, dispatch))
