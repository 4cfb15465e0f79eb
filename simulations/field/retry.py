"""How hard a field client tries before giving up: bounded attempts, bounded waits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` tries, each waiting at most `timeout_s` for its answer, with an
    exponential pause between them (`backoff_s`, doubled each time, capped)."""

    attempts: int = 4
    timeout_s: float = 2.0
    backoff_s: float = 0.2
    max_backoff_s: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.timeout_s <= 0 or self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("timeouts and pauses must be positive")

    def pause(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return float(min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s))

    @property
    def worst_case_s(self) -> float:
        """The longest a call may take: every attempt timing out, every pause taken."""
        pauses = sum(self.pause(a) for a in range(1, self.attempts))
        return self.attempts * self.timeout_s + pauses
