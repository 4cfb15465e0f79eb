"""A real nats-server running the perimeters generated for the shipped festival charter and
its exercise twin, with the streams declared by the operator; sessions as any of its users.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from contracts.charter import Actor, Charter, load_charter
from contracts.charter.model import Competences
from contracts.vocabulary import Agency, Mode
from infra.nats.accounts import hashed_passwords, render
from infra.nats.perimeters import Perimeters, build_perimeters
from infra.nats.secrets import MIN_COST, login_of
from infra.nats.users import OPERATOR, NatsLogin
from infra.streams import Profile, declare_streams
from integration.security.sessions import Session
from interforces.stack.embedded import EmbeddedNats

CHARTERS = Path(__file__).resolve().parents[3] / "infra" / "charters"
FESTIVAL = CHARTERS / "fete-musique-presquile.yaml"
#: A charter the configuration does not serve: "another operation".
STADIUM = CHARTERS / "concert-stade.yaml"


def exercise_twin(charter: Charter) -> Charter:
    """The same operation rehearsed as an exercise: same id and perimeters, mode exercise,
    and a direction d'exercice that may inject everywhere."""
    control = Actor(
        agency=Agency.EXERCISE_CONTROL,
        name="Direction d'exercice",
        sectors=tuple(sector.id for sector in charter.sectors),
        competences=Competences(events=("exercise.injected",)),
    )
    twin = charter.model_copy(
        update={
            "operation": charter.operation.model_copy(update={"mode": Mode.EXERCISE}),
            "actors": (*charter.actors, control),
        }
    )
    return Charter.model_validate(twin.model_dump())  # validated as a deputy's file would be


@dataclass(frozen=True)
class SecuredBroker:
    """The server, what it was configured with, and where the passwords are."""

    server: EmbeddedNats
    perimeters: Perimeters
    secrets_dir: Path

    @property
    def url(self) -> str:
        """Client URL."""
        return self.server.url

    def login(self, user: str) -> NatsLogin:
        """How to connect as `user`."""
        return login_of(self.secrets_dir, user)


@pytest.fixture
def festival() -> Charter:
    """The shipped festival charter (live)."""
    return load_charter(FESTIVAL)


@pytest.fixture
def secured_server(tmp_path: Path, festival: Charter) -> Iterator[SecuredBroker]:
    """nats-server with the generated perimeters (cheap bcrypt cost: a test, not a vault)."""
    perimeters = build_perimeters([festival, exercise_twin(festival)], tuple(Mode))
    secrets_dir = tmp_path / "secrets"
    config = render(perimeters, hashed_passwords(perimeters, secrets_dir, cost=MIN_COST))
    (tmp_path / "perimeters.conf").write_text(config)  # kept beside the test's artefacts
    server = EmbeddedNats(tmp_path / "nats", extra_config=config)
    server.start()
    yield SecuredBroker(server, perimeters, secrets_dir)
    server.stop()


@pytest.fixture
async def secured(secured_server: SecuredBroker) -> SecuredBroker:
    """The server once the operator has declared the streams."""
    operator = await Session.open(
        secured_server.url,
        secured_server.perimeters.user(OPERATOR),
        secured_server.login(OPERATOR),
    )
    try:
        await declare_streams(operator.js, Profile.SINGLE)
    finally:
        await operator.close()
    return secured_server


Connect = Callable[[str], Awaitable[Session]]


@pytest.fixture
async def connect(secured: SecuredBroker) -> AsyncIterator[Connect]:
    """Open sessions as any user; all are closed after the test."""
    sessions: list[Session] = []

    async def open_session(user: str) -> Session:
        session = await Session.open(
            secured.url, secured.perimeters.user(user), secured.login(user)
        )
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        await session.close()
