"""An evening on the timeline (published as the coordinator does, projected by the real
projector) and the crisis-cell API over it, with one caller per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
from nats.aio.client import Client
from unit.timeline.builders import FEST, at, envelope, event

from contracts.routing import RecordDelivery
from contracts.vocabulary import Agency, Mode
from integration.timeline.conftest import publish, running, settings_for, wait_checkpoint
from services.crisis_api.app import create_app
from services.crisis_api.auth import Caller, Role, TokenRegistry
from services.crisis_api.settings import CrisisApiSettings

OPERATION = "timeline-test"
#: A phrase only the crisis cell and the police may read (removed from private security's copy).
RESTRICTED = "suspect armé signalé par la BAC, plaque AB-123-CD"

TOKENS = {
    "crisis": "token-crisis-cell-0123456789abcdef",
    "private": "token-securite-privee-0123456789abcdef",
    "police": "token-police-nationale-0123456789abcdef",
    "mediation": "token-mediation-0123456789abcdef",
    "trainer": "token-trainer-0123456789abcdef",
    "oversight": "token-oversight-0123456789abcdef",
}
CALLERS = (
    Caller(name="cic", role=Role.CRISIS_CELL, token=TOKENS["crisis"]),
    Caller(name="sp", role=Role.AGENCY, agency=Agency.SECURITE_PRIVEE, token=TOKENS["private"]),
    Caller(name="pn", role=Role.AGENCY, agency=Agency.POLICE_NATIONALE, token=TOKENS["police"]),
    Caller(name="med", role=Role.AGENCY, agency=Agency.MEDIATION, token=TOKENS["mediation"]),
    Caller(name="formateur", role=Role.TRAINER, token=TOKENS["trainer"]),
    Caller(name="ddd", role=Role.OVERSIGHT, token=TOKENS["oversight"]),
)

CRISIS = RecordDelivery(to=Agency.CRISIS_CELL)
POLICE = RecordDelivery(to=Agency.POLICE_NATIONALE)
#: Private security's copy loses the description and gets positions at 2 decimals.
PRIVATE = RecordDelivery(
    to=Agency.SECURITE_PRIVEE, remove=("description",), coarsen=(("position", 2),)
)


def headers(who: str, motive: str | None = "retour d'expérience") -> dict[str, str]:
    """Authorization (and motive) headers of one caller."""
    found = {"Authorization": f"Bearer {TOKENS[who]}"}
    if motive is not None:
        found["X-Motive"] = quote(motive)
    return found


@dataclass(frozen=True, slots=True)
class Evening:
    """What the evening holds: the sequence of its last record."""

    last_seq: int


async def publish_evening(client: Client) -> int:
    """Units, two incidents (one with a restricted description), an assignment, a
    perimeter, a resolution, an exercise record and a refusal; the last sequence."""
    live = [
        (
            envelope(event("unit.checked_in", unit="PN-1"), unit="PN-1", time=at(1)),
            (CRISIS, POLICE),
        ),
        (
            envelope(
                event("incident.reported", incident="INC-1", description=RESTRICTED),
                Agency.POLICE_NATIONALE,
                time=at(5),
            ),
            (CRISIS, POLICE, PRIVATE),
        ),
        (
            envelope(
                event("incident.assigned", incident="INC-1", assignee="police_nationale"),
                Agency.CRISIS_CELL,
                time=at(7),
            ),
            (CRISIS, POLICE),
        ),
        (
            envelope(
                event("security_perimeter.established", perimeter="PER-1"),
                Agency.CRISIS_CELL,
                time=at(8),
            ),
            (CRISIS, POLICE, PRIVATE),
        ),
        (
            envelope(
                event("incident.reported", incident="INC-2", category="theft", position=FEST),
                Agency.SECURITE_PRIVEE,
                time=at(20),
            ),
            (CRISIS, PRIVATE),
        ),
        (
            envelope(
                event("incident.resolved", incident="INC-1"),
                Agency.POLICE_NATIONALE,
                time=at(40),
            ),
            (CRISIS, POLICE),
        ),
        (
            envelope(event("perimeter.violated"), Agency.SECURITE_PRIVEE, time=at(41)),
            (CRISIS, RecordDelivery(to=Agency.SECURITE_PRIVEE)),
        ),
        (
            envelope(
                event(
                    "perimeter.violated",
                    proposer="mediation",
                    credentials_agency="mediation",
                    proposal_id="evt-med",
                ),
                Agency.MEDIATION,
                time=at(42),
            ),
            (CRISIS, RecordDelivery(to=Agency.MEDIATION)),
        ),
    ]
    last = 0
    for env, deliveries in live:
        last = await publish(client, env, deliveries=deliveries)
    drill = envelope(event("unit.checked_in", unit="EX-1"), unit="EX-1", mode=Mode.EXERCISE)
    await publish(client, drill, deliveries=(CRISIS,))
    return last


@pytest.fixture
async def evening(nats_url: str, database_url: str, client: Client) -> Evening:
    """The evening, projected into `database_url`."""
    last = await publish_evening(client)
    async with running(settings_for(nats_url, database_url)):
        await wait_checkpoint(database_url, last)
        await wait_checkpoint(database_url, 1, Mode.EXERCISE)
    return Evening(last_seq=last)


@pytest.fixture
async def api(
    nats_url: str, database_url: str, evening: Evening, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """The API over the evening, started, with an HTTP client."""
    settings = CrisisApiSettings(
        nats_url=nats_url,
        database_url=database_url,
        charters=(),
        secrets_dir=tmp_path_factory.mktemp("secrets"),
    )
    app = create_app(settings, TokenRegistry(CALLERS))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test"
        ) as http,
    ):
        yield http
