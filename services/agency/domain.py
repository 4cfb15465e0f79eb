"""The agency's functional core: a unit report becomes a proposal, what is the agency's alone
stays home; a feed copy becomes the dispatches its units need. No I/O here.

The path of a report: `report_address` (the subject it came on) → `read_report` (the bytes)
→ `authenticate` (operation, mode, unit, token) → `enrich` (event validated, envelope built,
the agency's private transforms applied, doctrine guards). Each step refuses with a
`ReportRefusedError` carrying a stable reason code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from contracts import subjects
from contracts.charter.model import Charter
from contracts.cloudevents import envelope_from_mapping, from_structured
from contracts.credentials import verify_unit_token
from contracts.envelope import Envelope
from contracts.errors import EnvelopeError
from contracts.events.catalogue import EVENT_TYPES, Event
from contracts.events.identity_checks import CheckFacts, IdentityCheckRecorded, RecepisseIssued
from contracts.events.incidents import IncidentAssigned
from contracts.ids import IDENTIFIER_PATTERN, OperationId, UnitId, derived_event_id
from contracts.reasons import ReasonCode
from contracts.reports import Dispatch, UnitReport
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Capability, Classification, Mode
from services.agency.errors import ConfigurationError, ReportRefusedError, UnreadableFeedError

_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
#: Suffix of a receipt's id: the receipt and the record of one check are two events.
RECEIPT_ID_PART = "recepisse"

# --- where this agency stands -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Engagement:
    """This agency's place in one operation, as its charter fixes it: the mode, the units."""

    operation: OperationId
    mode: Mode
    units: frozenset[str]


@dataclass(frozen=True, slots=True)
class Engagements:
    """Every operation a charter engages this agency in, and those charted without it."""

    agency: Agency
    operations: Mapping[str, Engagement]
    elsewhere: frozenset[str] = frozenset()

    @classmethod
    def from_charters(cls, agency: Agency, charters: Iterable[Charter]) -> Engagements:
        """Keep the operations where `agency` is an actor; an operation charted twice is an
        error (two charters could disagree on who the units are)."""
        operations: dict[str, Engagement] = {}
        elsewhere: set[str] = set()
        for charter in charters:
            operation = charter.operation.id
            if operation in operations or operation in elsewhere:
                raise ConfigurationError(f"operation {operation!r} is charted twice")
            actor = charter.actor(agency)
            if actor is None:
                elsewhere.add(operation)
                continue
            operations[operation] = Engagement(
                operation=operation,
                mode=charter.operation.mode,
                units=frozenset(unit.id for unit in actor.units),
            )
        return cls(agency, MappingProxyType(operations), frozenset(elsewhere))

    def locate(self, operation: str) -> Engagement:
        """This agency's engagement in `operation`, or a refusal saying why there is none."""
        engagement = self.operations.get(operation)
        if engagement is not None:
            return engagement
        if operation in self.elsewhere:
            raise ReportRefusedError(ReasonCode.UNKNOWN_ACTOR)
        raise ReportRefusedError(ReasonCode.UNKNOWN_OPERATION)


# --- a unit report ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportAddress:
    """What the subject a report came on says: mode, agency, operation, unit token."""

    mode: Mode
    agency: Agency
    operation: str
    unit_token: str


def report_address(subject: str) -> ReportAddress:
    """Parse `ifc.<mode>.<operation>.report.<agency>.<unit>`."""
    parts = subject.split(".")
    if len(parts) != 6 or parts[0] != subjects.ROOT or parts[3] != subjects.Channel.REPORT:
        raise ReportRefusedError(ReasonCode.IDENTITY_MISMATCH, "not a report subject")
    try:
        mode, agency = Mode(parts[1]), Agency(parts[4])
    except ValueError as exc:
        raise ReportRefusedError(ReasonCode.IDENTITY_MISMATCH, "not a report subject") from exc
    return ReportAddress(mode=mode, agency=agency, operation=parts[2], unit_token=parts[5])


def read_report(raw: bytes, max_bytes: int) -> UnitReport:
    """The report in `raw`, or a refusal (too large, not JSON, not a report)."""
    if len(raw) > max_bytes:
        raise ReportRefusedError(
            ReasonCode.PAYLOAD_TOO_LARGE, f"{len(raw)} bytes, at most {max_bytes}"
        )
    document = _json_object(raw)
    if document is None:
        raise ReportRefusedError(ReasonCode.MALFORMED, "a report is one JSON object")
    try:
        return UnitReport.model_validate(document)
    except ValidationError as exc:
        raise ReportRefusedError(ReasonCode.INVALID_REPORT, _locations(exc)) from exc


@dataclass(frozen=True, slots=True)
class ReportHints:
    """What can be said of a refused report without trusting it: only well-formed ids."""

    report: str = ""
    operation: str | None = None
    unit: str | None = None


