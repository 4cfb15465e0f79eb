"""The timeline service's settings: its own under `IFC_TIMELINE_`, plus the shared ones.

The fields are named `timeline_*` under the shared `IFC_` prefix, so `IFC_TIMELINE_BATCH_SIZE`
sets `timeline_batch_size` while `IFC_LOG_LEVEL`, `NATS_URL` and `DATABASE_URL` keep the
names every service reads.
"""

from __future__ import annotations

from pydantic import Field

from contracts.vocabulary import Mode
from services.runtime.settings import RuntimeSettings
from services.timeline.errors import DatabaseNotConfiguredError


class TimelineSettings(RuntimeSettings):
    """How the timeline projector consumes the timeline streams and writes PostgreSQL."""

    timeline_modes: tuple[Mode, ...] = Field(
        default=(Mode.LIVE, Mode.EXERCISE), description="Modes whose timeline is projected."
    )
    timeline_batch_size: int = Field(
        default=256, ge=1, le=4096, description="Messages per pull batch (one transaction)."
    )
    timeline_batch_timeout_s: float = Field(
        default=0.1, gt=0, description="Longest wait to fill a batch."
    )
    timeline_ack_wait_s: float = Field(
        default=30.0, gt=0, description="Redelivery delay of a batch left unacknowledged."
    )
    timeline_retry_delay_s: float = Field(
        default=1.0, gt=0, description="Redelivery delay after a store failure or a gap."
    )
    timeline_pool_max_size: int = Field(
        default=4, ge=2, le=64, description="Most PostgreSQL connections held."
    )

    def require_database_url(self) -> str:
        """The PostgreSQL URL, or a clear error naming the variable to set."""
        if not self.database_url:
            raise DatabaseNotConfiguredError("DATABASE_URL")
        return self.database_url
