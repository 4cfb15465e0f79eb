"""The agency service's shell: answers unit reports, reads its feed, talks to NATS.

A report is answered `proposed` only once JetStream has acknowledged the proposal (and the
private store has kept what stays home); a refusal is answered at once and recorded.
Failures that a retry can cure (NATS, disk) raise instead: the unit gets no reply and sends
the same report again, which derives the same event id, so nothing is proposed twice.

Nothing here logs a payload: logs name reports, units, reason codes and event ids only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from faststream.nats import NatsBroker
from nats.errors import Error as NatsError

from contracts.cloudevents import to_structured
from contracts.envelope import Envelope
from contracts.reasons import ReasonCode
from contracts.reports import Dispatch, ReportAck, ReportStatus, UnitReport
from contracts.routing import CLOUDEVENTS_JSON, CONTENT_TYPE_HEADER, MSG_ID_HEADER, mode_headers
from contracts.vocabulary import Mode
from services.agency.domain import (
    AgencyProfile,
    Engagements,
    Outcome,
    ReportHints,
    authenticate,
    enrich,
    plan_dispatches,
    read_feed_copy,
    read_report,
    report_address,
    report_hints,
)
from services.agency.errors import (
    AgencyError,
    ConfigurationError,
    PublishError,
    ReportRefusedError,
    UnreadableFeedError,
)
from services.agency.private_store import PrivateStore, RefusedReport

log = structlog.get_logger("interforces.agency")

JSON = "application/json"


class Outbox(Protocol):
    """Where the agency service sends what it produces."""

    async def propose(self, subject: str, stream: str, envelope: Envelope) -> bool:
        """Publish a proposal and wait for JetStream; whether it was a duplicate."""
        ...

    async def hand_receipt(self, subject: str, envelope: Envelope) -> None:
        """Send a receipt to the checked person (core NATS: no stream keeps it)."""
        ...

    async def dispatch(self, subject: str, dispatch: Dispatch, mode: Mode) -> None:
        """Tell a unit (core NATS)."""
        ...


class BrokerOutbox:
    """The outbox over the service's FastStream broker, so that its telemetry middleware
    puts the current trace context on every message."""

    def __init__(self, broker: NatsBroker, timeout_s: float) -> None:
        self.broker = broker
        self.timeout_s = timeout_s

    async def propose(self, subject: str, stream: str, envelope: Envelope) -> bool:
        """Publish a structured CloudEvent, deduplicated by its id; whether a duplicate."""
        headers = {
            MSG_ID_HEADER: envelope.id,
            CONTENT_TYPE_HEADER: CLOUDEVENTS_JSON,
            **mode_headers(envelope.mode),
        }
        try:
            ack = await self.broker.publish(
                to_structured(envelope),
                subject,
                headers=headers,
                stream=stream,
                timeout=self.timeout_s,
            )
        except (NatsError, TimeoutError) as exc:
            raise PublishError(subject, f"{type(exc).__name__}: {exc}") from exc
        # The in-memory test broker answers no PubAck: nothing to learn from it then.
        return bool(getattr(ack, "duplicate", False))

    async def hand_receipt(self, subject: str, envelope: Envelope) -> None:
        """Publish the receipt as a structured CloudEvent."""
        await self._core(
            subject, to_structured(envelope), CLOUDEVENTS_JSON, mode_headers(envelope.mode)
        )

    async def dispatch(self, subject: str, dispatch: Dispatch, mode: Mode) -> None:
        """Publish the dispatch as JSON."""
        await self._core(subject, dispatch.model_dump_json().encode(), JSON, mode_headers(mode))

    async def _core(
        self, subject: str, body: bytes, content_type: str, marks: dict[str, str]
    ) -> None:
        try:
            await self.broker.publish(
                body, subject, headers={**marks, CONTENT_TYPE_HEADER: content_type}
            )
        except (NatsError, TimeoutError) as exc:
            raise PublishError(subject, f"{type(exc).__name__}: {exc}") from exc


@dataclass
class Counters:
    """What the service did since it started (health details)."""

    proposed: int = 0
    duplicates: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    retry_needed: int = 0
    receipts: int = 0
    notes_held: int = 0
    fields_dropped: int = 0
    feed: Counter[str] = field(default_factory=Counter)
    feed_unreadable: Counter[str] = field(default_factory=Counter)
    dispatched: int = 0
    dispatch_skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counters."""
        return {
            "reports": {
                "proposed": self.proposed,
                "duplicates": self.duplicates,
                "refused": dict(self.refused),
                "retry_needed": self.retry_needed,
            },
            "receipts": self.receipts,
            "notes_held": self.notes_held,
            "fields_dropped": self.fields_dropped,
            "feed": {
                "by_type": dict(self.feed),
                "unreadable": dict(self.feed_unreadable),
            },
            "dispatches": {"sent": self.dispatched, "skipped": self.dispatch_skipped},
        }