def report_hints(raw: bytes) -> ReportHints:
    """The report id, operation and unit of a report that may be unreadable."""
    document = _json_object(raw) or {}

    def identifier(key: str) -> str | None:
        value = document.get(key)
        return value if isinstance(value, str) and _IDENTIFIER.fullmatch(value) else None

    return ReportHints(
        report=identifier("report") or "",
        operation=identifier("operation"),
        unit=identifier("unit"),
    )


def authenticate(
    report: UnitReport, address: ReportAddress, engagements: Engagements, key: bytes
) -> Engagement:
    """Check who sends the report: the subject, the charter and the token must agree."""
    if address.agency is not engagements.agency:
        raise ReportRefusedError(ReasonCode.IDENTITY_MISMATCH, "subject of another agency")
    if report.operation != address.operation:
        raise ReportRefusedError(ReasonCode.WRONG_OPERATION, "the subject names another one")
    if subjects.unit_token(report.unit) != address.unit_token:
        raise ReportRefusedError(ReasonCode.IDENTITY_MISMATCH, "the subject names another unit")
    engagement = engagements.locate(report.operation)
    if engagement.mode is not address.mode:
        raise ReportRefusedError(ReasonCode.MODE_MISMATCH)
    if report.unit not in engagement.units:
        raise ReportRefusedError(ReasonCode.UNKNOWN_UNIT)
    if not verify_unit_token(key, report.operation, report.unit, report.token):
        raise ReportRefusedError(ReasonCode.UNIT_NOT_AUTHENTICATED)
    return engagement


# --- what stays home ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Draft:
    """A reported event on its way to becoming a proposal, and what stays with the agency."""

    agency: Agency
    event: Event
    receipt: RecepisseIssued | None = None
    held: tuple[tuple[str, str], ...] = ()


#: An agency's own step between the reported event and the proposal.
PrivateTransform = Callable[[Draft], Draft]


def keep_case_notes(draft: Draft) -> Draft:
    """Mediation (doctrine point 4): the fields only this agency may hold stay here."""
    event, held = _take_held(draft.event, draft.agency)
    return replace(draft, event=event, held=draft.held + held)


def issue_recepisse(draft: Draft) -> Draft:
    """Identity checks (doctrine point 5): the receipt goes to the person, the forces keep
    the same facts without the identity. A record reported without its receipt is refused:
    the person would have nothing."""
    event = draft.event
    if isinstance(event, IdentityCheckRecorded):
        raise ReportRefusedError(ReasonCode.RECEPISSE_REQUIRED)
    if not isinstance(event, RecepisseIssued):
        return draft
    facts = {name: getattr(event, name) for name in CheckFacts.model_fields}
    return replace(draft, event=IdentityCheckRecorded.model_validate(facts), receipt=event)


@dataclass(frozen=True, slots=True)
class AgencyProfile:
    """What makes one agency service differ from another: its agency, its private steps."""

    agency: Agency
    transforms: tuple[PrivateTransform, ...] = ()


@dataclass(frozen=True, slots=True)
class HeldNotes:
    """Fields of one event kept in the agency's private store, never sent anywhere."""

    event_id: str
    event_type: str
    operation: str
    mode: Mode
    unit: str
    case: str | None
    occurred_at: datetime
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a report becomes: the proposal, and what never joins it."""

    proposal: Envelope
    receipt: Envelope | None = None
    held: HeldNotes | None = None
    dropped: tuple[str, ...] = ()

    @property
    def proposal_subject(self) -> str:
        """Where the proposal is published."""
        p = self.proposal
        return subjects.proposal(p.mode, p.operation, p.agency, p.type)

    @property
    def proposal_stream(self) -> str:
        """The stream that captures it."""
        return subjects.stream_name(self.proposal.mode, StreamRole.PROPOSALS)

    @property
    def receipt_subject(self) -> str | None:
        """Where the receipt goes, if there is one (core NATS: no stream keeps it)."""
        r = self.receipt
        return None if r is None else subjects.recepisse(r.mode, r.operation, r.agency)


def proposal_id(agency: Agency, report: UnitReport) -> str:
    """The proposal's id: the same for every retry of one report."""
    return derived_event_id(agency.value, report.operation, report.unit, report.report)


