"""The bad-input corpus: one file per case, and the manifest saying what becomes of each.

from corpus import load_manifest
manifest = load_manifest()
for case in manifest.cases: ...  # case.body, manifest.subject, case.msg_id, case.reasons
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from contracts import subjects
from contracts.reasons import ReasonCode
from contracts.vocabulary import Agency, Mode

CORPUS = Path(__file__).resolve().parent
PROPOSALS = CORPUS / "proposals"
MANIFEST = CORPUS / "manifest.yaml"

#: `expect` of a case recorded as the event itself; `report` of a report the agency proposes.
ACCEPTED = "accepted"
PROPOSED = "proposed"


class Case(BaseModel):
    """One file of the corpus and what must become of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str = Field(pattern=r"^[a-z0-9-]+\.(json|bin)$", description="Name under proposals/.")
    about: str = Field(min_length=1, description="What is wrong with it.")
    expect: Literal["accepted"] | frozenset[ReasonCode] = Field(
        description="Every reason code of its record, or `accepted`."
    )
    report: Literal["proposed"] | ReasonCode | None = Field(
        default=None, description="The agency service's answer to the same event in a report."
    )

    @property
    def accepted(self) -> bool:
        """Whether it is recorded as the event itself."""
        return self.expect == ACCEPTED

    @property
    def reasons(self) -> frozenset[ReasonCode]:
        """The reason codes of its refusal (none when accepted)."""
        return frozenset() if isinstance(self.expect, str) else self.expect

    @property
    def path(self) -> Path:
        """Where the case's bytes are."""
        return PROPOSALS / self.file

    @property
    def body(self) -> bytes:
        """The proposal's body, exactly."""
        return self.path.read_bytes()

    @property
    def msg_id(self) -> str:
        """The message id it is proposed with: its file name without extension."""
        return self.path.stem


class Manifest(BaseModel):
    """Where every case is proposed, to which coordinator, and the cases in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    charter: str = Field(description="The coordinator's charter, relative to the corpus.")
    max_proposal_bytes: int = Field(ge=1024, description="The coordinator's size limit.")
    mode: Mode
    operation: str
    agency: Agency = Field(description="The subject's agency: the credentials.")
    type: str = Field(description="The subject's event type.")
    cases: tuple[Case, ...] = Field(min_length=1)

    @property
    def charter_path(self) -> Path:
        """The charter file."""
        return (CORPUS / self.charter).resolve()

    @property
    def subject(self) -> str:
        """The subject every case is proposed on."""
        return subjects.proposal(self.mode, self.operation, self.agency, self.type)


@cache
def load_manifest() -> Manifest:
    """The corpus's manifest, validated."""
    return Manifest.model_validate(yaml.safe_load(MANIFEST.read_text(encoding="utf-8")))