class AgencyService:
    """One agency's handling of its unit reports and of its feed."""

    def __init__(
        self,
        profile: AgencyProfile,
        engagements: Engagements,
        key: bytes,
        store: PrivateStore,
        outbox: Outbox,
        *,
        max_report_bytes: int = 64 * 1024,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if engagements.agency is not profile.agency:
            raise ConfigurationError("engagements of another agency")
        self.profile = profile
        self.agency = profile.agency
        self.engagements = engagements
        self.store = store
        self.outbox = outbox
        self.max_report_bytes = max_report_bytes
        self.counters = Counters()
        self._key = key
        self._clock = clock

    def health(self) -> dict[str, Any]:
        """Health details: counters and the operations served."""
        return {
            **self.counters.as_dict(),
            "operations": {
                op: e.mode.value for op, e in sorted(self.engagements.operations.items())
            },
        }

    # --- unit reports ---------------------------------------------------------------------

    async def handle_report(self, subject: str, raw: bytes) -> ReportAck:
        """Answer one unit report (raises only what a retry may cure: `AgencyError`)."""
        report: UnitReport | None = None
        try:
            address = report_address(subject)
            report = read_report(raw, self.max_report_bytes)
            engagement = authenticate(report, address, self.engagements, self._key)
            outcome = enrich(self.profile, report, engagement)
        except ReportRefusedError as refusal:
            return await self._refuse(subject, raw, report, refusal)
        try:
            await self._deliver(report, outcome)
        except AgencyError as exc:
            self.counters.retry_needed += 1
            log.warning(
                "report not proposed, the unit will retry",
                report=report.report,
                unit=report.unit,
                operation=report.operation,
                error=type(exc).__name__,
            )
            raise
        return ReportAck(
            report=report.report, status=ReportStatus.PROPOSED, event_id=outcome.proposal.id
        )

    async def _deliver(self, report: UnitReport, outcome: Outcome) -> None:
        proposal = outcome.proposal
        # What stays home is kept first: if it cannot be, nothing leaves.
        if outcome.held is not None and await self.store.hold(outcome.held):
            self.counters.notes_held += 1
        if outcome.dropped:
            self.counters.fields_dropped += len(outcome.dropped)
            log.warning(
                "fields held by another agency dropped",
                report=report.report,
                unit=report.unit,
                fields=list(outcome.dropped),
            )
        if outcome.receipt is not None and outcome.receipt_subject is not None:
            # Before the record: the person is owed the receipt whatever the coordinator
            # decides, and a retry sends the same receipt (same id) again at worst.
            await self.outbox.hand_receipt(outcome.receipt_subject, outcome.receipt)
            self.counters.receipts += 1
        duplicate = await self.outbox.propose(
            outcome.proposal_subject, outcome.proposal_stream, proposal
        )
        self.counters.proposed += 1
        self.counters.duplicates += int(duplicate)
        log.info(
            "report proposed",
            report=report.report,
            unit=report.unit,
            operation=report.operation,
            mode=proposal.mode.value,
            type=proposal.type,
            event_id=proposal.id,
            duplicate=duplicate,
        )

    async def _refuse(
        self, subject: str, raw: bytes, report: UnitReport | None, refusal: ReportRefusedError
    ) -> ReportAck:
        if report is not None:
            who = ReportHints(report=report.report, operation=report.operation, unit=report.unit)
        elif refusal.code is ReasonCode.PAYLOAD_TOO_LARGE:
            who = ReportHints()  # not worth parsing what is refused for its size
        else:
            who = report_hints(raw)
        report_id, unit, operation = who.report, who.unit, who.operation
        mode = _mode_of(subject)
        self.counters.refused[refusal.code.value] += 1
        log.warning(
            "report refused",
            reason=refusal.code.value,
            detail=refusal.detail,
            report=report_id,
            unit=unit,
            operation=operation,
            mode=None if mode is None else mode.value,
        )
        try:
            await self.store.record_refusal(
                RefusedReport(
                    report=report_id,
                    operation=operation,
                    mode=mode,
                    unit=unit,
                    reason=refusal.code,
                    refused_at=self._clock(),
                )
            )
        except AgencyError as exc:
            # The refusal still goes back: the unit must learn it, the log keeps the trace.
            log.error("refusal not recorded", report=report_id, error=str(exc))
        return ReportAck(
            report=report_id,
            status=ReportStatus.REFUSED,
            reason=refusal.code,
            message=refusal.message,
        )

    # --- the feed -------------------------------------------------------------------------

    async def handle_feed(self, mode: Mode, raw: bytes) -> None:
        """Count one copy from the feed and dispatch assignments to units.

        An unreadable copy is logged and returns normally (so it is acknowledged); a
        dispatch that cannot be sent raises (so the copy is delivered again)."""
        try:
            envelope = read_feed_copy(raw, mode)
        except UnreadableFeedError as exc:
            self.counters.feed_unreadable[exc.code.value] += 1
            log.warning(
                "feed copy unreadable", reason=exc.code.value, detail=exc.detail, mode=mode.value
            )
            return
        self.counters.feed[envelope.type] += 1
        plan = plan_dispatches(self.engagements, envelope)
        if plan.problem is not None:
            self.counters.dispatch_skipped += 1
            log.warning(
                "assignment not dispatched",
                event_id=envelope.id,
                operation=envelope.operation,
                problem=plan.problem,
            )
        for subject, dispatch in plan.dispatches:
            await self.outbox.dispatch(subject, dispatch, mode)
            self.counters.dispatched += 1
            log.info(
                "unit dispatched",
                unit=dispatch.unit,
                event_id=dispatch.event_id,
                incident=dispatch.incident,
            )


def _mode_of(subject: str) -> Mode | None:
    try:
        return report_address(subject).mode
    except ReportRefusedError:
        return None