def enrich(profile: AgencyProfile, report: UnitReport, engagement: Engagement) -> Outcome:
    """Validate the reported event and build the proposal, keeping home what must stay."""
    kind = report.event.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise ReportRefusedError(ReasonCode.UNKNOWN_TYPE)
    agency = profile.agency
    event_id = proposal_id(agency, report)
    try:
        reported = envelope_from_mapping(
            {
                "id": event_id,
                "source": f"/interforces/{agency.value}/{report.unit}",
                "type": kind,
                "time": report.time,
                "subject": report.subject,
                "operation": report.operation,
                "mode": engagement.mode,
                "agency": agency,
                "unit": report.unit,
                "sector": report.sector,
                "classification": EVENT_TYPES[kind].TRAITS.classification,
                "data": report.event,
            }
        )
    except EnvelopeError as exc:
        raise ReportRefusedError(ReasonCode(exc.code), exc.message) from exc
    draft = Draft(agency=agency, event=reported.data)
    for transform in profile.transforms:
        draft = transform(draft)
    draft, dropped = _doctrine_guards(draft)
    event = draft.event
    proposal = reported.model_copy(
        update={"type": event.type, "data": event, "classification": event.TRAITS.classification}
    )
    receipt = None
    if draft.receipt is not None:
        receipt = reported.model_copy(
            update={
                "id": derived_event_id(event_id, RECEIPT_ID_PART),
                "classification": Classification.RESTRICTED,
            }
        )
    held = None
    if draft.held:
        case = getattr(event, "mediation", None)
        held = HeldNotes(
            event_id=event_id,
            event_type=event.type,
            operation=report.operation,
            mode=engagement.mode,
            unit=report.unit,
            case=case if isinstance(case, str) else None,
            occurred_at=report.time,
            fields=draft.held,
        )
    return Outcome(proposal=proposal, receipt=receipt, held=held, dropped=dropped)


def _doctrine_guards(draft: Draft) -> tuple[Draft, tuple[str, ...]]:
    """What holds whatever the agency's own steps did."""
    event = draft.event
    if event.TRAITS.capability is Capability.IDENTITY_CHECK and draft.receipt is None:
        # Only a service that hands receipts may record checks: no record without a receipt.
        raise ReportRefusedError(
            ReasonCode.NOT_COMPETENT_TYPE, "this service hands no receipt of identity checks"
        )
    if not event.TRAITS.shareable:
        raise ReportRefusedError(ReasonCode.NOT_SHAREABLE)
    # A field another agency holds (a police unit writing case notes) leaves with no one.
    stripped, dropped = _take_held(event, None)
    return replace(draft, event=stripped), tuple(name for name, _ in dropped)


def _take_held(event: Event, holder: Agency | None) -> tuple[Event, tuple[tuple[str, str], ...]]:
    """Reset the fields held by `holder` (by anyone when None); return what they held."""
    held: list[tuple[str, str]] = []
    reset: dict[str, Any] = {}
    fields = type(event).model_fields
    for name, who in type(event).holder_only_fields().items():
        if holder is not None and who is not holder:
            continue
        value, default = getattr(event, name), fields[name].default
        if value != default:
            held.append((name, str(value)))
            reset[name] = default
    return (event.model_copy(update=reset) if reset else event), tuple(held)


# --- the feed -----------------------------------------------------------------------------


def read_feed_copy(raw: bytes, mode: Mode) -> Envelope:
    """A copy from this agency's feed (of `mode`), or `UnreadableFeedError`."""
    try:
        envelope = from_structured(raw)
    except EnvelopeError as exc:
        raise UnreadableFeedError(ReasonCode(exc.code), exc.message) from exc
    if envelope.mode is not mode:
        raise UnreadableFeedError(ReasonCode.MODE_MISMATCH, f"a {envelope.mode.value} event")
    return envelope


@dataclass(frozen=True, slots=True)
class DispatchPlan:
    """The dispatches a feed copy calls for, and why one could not be sent, if so."""

    dispatches: tuple[tuple[str, Dispatch], ...] = ()
    problem: str | None = None


def plan_dispatches(engagements: Engagements, envelope: Envelope) -> DispatchPlan:
    """An assignment to this agency goes to the unit it names, or, naming none, to every unit
    of the agency in that operation (whoever is free takes it; the others know)."""
    event = envelope.data
    if not isinstance(event, IncidentAssigned) or event.assignee is not engagements.agency:
        return DispatchPlan()
    engagement = engagements.operations.get(envelope.operation)
    if engagement is None or engagement.mode is not envelope.mode:
        return DispatchPlan(problem="operation where this agency has no units")
    if event.assignee_unit is not None:
        if event.assignee_unit not in engagement.units:
            return DispatchPlan(problem="unit not in this agency's charter")
        units: Iterable[str] = (event.assignee_unit,)
    else:
        units = sorted(engagement.units)
    return DispatchPlan(
        dispatches=tuple(
            (
                subjects.dispatch(envelope.mode, envelope.operation, engagements.agency, unit),
                Dispatch(
                    unit=UnitId(unit),
                    event_id=envelope.id,
                    type=event.type,
                    incident=event.incident,
                ),
            )
            for unit in units
        )
    )


# --- helpers ------------------------------------------------------------------------------


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _locations(exc: ValidationError, limit: int = 3) -> str:
    """Where a report is wrong, with pydantic's wording (which never quotes the input)."""
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '<report>'}: {e['msg']}"
        for e in exc.errors(include_url=False)[:limit]
    ]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
