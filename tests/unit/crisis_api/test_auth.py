"""Tokens bound to roles: who authenticates as what, and what each role may see."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts.vocabulary import Agency, Mode
from services.crisis_api.auth import (
    FIELD_AGENCIES,
    Caller,
    Principal,
    Role,
    TokenRegistry,
    TokensFile,
    ensure_tokens_file,
)

SECRET = "s3cret-token-for-the-crisis-cell-0123456789"  # noqa: S105 - a test token


def test_a_token_authenticates_its_caller_and_nothing_else() -> None:
    registry = TokenRegistry(
        (
            Caller(name="cic", role=Role.CRISIS_CELL, token=SECRET),
            Caller(
                name="pm",
                role=Role.AGENCY,
                agency=Agency.POLICE_MUNICIPALE,
                token_sha256=hashlib.sha256(b"municipal-token-0123456789abcdef").hexdigest(),
            ),
        )
    )
    assert registry.authenticate(SECRET) == Principal(name="cic", role=Role.CRISIS_CELL)
    pm = registry.authenticate("municipal-token-0123456789abcdef")
    assert pm is not None
    assert pm.agency is Agency.POLICE_MUNICIPALE
    assert registry.authenticate(SECRET[:-1]) is None
    assert registry.authenticate("") is None


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "x", "role": "agency", "token": SECRET},  # an agency caller names its agency
        {"name": "x", "role": "crisis_cell", "agency": "gendarmerie", "token": SECRET},
        {"name": "x", "role": "agency", "agency": "crisis_cell", "token": SECRET},
        {"name": "x", "role": "crisis_cell"},  # no secret
        {"name": "x", "role": "crisis_cell", "token": SECRET, "token_sha256": "0" * 64},
        {"name": "x", "role": "crisis_cell", "token": "short"},
        {"name": "x", "role": "root", "token": SECRET},
    ],
)
def test_a_malformed_caller_is_refused(entry: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TokensFile.model_validate({"callers": [entry]})


def test_caller_names_are_unique() -> None:
    twice = Caller(name="cic", role=Role.CRISIS_CELL, token=SECRET)
    with pytest.raises(ValueError, match="unique"):
        TokenRegistry((twice, twice))


@pytest.mark.parametrize(
    ("role", "live", "exercise"),
    [
        (Role.CRISIS_CELL, True, True),
        (Role.TRAINER, False, True),
        (Role.OVERSIGHT, False, False),
    ],
)
def test_which_modes_a_role_sees(role: Role, live: bool, exercise: bool) -> None:
    principal = Principal(name="p", role=role)
    assert principal.sees_mode(Mode.LIVE) is live
    assert principal.sees_mode(Mode.EXERCISE) is exercise


def test_a_local_tokens_file_is_private_and_complete(tmp_path: Path) -> None:
    path = ensure_tokens_file(tmp_path / "secrets" / "api-tokens.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    registry = TokenRegistry.from_file(path)
    document = json.loads(path.read_text())
    principals = [registry.authenticate(c["token"]) for c in document["callers"]]
    assert all(p is not None for p in principals)
    assert {p.agency for p in principals if p and p.role is Role.AGENCY} == set(FIELD_AGENCIES)
    assert {p.role for p in principals if p} == set(Role)
    before = path.read_text()
    ensure_tokens_file(path)  # an existing file is kept
    assert path.read_text() == before
