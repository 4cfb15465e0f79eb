"""A readiness probe and record reader for the stand-in services (no NATS needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from interforces.stack.services import ServiceSpec

#: The module every stand-in runs.
STANDIN_MODULE = "tests.fixtures_stack.standin"


def standins(*names: str) -> tuple[ServiceSpec, ...]:
    """Stand-in services with these names."""
    return tuple(ServiceSpec(name, STANDIN_MODULE) for name in names)


class FileProbe:
    """Ready when the stand-in has written `<dir>/<service>.<pid>.ready`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def ready(self, service: str, pid: int) -> bool:
        """Whether that process wrote its ready file."""
        return (self.directory / f"{service}.{pid}.ready").exists()

    async def close(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the stand-ins' `events.log`."""

    ns: int
    service: str
    pid: int
    what: str


def events(directory: Path) -> list[Event]:
    """What the stand-ins recorded, in the order they wrote it."""
    path = directory / "events.log"
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines()]
    return [Event(int(ns), service, int(pid), what) for ns, service, pid, what in rows]


def first(directory: Path, service: str, what: str) -> Event:
    """The first `what` event of `service`."""
    return next(e for e in events(directory) if e.service == service and e.what == what)
