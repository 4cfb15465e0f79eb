"""A field unit: sends its reports to its agency service and retries until answered.

A report goes by NATS request/reply on the unit's report subject. When no reply comes
(timeout) or no service listens (no responders), the unit sends the *same* report again,
with the same report id: the agency service derives the event id from it, so JetStream
keeps one proposal however many times the report travelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import ValidationError

from contracts import subjects
from contracts.credentials import unit_token
from contracts.reports import ReportAck, UnitReport
from contracts.vocabulary import Agency, Mode
from simulations.field.errors import ReplyError, ReportUndeliveredError
from simulations.field.retry import RetryPolicy

#: Called before each retry with the report id, the failed attempt number and its error.
RetryHook = Callable[[str, int, Exception], None]


class FieldUnit:
    """One unit of one agency, authenticated by its credential, reporting on its subject."""

    def __init__(  # noqa: PLR0917 (the unit's identity is its six coordinates)
        self,
        nc: Client,
        mode: Mode,
        operation: str,
        agency: Agency,
        unit: str,
        key: bytes,
        *,
        retry: RetryPolicy | None = None,
        on_retry: RetryHook | None = None,
    ) -> None:
        self.nc = nc
        self.mode = mode
        self.operation = operation
        self.agency = agency
        self.unit = unit
        self.retry = retry or RetryPolicy()
        self.on_retry = on_retry
        self.subject = subjects.report(mode, operation, agency, unit)
        self._token = unit_token(key, operation, unit)

    def build(
        self,
        report_id: str,
        time: datetime,
        event: dict[str, Any],
        sector: str | None = None,
        subject: str | None = None,
    ) -> UnitReport:
        """The report as it travels (validated here, so a bad one fails before sending)."""
        return unit_report(
            self.operation,
            self.unit,
            self._token,
            report=report_id,
            time=time,
            event=event,
            sector=sector,
            subject=subject,
        )

    async def report(
        self,
        report_id: str,
        time: datetime,
        event: dict[str, Any],
        sector: str | None = None,
        subject: str | None = None,
    ) -> ReportAck:
        """Send a report and return the agency service's answer.

        Raises `ReportUndeliveredError` when no answer came after every attempt, and
        `ReplyError` when the answer is not an acknowledgement of this report.
        """
        payload = self.build(report_id, time, event, sector, subject).model_dump_json().encode()
        policy = self.retry
        last: Exception | None = None
        for attempt in range(1, policy.attempts + 1):
            try:
                reply = await self.nc.request(self.subject, payload, timeout=policy.timeout_s)
            except (NatsTimeoutError, NoRespondersError) as exc:
                last = exc
                if attempt == policy.attempts:
                    break
                if self.on_retry is not None:
                    self.on_retry(report_id, attempt, exc)
                await asyncio.sleep(policy.pause(attempt))
                continue
            return _ack_of(report_id, reply.data)
        raise ReportUndeliveredError(report_id, policy.attempts, type(last).__name__)


def unit_report(
    operation: str,
    unit: str,
    token: str,
    *,
    report: str,
    time: datetime,
    event: dict[str, Any],
    sector: str | None = None,
    subject: str | None = None,
) -> UnitReport:
    """A unit report, validated."""
    return UnitReport.model_validate(
        {
            "report": report,
            "operation": operation,
            "unit": unit,
            "token": token,
            "time": time,
            "sector": sector,
            "subject": subject,
            "event": event,
        }
    )


def _ack_of(report_id: str, data: bytes) -> ReportAck:
    try:
        ack = ReportAck.model_validate_json(data)
    except ValidationError as exc:
        raise ReplyError(report_id, exc.errors(include_url=False)[0]["msg"]) from exc
    if ack.report != report_id:
        raise ReplyError(report_id, f"acknowledges {ack.report!r}")
    return ack
