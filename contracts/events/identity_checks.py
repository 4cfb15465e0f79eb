"""Identity checks: traceable without a nominative file (doctrine point 5).

`IdentityCheckRecorded` is what the forces keep: everything except the person's identity.
`RecepisseIssued` is the receipt handed to the person: the same plus their identity, and
`RecepisseIssued.attestation()` is how the person's phone shows it. The receipt is not
shareable: it never enters the coordinator nor the timeline, only the receipt channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.events.base import EventPayload, EventTraits
from contracts.geo import GeoPoint
from contracts.text import ShortText
from contracts.vocabulary import Capability, Classification


class LegalBasis(StrEnum):
    """The article of the code of criminal procedure the check rests on."""

    CPP_78_2_AL1 = "cpp_78_2_al1"
    CPP_78_2_AL2 = "cpp_78_2_al2"
    CPP_78_2_AL3 = "cpp_78_2_al3"
    CPP_78_2_AL4 = "cpp_78_2_al4"
    CPP_78_2_2 = "cpp_78_2_2"
    CPP_78_2_4 = "cpp_78_2_4"


#: The legal basis as the attestation states it to the person.
LEGAL_BASIS_WORDING: Final[Mapping[LegalBasis, str]] = MappingProxyType(
    {
        LegalBasis.CPP_78_2_AL1: "article 78-2, alinéa 1er, du code de procédure pénale",
        LegalBasis.CPP_78_2_AL2: "article 78-2, alinéa 2, du code de procédure pénale "
        "(réquisitions écrites du procureur de la République)",
        LegalBasis.CPP_78_2_AL3: "article 78-2, alinéa 3, du code de procédure pénale "
        "(prévention d'une atteinte à l'ordre public)",
        LegalBasis.CPP_78_2_AL4: "article 78-2, alinéa 4, du code de procédure pénale "
        "(zone frontalière)",
        LegalBasis.CPP_78_2_2: "article 78-2-2 du code de procédure pénale "
        "(réquisitions du procureur de la République)",
        LegalBasis.CPP_78_2_4: "article 78-2-4 du code de procédure pénale "
        "(prévention d'une atteinte grave à la sécurité des personnes et des biens)",
    }
)


class CheckGround(StrEnum):
    """The ground of a check as a category, which the public activity report counts (the
    motives say it in words, for the person)."""

    OFFENCE_SUSPECTED = "offence_suspected"
    OFFENCE_PREPARED = "offence_prepared"
    USEFUL_INFORMATION = "useful_information"
    JUDICIAL_SEARCH = "judicial_search"
    PROSECUTOR_REQUISITIONS = "prosecutor_requisitions"
    PUBLIC_ORDER = "public_order"
    BORDER_AREA = "border_area"


class CheckFacts(BaseModel):
    """What both the record and the receipt state about a check."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    check: ShortText = Field(description="Id of the check (the receipt number).")
    legal_basis: LegalBasis = Field(description="Legal basis of the check.")
    motives: tuple[ShortText, ...] = Field(
        min_length=1, max_length=10, description="Motives of the check, as told to the person."
    )
    ground: CheckGround | None = Field(
        default=None,
        description="The ground of the check as a category, counted by the public activity "
        "report (None: not categorised).",
    )
    possible_consequences: ShortText = Field(
        description="What may follow (verification at the station, …)."
    )
    place: ShortText = Field(description="Where the check took place, in words.")
    position: GeoPoint = Field(description="Where the check took place.")
    checked_at: AwareDatetime = Field(description="When the check took place.")
    officer_number: str = Field(
        pattern=r"^[0-9]{7}$", description="The officer's identification number (RIO)."
    )
    grade: ShortText = Field(description="The officer's grade.")
    service: ShortText = Field(description="The officer's service.")


class IdentityCheckRecorded(CheckFacts, EventPayload):
    """The record the forces keep of a check: no identity of the person, ever."""

    TRAITS: ClassVar[EventTraits] = EventTraits(
        capability=Capability.IDENTITY_CHECK,
        restricted_audience=True,
        classification=Classification.RESTRICTED,
    )

    type: Literal["fr.interforces.identity_check.recorded"] = (
        "fr.interforces.identity_check.recorded"
    )


class CheckedPerson(BaseModel):
    """The identity of the checked person, as written on their receipt only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    surname: ShortText = Field(description="Surname.")
    given_names: ShortText = Field(description="Given names.")
    birth_date: date | None = Field(default=None, description="Date of birth.")


class RecepisseIssued(CheckFacts, EventPayload):
    """The receipt (récépissé) handed to the checked person: the facts plus their identity."""

    TRAITS: ClassVar[EventTraits] = EventTraits(
        shareable=False,
        capability=Capability.IDENTITY_CHECK,
        classification=Classification.RESTRICTED,
    )

    type: Literal["fr.interforces.identity_check.recepisse_issued"] = (
        "fr.interforces.identity_check.recepisse_issued"
    )
    person: CheckedPerson = Field(description="The checked person's identity.")

    def attestation(self) -> str:
        """The attestation as the person reads it: every item the doctrine lists, in French,
        dated in the time zone of the check."""
        person = self.person
        born = (
            f", né(e) le {person.birth_date.strftime('%d/%m/%Y')}"
            if person.birth_date is not None
            else ""
        )
        lines = (
            f"Récépissé de contrôle d'identité n° {self.check}",
            f"Fondement légal : {LEGAL_BASIS_WORDING[self.legal_basis]}",
            f"Motifs : {' ; '.join(self.motives)}",
            f"Suites possibles : {self.possible_consequences}",
            f"Personne contrôlée : {person.surname} {person.given_names}{born}",
            f"Le {self.checked_at.strftime('%d/%m/%Y')} à {self.checked_at.strftime('%H:%M')}",
            f"Lieu : {self.place} ({self.position.lat:.5f}, {self.position.lon:.5f})",
            f"Agent : matricule (RIO) {self.officer_number}, {self.grade}, {self.service}",
        )
        return "\n".join(lines)
