"""Errors of the coordinator's shell (the decision itself never raises)."""

from __future__ import annotations


class CoordinatorError(Exception):
    """Root of the coordinator's errors."""


class PublishError(CoordinatorError):
    """An output was not acknowledged by JetStream: the proposal will be redelivered."""

    def __init__(self, subject: str, detail: str) -> None:
        super().__init__(f"publish to {subject}: {detail}")
        self.subject = subject
        self.detail = detail
