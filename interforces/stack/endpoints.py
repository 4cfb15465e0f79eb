"""Where the command-line tools find NATS and PostgreSQL: the configured URLs when set,
otherwise the servers of the stack running in the data directory (`stack.json`)."""

from __future__ import annotations

from dataclasses import dataclass

from interforces.stack.stack import ServerRecord, StackSettings, StackState, read_state


class EndpointsError(Exception):
    """No server to talk to: none configured and no running stack recorded."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Client URLs of the servers a command talks to (with their credentials)."""

    nats_url: str
    database_url: str


def resolve_endpoints(settings: StackSettings) -> Endpoints:
    """The configured URLs, falling back to the running stack's embedded servers."""
    state = read_state(settings.data_dir.resolve())
    return Endpoints(
        nats_url=settings.nats_url or _running(state, "nats", "NATS_URL", settings),
        database_url=settings.database_url or _running(state, "postgres", "DATABASE_URL", settings),
    )


def resolve_database_url(settings: StackSettings) -> str:
    """The configured PostgreSQL URL, else the running stack's (for database-only tools)."""
    state = read_state(settings.data_dir.resolve())
    return settings.database_url or _running(state, "postgres", "DATABASE_URL", settings)


def _running(state: StackState | None, part: str, variable: str, settings: StackSettings) -> str:
    record: ServerRecord | None = None
    if state is not None and state.stopped_at is None:
        record = state.nats if part == "nats" else state.postgres
    if record is None or not record.embedded:
        raise EndpointsError(
            f"{variable} is not set and no stack is running in {settings.data_dir}: "
            f"set {variable} or start one with `interforces up`."
        )
    return record.url
