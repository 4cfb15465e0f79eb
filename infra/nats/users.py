"""The names of the broker's users, and how a client logs in as one of them.

Services log in under their service name (`coordinator`, `securite_privee`, …); the others
are named here. Every user reads its replies on its own inbox prefix, `_INBOX_<user>`, the
only inbox the broker lets it subscribe to: nobody reads another user's replies (JetStream
API answers, pull-consumer deliveries, report acknowledgements).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.vocabulary import Agency, Mode

#: Declares the streams, probes health, administers: the only user with `>`.
OPERATOR = "operator"
#: Ethics committee, rights defender: nothing on the bus (they read the journal via the API).
OVERSIGHT = "oversight"
#: Trainers running exercises (exercise control): exercise subjects only.
TRAINER = "trainer"


#: The JetStream API, in the account that has JetStream (the operator, the core services).
JS_API = "$JS.API"
#: Where accounts without JetStream reach the JetStream API the core account lends them
#: (their own `$JS.API` answers "JetStream not enabled").
BORROWED_JS_API = "JS.IFC.API"
_AGENCIES = frozenset(agency.value for agency in Agency)


def units_user(agency: Agency, mode: Mode) -> str:
    """The user an agency's field units share in one mode."""
    return f"units-{agency.value}-{mode.value}"


def desk_user(mode: Mode) -> str:
    """The crisis-cell desk's user in one mode."""
    return f"desk-{mode.value}"


def jetstream_api(user: str) -> str:
    """The JetStream API prefix of a user's clients: the operator and the core services
    (coordinator, timeline, crisis-cell API) live in the account that has JetStream; an
    agency's service, units, desk, trainers and oversight in accounts that borrow it (or
    nothing of it)."""
    outside = user in _AGENCIES or user in (TRAINER, OVERSIGHT)
    return BORROWED_JS_API if outside or user.startswith(("units-", "desk-")) else JS_API


def inbox_prefix(user: str) -> str:
    """The inbox prefix of a user's connections (nats-py `inbox_prefix`)."""
    return f"_INBOX_{user}"


@dataclass(frozen=True, slots=True)
class NatsLogin:
    """A user and its password: what a client needs to connect as that user."""

    user: str
    password: str = field(repr=False)  # never printed

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for `nats.connect` (and FastStream's `NatsBroker`)."""
        return {
            "user": self.user,
            "password": self.password,
            "inbox_prefix": inbox_prefix(self.user),
        }

    @property
    def jetstream_api(self) -> str:
        """Its JetStream API prefix (`nc.jetstream(prefix=…)`)."""
        return jetstream_api(self.user)
