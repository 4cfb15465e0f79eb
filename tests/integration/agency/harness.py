"""Running agency services in the test process, sending them unit reports, and the checked
person's phone that keeps the receipts it reads."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry.sdk.trace import TracerProvider
from unit.agency.builders import key_of, settings_for, subject_of

from contracts.cloudevents import from_structured
from contracts.events.identity_checks import RecepisseIssued
from contracts.reports import ReportAck, UnitReport
from contracts.vocabulary import Agency, Mode
from services.agency.app import AgencyApp, build_service
from services.agency.domain import AgencyProfile
from simulations.field.inbox import ReceiptInbox


async def send(nc: Client, subject: str, body: bytes) -> ReportAck:
    """Send a report's bytes as a unit does; the service's answer."""
    reply = await nc.request(subject, body, timeout=10)
    return ReportAck.model_validate_json(reply.data)


async def send_report(nc: Client, report: UnitReport, agency: Agency) -> ReportAck:
    """Send a unit report on its own subject; the service's answer."""
    return await send(nc, subject_of(report, agency), report.model_dump_json().encode())


class Started:
    """A running agency service and the key its units hold."""

    def __init__(self, built: AgencyApp, key: bytes) -> None:
        self.built = built
        self.key = key

    async def stop(self) -> None:
        """Stop the service and close its store."""
        await self.built.broker.stop()
        await self.built.store.close()


async def start(
    profile: AgencyProfile, nats_url: str, directory: Path, provider: TracerProvider | None = None
) -> Started:
    """Build and start an agency service over the festival charter."""
    settings = settings_for(directory, nats_url)
    built = build_service(profile, settings, provider)
    await built.broker.start()
    # The server has taken the service's subscriptions once its connection is flushed: a
    # report sent before that would find no responder (a unit would retry; a test must not).
    await built.broker.config.connection_state.connection.flush()
    return Started(built, key_of(settings, profile.agency))


class Phone(ReceiptInbox):
    """The checked persons' phones: the receipt inbox, keeping every message as it came."""

    def __init__(self, nc: Client, mode: Mode, operation: str, agencies: Iterable[Agency]) -> None:
        super().__init__(nc, mode, operation, agencies)
        self.messages: list[Msg] = []

    async def _on_message(self, msg: Msg) -> None:
        self.messages.append(msg)
        await super()._on_message(msg)

    def receipts(self) -> list[RecepisseIssued]:
        """The receipts received, in order (each as the phone reads it)."""
        found = [from_structured(m.data).data for m in self.messages]
        return [r for r in found if isinstance(r, RecepisseIssued)]
