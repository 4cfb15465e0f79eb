"""An agency service's settings (environment prefix `IFC_AGENCY_`, plus the shared ones)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from contracts.vocabulary import Agency, Mode
from services.runtime.settings import RuntimeSettings

PRIVATE_STORE_FILE = "private.sqlite3"


class AgencySettings(RuntimeSettings):
    """How an agency service answers its units and reads its feed.

    The shared prefix `IFC_` plus field names starting with `agency_` give the variables
    `IFC_AGENCY_*`, while `IFC_DATA_DIR`, `IFC_SECRETS_DIR`, … stay shared with every service.
    """

    agency_modes: tuple[Mode, ...] = Field(
        default=(Mode.LIVE, Mode.EXERCISE), description="Modes this instance serves."
    )
    agency_report_workers: int = Field(
        default=16, ge=1, le=1024, description="Unit reports handled at once."
    )
    agency_max_report_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Larger unit reports are refused."
    )
    agency_publish_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest wait for JetStream to acknowledge a proposal."
    )
    agency_feed_batch_size: int = Field(
        default=64, ge=1, le=4096, description="Feed messages fetched at once."
    )
    agency_feed_fetch_timeout_s: float = Field(
        default=2.0, gt=0, description="Longest wait of one feed fetch."
    )
    agency_feed_ack_wait_s: float = Field(
        default=30.0, gt=0, description="Redelivery delay of an unacknowledged feed message."
    )

    def private_store_path(self, agency: Agency) -> Path:
        """The agency's own store: `<data_dir>/<agency>/private.sqlite3`."""
        return self.data_dir / agency.value / PRIVATE_STORE_FILE
