"""Health over NATS: each service answers `ifc.health.<service>` with what it is doing.

`interforces status` asks every service on that subject; a service that does not answer
within a second is reported down.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from faststream.nats import NatsBroker
from pydantic import BaseModel, ConfigDict, Field

HEALTH_ROOT = "ifc.health"


def health_subject(service: str) -> str:
    """Subject a service answers health requests on."""
    return f"{HEALTH_ROOT}.{service}"


class Health(BaseModel):
    """A service's answer to a health request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str = Field(description="Service name.")
    pid: int = Field(description="Process id.")
    started_at: datetime = Field(description="When the process started.")
    uptime_s: float = Field(description="Seconds since start.")
    details: dict[str, Any] = Field(default_factory=dict, description="Service counters.")


def add_health(
    broker: NatsBroker,
    service: str,
    details: Callable[[], Mapping[str, Any]] = dict,
) -> None:
    """Register the health responder of `service` on its broker."""
    started = datetime.now(UTC)
    monotonic_start = time.monotonic()

    @broker.subscriber(health_subject(service), include_in_schema=False)
    async def _health() -> dict[str, Any]:
        return Health(
            service=service,
            pid=os.getpid(),
            started_at=started,
            uptime_s=round(time.monotonic() - monotonic_start, 3),
            details=dict(details()),
        ).model_dump(mode="json")
