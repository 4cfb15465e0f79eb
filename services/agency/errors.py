"""Errors of the agency services: refusals of a report, and failures worth a retry."""

from __future__ import annotations

from contracts.reasons import REASON_MESSAGES, ReasonCode


class AgencyError(Exception):
    """Root of the agency services' errors."""


class ReportRefusedError(AgencyError):
    """A unit report is refused here: `code` says why, `detail` where (for the logs).

    `detail` names fields and constraints in pydantic's wording, which never quotes the
    input: no identity nor case note can reach a log through it.
    """

    def __init__(self, code: ReasonCode, detail: str = "") -> None:
        super().__init__(f"{code.value}: {detail}" if detail else code.value)
        self.code = code
        self.detail = detail

    @property
    def message(self) -> str:
        """The refusal as an operator reads it (French)."""
        return REASON_MESSAGES[self.code]


class ConfigurationError(AgencyError):
    """The service cannot start as configured (charters, keys)."""


class PublishError(AgencyError):
    """A message was not accepted by NATS: the unit gets no reply and sends its report again."""

    def __init__(self, subject: str, detail: str) -> None:
        super().__init__(f"publish to {subject}: {detail}")
        self.subject = subject
        self.detail = detail


class PrivateStoreError(AgencyError):
    """The agency's private store failed: nothing is proposed, the unit retries."""


class UnreadableFeedError(AgencyError):
    """A feed message cannot be read: it is logged with `code` and acknowledged."""

    def __init__(self, code: ReasonCode, detail: str = "") -> None:
        super().__init__(f"{code.value}: {detail}" if detail else code.value)
        self.code = code
        self.detail = detail
