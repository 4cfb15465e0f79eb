"""Errors of the field simulator: one root, each error carrying what went wrong."""

from __future__ import annotations


class FieldError(Exception):
    """Root of every error raised by `simulations.field`."""


class ReportUndeliveredError(FieldError):
    """A unit report got no reply after every attempt (no agency service answered)."""

    def __init__(self, report: str, attempts: int, last: str) -> None:
        super().__init__(f"report {report}: no reply after {attempts} attempt(s) ({last})")
        self.report = report
        self.attempts = attempts
        self.last = last


class ReplyError(FieldError):
    """The agency service replied something that is not a `ReportAck` for this report."""

    def __init__(self, report: str, detail: str) -> None:
        super().__init__(f"report {report}: unreadable reply ({detail})")
        self.report = report
        self.detail = detail


class DeskPublishError(FieldError):
    """JetStream did not acknowledge a crisis-cell proposal after every attempt."""

    def __init__(self, event_id: str, attempts: int, last: str) -> None:
        super().__init__(f"proposal {event_id}: not stored after {attempts} attempt(s) ({last})")
        self.event_id = event_id
        self.attempts = attempts
        self.last = last
