"""A connection as one broker user, and what the server said to it.

nats-py hands a permissions violation (`-ERR 'Permissions Violation for Publish to "…"'`) to
the error callback, lowercased; a `Session` keeps them so that an attempt can wait for the
server's refusal of exactly its subject.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from infra.nats.perimeters import BrokerUser
from infra.nats.users import NatsLogin


class Verb(StrEnum):
    """What a permissions violation is about."""

    PUBLISH = "publish"
    SUBSCRIBE = "subscription"


@dataclass
class Violations:
    """The permissions violations a connection was told about, in order."""

    messages: list[str] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def record(self, error: Exception) -> None:
        """nats-py's error callback."""
        self.messages.append(str(error))
        self._changed.set()

    def clear(self) -> None:
        """Forget what was recorded (before an attempt)."""
        self.messages.clear()

    def about(self, verb: Verb, subject: str) -> bool:
        """Whether the server refused `verb` on exactly `subject`."""
        wanted = f'permissions violation for {verb.value} to "{subject.lower()}"'
        return any(wanted in message.lower() for message in self.messages)

    async def wait(self, verb: Verb, subject: str) -> bool:
        """Wait (until cancelled) for the refusal of `verb` on `subject`; True once seen."""
        while not self.about(verb, subject):
            self._changed.clear()
            await self._changed.wait()
        return True


@dataclass
class Session:
    """One connection as one user, its JetStream context and its violations."""

    user: BrokerUser
    nc: Client
    violations: Violations

    @classmethod
    async def open(cls, url: str, user: BrokerUser, login: NatsLogin) -> Session:
        """Connect as `user` (no reconnection: a test wants to see a failure)."""
        violations = Violations()
        nc = await nats.connect(
            url,
            name=f"attacker-matrix-{user.name}",
            allow_reconnect=False,
            error_cb=violations.record,
            **login.connect_options(),
        )
        return cls(user, nc, violations)

    @property
    def js(self) -> JetStreamContext:
        """JetStream through the API prefix its account sees."""
        return self.nc.jetstream(prefix=self.user.js_api)

    async def close(self) -> None:
        """Close the connection."""
        await self.nc.close()
