"""Canaries: values planted in one evening to prove where personal data goes.

A canary identity is given to the person of one identity check, a canary phrase is written
in one mediation's case notes. Both are unique random ASCII tokens, so that a search in any
store (JSON, SQL text, logs, raw files) finds them whatever the encoding.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from contracts.events.identity_checks import CheckedPerson


@dataclass(frozen=True, slots=True)
class Canary:
    """An identity for one checked person and a phrase for one mediation's case notes."""

    surname: str
    given_names: str
    phrase: str

    @classmethod
    def fresh(cls) -> Canary:
        """New values, unique to this run."""
        return cls(
            surname=f"Canari-{secrets.token_hex(8)}",
            given_names=f"Temoin-{secrets.token_hex(8)}",
            phrase=f"note-canari-{secrets.token_hex(8)}",
        )

    @property
    def identity(self) -> tuple[str, str]:
        """What names the checked person: may reach their receipt only."""
        return (self.surname, self.given_names)

    def plant_identity(self, person: CheckedPerson) -> CheckedPerson:
        """`person` under the canary identity (same birth date): may reach their receipt only."""
        return CheckedPerson(
            surname=self.surname, given_names=self.given_names, birth_date=person.birth_date
        )

    def plant_phrase(self, notes: str) -> str:
        """Case notes with the canary phrase in them: may stay in mediation's store only."""
        return f"{notes} Réf. {self.phrase}."
