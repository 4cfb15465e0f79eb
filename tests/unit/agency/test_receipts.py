"""Identity-check receipts (doctrine point 5): the attestation the checked person receives
states every item the doctrine lists, while the record the forces keep has all of them but
the identity."""

from __future__ import annotations

import json

import pytest

from contracts.cloudevents import to_structured
from contracts.events.identity_checks import (
    LEGAL_BASIS_WORDING,
    CheckGround,
    IdentityCheckRecorded,
    LegalBasis,
    RecepisseIssued,
)
from contracts.vocabulary import Agency
from services.agency.domain import AgencyProfile, Outcome, enrich, issue_recepisse
from unit.agency.builders import (
    BIRTH_DATE,
    GIVEN_NAMES,
    SURNAME,
    check_facts,
    engaged,
    recepisse_issued,
    report_of,
)

pytestmark = pytest.mark.unit

KEY = b"k" * 32
POLICE = AgencyProfile(Agency.POLICE_NATIONALE, transforms=(issue_recepisse,))
IDENTITY = (SURNAME, GIVEN_NAMES, BIRTH_DATE)


def checked() -> Outcome:
    report = report_of(KEY, Agency.POLICE_NATIONALE, recepisse_issued())
    return enrich(POLICE, report, engaged(KEY, Agency.POLICE_NATIONALE, report))


def test_the_attestation_states_every_item_the_doctrine_lists() -> None:
    # given a police unit's identity check
    receipt = checked().receipt
    assert receipt is not None
    assert isinstance(receipt.data, RecepisseIssued)
    # when the person's phone shows the receipt
    attestation = receipt.data.attestation()
    # then it states the legal basis in words, the motives, the possible consequences
    facts = check_facts()
    assert LEGAL_BASIS_WORDING[LegalBasis(facts["legal_basis"])] in attestation
    assert facts["motives"][0] in attestation
    assert facts["possible_consequences"] in attestation
    # and the person's identity, the date, the time (local to the check) and the place
    assert f"{SURNAME} {GIVEN_NAMES}, né(e) le 02/04/1991" in attestation
    assert "Le 21/06/2026 à 22:10" in attestation
    assert facts["place"] in attestation
    # and the officer's number (RIO), grade and service
    assert f"matricule (RIO) {facts['officer_number']}" in attestation
    assert facts["grade"] in attestation
    assert facts["service"] in attestation


def test_every_legal_basis_has_its_wording() -> None:
    assert set(LEGAL_BASIS_WORDING) == set(LegalBasis)
    assert all("procédure pénale" in text for text in LEGAL_BASIS_WORDING.values())


def test_the_record_keeps_every_fact_but_the_identity() -> None:
    outcome = checked()
    record, receipt = outcome.proposal.data, outcome.receipt
    assert isinstance(record, IdentityCheckRecorded)
    assert receipt is not None
    # the record holds the same facts as the receipt, the ground included
    facts = record.model_dump(exclude={"type"})
    assert {k: v for k, v in receipt.data.model_dump().items() if k in facts} == facts
    assert record.ground is CheckGround.PROSECUTOR_REQUISITIONS
    # and no part of the identity, anywhere in what is proposed
    proposed = to_structured(outcome.proposal).decode()
    for part in IDENTITY:
        assert part not in proposed
        assert part in json.dumps(receipt.data.model_dump(mode="json"))


def test_a_check_without_a_ground_is_still_recorded_and_attested() -> None:
    # given a check whose ground was not categorised (records written before it existed)
    event = {k: v for k, v in recepisse_issued().items() if k != "ground"}
    report = report_of(KEY, Agency.POLICE_NATIONALE, event)
    outcome = enrich(POLICE, report, engaged(KEY, Agency.POLICE_NATIONALE, report))
    # then both the record and the receipt exist, without a ground
    assert isinstance(outcome.proposal.data, IdentityCheckRecorded)
    assert outcome.proposal.data.ground is None
    assert outcome.receipt is not None
    assert isinstance(outcome.receipt.data, RecepisseIssued)
    assert SURNAME in outcome.receipt.data.attestation()
