"""What a replay is made of and what it tells: its items, its states, its status, its
errors, and the NATS headers it adds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from contracts.charter.model import TimeWindow
from contracts.vocabulary import Mode

#: The replay session a message belongs to.
SESSION_HEADER: Final = "Ifc-Replay-Session"
#: The original stream sequence of a replayed record.
SEQ_HEADER: Final = "Ifc-Replay-Seq"


class ReplayError(Exception):
    """A replay request that cannot be carried out."""


class InvalidReplayError(ReplayError, ValueError):
    """A speed, window, instant or operation a replay cannot take."""


class ReplayStateError(ReplayError):
    """A control the session's state does not allow (pausing a finished replay, …)."""


class ReplayNotFoundError(ReplayError):
    """No replay session has this id."""


class ReplayLimitError(ReplayError):
    """As many replays as allowed are already running."""


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One record to replay: its stream sequence, when it happened, its event type (whose
    two `<family>.<action>` tokens end the replay subject) and the CloudEvents JSON to send."""

    seq: int
    occurred_at: datetime
    event_type: str
    body: bytes


class ReplayState(StrEnum):
    """Where a session stands."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


#: States a session no longer leaves.
ENDED: Final = frozenset({ReplayState.FINISHED, ReplayState.STOPPED, ReplayState.FAILED})


class SkewSummary(BaseModel):
    """How late items went out (actual send minus due), in milliseconds."""

    model_config = ConfigDict(frozen=True)

    p50: float = Field(description="Median skew (ms).")
    p99: float = Field(description="99th percentile skew (ms).")
    max: float = Field(description="Largest skew (ms).")


class ReplayStatus(BaseModel):
    """A session as it stands, for the API and the command line."""

    model_config = ConfigDict(frozen=True)

    id: str
    operation: str
    mode: Mode
    owner: str = Field(description="Who may control it (as the API names them).")
    window: TimeWindow
    speed: float
    state: ReplayState
    reason: str | None = Field(description="Why it failed, when it did.")
    position: datetime = Field(description="Scenario instant reached (the scenario clock).")
    sent: int = Field(description="Messages published (a seek back sends some again).")
    skipped: int = Field(description="Items too large for the server, not published.")
    total: int = Field(description="Items in the window, as the owner's view shows it.")
    subject: str = Field(description="Subscribe to this to receive the replay.")
    started_at: datetime | None
    finished_at: datetime | None
    scheduled_duration_s: float = Field(description="Running time planned, pauses excluded.")
    elapsed_s: float = Field(description="Running time so far, pauses excluded.")
    skew_ms: SkewSummary | None = Field(description="Send time minus due time, per item.")
    end_drift_ms: float | None = Field(description="Finish minus planned finish.")
