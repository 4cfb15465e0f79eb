"""The coordinator's settings (environment prefix `IFC_COORDINATOR_`, plus the shared ones)."""

from __future__ import annotations

from pydantic import Field, PositiveFloat

from contracts.vocabulary import Mode
from services.runtime.settings import RuntimeSettings


class CoordinatorSettings(RuntimeSettings):
    """How the coordinator consumes proposals and publishes what it decides."""

    coordinator_modes: tuple[Mode, ...] = Field(
        default=(Mode.LIVE, Mode.EXERCISE), description="Modes this instance serves."
    )
    coordinator_batch_size: int = Field(default=256, ge=1, le=4096, description="Pull batch.")
    coordinator_batch_timeout_s: float = Field(
        default=0.05, gt=0, description="Longest wait to fill a batch."
    )
    coordinator_publish_window: int = Field(
        default=2048, ge=1, description="Most publishes awaiting their acknowledgement."
    )
    coordinator_publish_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait for one publish acknowledgement."
    )
    coordinator_ack_wait_s: float = Field(
        default=60.0, gt=0, description="Redelivery delay of an unacknowledged proposal."
    )
    coordinator_max_deliver: int = Field(
        default=6,
        ge=2,
        description="Deliveries of a proposal before it is given up and recorded as a dead letter.",
    )
    coordinator_redelivery_delays_s: tuple[PositiveFloat, ...] = Field(
        default=(1.0, 5.0, 30.0, 120.0, 300.0),
        min_length=1,
        description=(
            "Delay before each new delivery of a proposal that failed (the last repeats); "
            "their sum is the longest failure a proposal outlives before its dead letter."
        ),
    )
    coordinator_max_proposal_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Larger proposals are refused."
    )
    coordinator_remembered_proposals: int = Field(
        default=500_000, ge=1000, description="Decided proposal ids kept to spot redeliveries."
    )
