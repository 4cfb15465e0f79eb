"""One root error for the contracts package, with a typed tree under it."""

from __future__ import annotations


class ContractError(Exception):
    """Root of every error raised by `contracts`."""


class EnvelopeError(ContractError):
    """An envelope could not be encoded or decoded.

    `code` is a stable reason code (see `contracts.reasons.ReasonCode`).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SubjectError(ContractError):
    """A NATS subject token is invalid or a subject does not parse."""


class CharterError(ContractError):
    """An operation charter is invalid; `problems` lists each fault with where it is."""

    def __init__(self, source: str, problems: list[CharterProblem]) -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: invalid charter ({len(problems)} problem(s))\n{lines}")
        self.source = source
        self.problems = problems


class CharterProblem:
    """One fault in a charter: the file, the path inside it, the line when known."""

    __slots__ = ("line", "message", "path", "source")

    def __init__(self, source: str, path: str, line: int | None, message: str) -> None:
        self.source = source
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.path or '<root>'}: {self.message}"

    def __repr__(self) -> str:
        return f"CharterProblem({self!s})"
