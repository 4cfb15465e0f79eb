"""A tiny stand-in for the agency services: it answers unit reports on a real server.

It checks the unit's token with its agency's key, answers `proposed` (or `refused` when the
token is wrong), hands a receipt on the receipt channel for an identity check, and can be
told to stay silent the first time it sees some reports (so that units retry).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from contracts import subjects
from contracts.cloudevents import envelope_from_mapping, to_structured
from contracts.credentials import read_unit_key, verify_unit_token
from contracts.ids import derived_event_id
from contracts.reasons import ReasonCode
from contracts.reports import ReportAck, ReportStatus, UnitReport
from contracts.vocabulary import Agency, Mode

RECEIPT = "fr.interforces.identity_check.recepisse_issued"


class StandIn:
    """Answers the reports of some agencies, all operations of a mode."""

    def __init__(
        self,
        nc: Client,
        mode: Mode,
        agencies: Iterable[Agency],
        secrets_dir: Path,
        *,
        silent_first: Callable[[str], bool] = lambda _report: False,
    ) -> None:
        self.nc = nc
        self.mode = mode
        self.agencies = tuple(agencies)
        self.keys = {a: read_unit_key(secrets_dir, a) for a in self.agencies}
        self.silent_first = silent_first
        self.seen: Counter[str] = Counter()
        self.reports: list[UnitReport] = []
        self._subscriptions: list[Subscription] = []

    async def start(self) -> None:
        """Listen to every unit of the agencies."""
        for agency in self.agencies:
            subscription = await self.nc.subscribe(
                subjects.reports_of(self.mode, agency), cb=self._handler(agency)
            )
            self._subscriptions.append(subscription)
        await self.nc.flush()

    async def stop(self) -> None:
        """Stop listening."""
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions.clear()

    def _handler(self, agency: Agency) -> Callable[[Msg], Awaitable[None]]:
        async def handle(msg: Msg) -> None:
            report = UnitReport.model_validate_json(msg.data)
            self.seen[report.report] += 1
            self.reports.append(report)
            if self.seen[report.report] == 1 and self.silent_first(report.report):
                return  # as if the service had crashed before answering
            if not verify_unit_token(
                self.keys[agency], report.operation, report.unit, report.token
            ):
                refusal = ReportAck(
                    report=report.report,
                    status=ReportStatus.REFUSED,
                    reason=ReasonCode.UNIT_NOT_AUTHENTICATED,
                )
                await msg.respond(refusal.model_dump_json().encode())
                return
            event_id = derived_event_id(agency.value, report.operation, report.unit, report.report)
            if report.event.get("type") == RECEIPT:
                await self._hand_receipt(agency, report, event_id)
            ack = ReportAck(report=report.report, status=ReportStatus.PROPOSED, event_id=event_id)
            await msg.respond(ack.model_dump_json().encode())

        return handle

    async def _hand_receipt(self, agency: Agency, report: UnitReport, event_id: str) -> None:
        receipt = envelope_from_mapping(
            {
                "id": derived_event_id(event_id, "recepisse"),
                "source": f"/interforces/{agency.value}/{report.unit}",
                "type": RECEIPT,
                "time": report.time,
                "operation": report.operation,
                "mode": self.mode,
                "agency": agency,
                "unit": report.unit,
                "classification": "restricted",
                "data": report.event,
            }
        )
        await self.nc.publish(
            subjects.recepisse(self.mode, report.operation, agency), to_structured(receipt)
        )
