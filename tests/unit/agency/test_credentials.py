"""Unit credentials: a token binds a unit to an operation under its agency's key, and keys
are created once, private to their owner, never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from contracts.credentials import (
    KEY_BYTES,
    CredentialError,
    ensure_unit_keys,
    read_unit_key,
    unit_key_path,
    unit_token,
    verify_unit_token,
)
from contracts.reports import UnitReport
from contracts.vocabulary import Agency

pytestmark = pytest.mark.unit

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def test_a_token_is_the_hex_hmac_that_only_its_key_operation_and_unit_verify() -> None:
    # given a token minted for one unit in one operation
    token = unit_token(KEY, "fete-2026", "PN-AINAY-1")
    # then it is 64 lowercase hex digits, stable, and valid only for that triple and key
    assert len(token) == 64
    assert token == token.lower()
    assert int(token, 16) >= 0
    assert token == unit_token(KEY, "fete-2026", "PN-AINAY-1")
    assert verify_unit_token(KEY, "fete-2026", "PN-AINAY-1", token)
    assert not verify_unit_token(OTHER_KEY, "fete-2026", "PN-AINAY-1", token)
    assert not verify_unit_token(KEY, "fete-2027", "PN-AINAY-1", token)
    assert not verify_unit_token(KEY, "fete-2026", "PN-AINAY-2", token)
    assert not verify_unit_token(KEY, "fete-2026", "PN-AINAY-1", token[:-1] + "0")


def test_fields_cannot_slide_into_one_another() -> None:
    # given two (operation, unit) pairs whose concatenations are equal
    # then their tokens differ
    assert unit_token(KEY, "ab", "c") != unit_token(KEY, "a", "bc")


def test_a_token_fits_the_unit_report_contract() -> None:
    # given a minted token
    token = unit_token(KEY, "fete-2026", "PN-AINAY-1")
    # when it travels in a report, then the report's own validation accepts it
    report = UnitReport.model_validate(
        {
            "report": "R-1",
            "operation": "fete-2026",
            "unit": "PN-AINAY-1",
            "token": token,
            "time": "2026-06-21T22:00:00+02:00",
            "event": {},
        }
    )
    assert report.token == token


def test_keys_are_created_once_per_agency_private_to_their_owner(tmp_path: Path) -> None:
    # given an empty secrets directory
    secrets = tmp_path / "secrets"
    # when the launcher ensures the keys, twice
    ensure_unit_keys(secrets)
    first = {agency: read_unit_key(secrets, agency) for agency in Agency}
    ensure_unit_keys(secrets)
    # then every agency has its own random key, kept the second time
    assert {agency: read_unit_key(secrets, agency) for agency in Agency} == first
    assert len(set(first.values())) == len(Agency)
    assert all(len(key) == KEY_BYTES for key in first.values())
    # and the files are readable by their owner only, in a directory only the owner enters
    path = unit_key_path(secrets, Agency.MEDIATION)
    assert path == secrets / "unit-keys" / "mediation.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_missing_or_weak_key_is_a_credential_error(tmp_path: Path) -> None:
    # given no key at all, then reading one fails naming the file
    with pytest.raises(CredentialError) as missing:
        read_unit_key(tmp_path, Agency.GENDARMERIE)
    assert missing.value.path == unit_key_path(tmp_path, Agency.GENDARMERIE)
    # given a key too short or not hex, then it is refused
    path = unit_key_path(tmp_path, Agency.GENDARMERIE)
    path.parent.mkdir(parents=True)
    path.write_text("abcd\n")
    with pytest.raises(CredentialError, match="at least"):
        read_unit_key(tmp_path, Agency.GENDARMERIE)
    path.write_text("not hex at all\n")
    with pytest.raises(CredentialError, match="hexadecimal"):
        read_unit_key(tmp_path, Agency.GENDARMERIE)
