"""Who is calling: bearer tokens bound to a role by configuration.

The tokens file (JSON, readable by its owner only) lists callers:
`{"callers": [{"name": "cic-prefecture", "role": "crisis_cell", "token_sha256": "…"}]}`;
`token` (the secret itself) may stand instead of `token_sha256` in a file generated for a
local stack. Tokens are compared by their SHA-256, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.vocabulary import Agency, Mode


class Role(StrEnum):
    """What a caller is entitled to."""

    CRISIS_CELL = "crisis_cell"  # sees and replays everything, live and exercise
    AGENCY = "agency"  # sees what its feed received, redacted the same way
    TRAINER = "trainer"  # sees and replays exercises only
    OVERSIGHT = "oversight"  # reads the consultation journal and aggregates only


#: Agencies that can hold an agency token (the crisis cell has its own role).
FIELD_AGENCIES: tuple[Agency, ...] = (
    Agency.POLICE_NATIONALE,
    Agency.GENDARMERIE,
    Agency.POLICE_MUNICIPALE,
    Agency.SECURITE_PRIVEE,
    Agency.MEDIATION,
)


class Principal(BaseModel):
    """An authenticated caller."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=80, description="Who, as the journal names it.")
    role: Role
    agency: Agency | None = Field(default=None, description="The agency of an agency caller.")

    @model_validator(mode="after")
    def _agency_iff_agency_role(self) -> Principal:
        if (self.role is Role.AGENCY) != (self.agency is not None):
            raise ValueError("an agency caller names its agency, and only an agency caller")
        if self.agency is not None and self.agency not in FIELD_AGENCIES:
            raise ValueError(f"{self.agency.value} cannot hold an agency token")
        return self

    def sees_mode(self, mode: Mode) -> bool:
        """Trainers see exercises only; oversight sees no records at all."""
        if self.role is Role.OVERSIGHT:
            return False
        return self.role is not Role.TRAINER or mode is Mode.EXERCISE


class Caller(Principal):
    """One entry of the tokens file."""

    token: str | None = Field(default=None, min_length=24, description="The secret itself.")
    token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _one_secret(self) -> Caller:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of token and token_sha256")
        return self

    def digest(self) -> bytes:
        """SHA-256 of the caller's token."""
        if self.token_sha256 is not None:
            return bytes.fromhex(self.token_sha256)
        return _sha256(self.token or "")

    def principal(self) -> Principal:
        """The caller without its secret."""
        return Principal(name=self.name, role=self.role, agency=self.agency)


class TokensFile(BaseModel):
    """The tokens file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    callers: tuple[Caller, ...]


def _sha256(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenRegistry:
    """Authenticates bearer tokens."""

    def __init__(self, callers: tuple[Caller, ...]) -> None:
        names = [c.name for c in callers]
        if len(set(names)) != len(names):
            raise ValueError("caller names must be unique")
        self._callers = [(c.digest(), c.principal()) for c in callers]

    @classmethod
    def from_file(cls, path: Path) -> TokenRegistry:
        """Read a tokens file."""
        return cls(TokensFile.model_validate_json(path.read_text(encoding="utf-8")).callers)

    def authenticate(self, token: str) -> Principal | None:
        """The caller holding `token`, or None."""
        offered = _sha256(token)
        found: Principal | None = None
        for digest, principal in self._callers:  # no early exit: constant time per caller
            if hmac.compare_digest(digest, offered):
                found = principal
        return found


def default_callers() -> list[Caller]:
    """One caller per role and per field agency, each with a fresh random token."""
    callers = [
        Caller(name="cellule-de-crise", role=Role.CRISIS_CELL, token=secrets.token_urlsafe(32)),
        Caller(name="formateur", role=Role.TRAINER, token=secrets.token_urlsafe(32)),
        Caller(name="controle-deontologie", role=Role.OVERSIGHT, token=secrets.token_urlsafe(32)),
    ]
    callers += [
        Caller(name=a.value, role=Role.AGENCY, agency=a, token=secrets.token_urlsafe(32))
        for a in FIELD_AGENCIES
    ]
    return callers


def ensure_tokens_file(path: Path) -> Path:
    """Create a tokens file for a local stack (0600) unless one exists."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    document = TokensFile(callers=tuple(default_callers()))
    text = json.dumps(document.model_dump(mode="json", exclude_none=True), indent=2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return path
