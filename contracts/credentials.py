"""Unit credentials: a per-agency secret key, and a token per (operation, unit) derived from it.

A field unit proves it belongs to an agency by the token it puts in every `UnitReport`:
`HMAC-SHA256(agency key, operation, unit)`, in hex. The key never travels; each agency
service reads its own from `<secrets_dir>/unit-keys/<agency>.key`, which the stack launcher
creates on first start (random, mode 0600 in a 0700 directory). No secret lives in the
repository.
"""

from __future__ import annotations

import hmac
import os
import secrets
from hashlib import sha256
from pathlib import Path

from contracts.errors import ContractError
from contracts.vocabulary import Agency

#: Bytes of a freshly created key.
KEY_BYTES = 32
#: Shortest key accepted when reading one (a hand-provisioned key may be longer).
MIN_KEY_BYTES = 32
KEYS_DIR = "unit-keys"
# Domain separation: a token is only ever a unit token of this version, never another HMAC.
_CONTEXT = b"interforces/unit-token/v1"


class CredentialError(ContractError):
    """A unit key is missing or unreadable; `path` names the file."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"unit key {path}: {detail}")
        self.path = path
        self.detail = detail


def unit_token(key: bytes, operation: str, unit: str) -> str:
    """The credential of `unit` in `operation`, for the agency whose key is `key` (hex)."""
    # NUL cannot occur in an operation id nor in a unit call sign: the fields cannot blur.
    message = b"\x00".join((_CONTEXT, operation.encode(), unit.encode()))
    return hmac.new(key, message, sha256).hexdigest()


def verify_unit_token(key: bytes, operation: str, unit: str, token: str) -> bool:
    """Whether `token` is the credential of `unit` in `operation` (constant-time)."""
    return hmac.compare_digest(unit_token(key, operation, unit), token.lower())


def unit_key_path(secrets_dir: Path, agency: Agency) -> Path:
    """Where an agency's unit key lives."""
    return secrets_dir / KEYS_DIR / f"{agency.value}.key"


def read_unit_key(secrets_dir: Path, agency: Agency) -> bytes:
    """An agency's unit key, or raise `CredentialError`."""
    path = unit_key_path(secrets_dir, agency)
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialError(path, str(exc)) from exc
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise CredentialError(path, "not hexadecimal") from exc
    if len(key) < MIN_KEY_BYTES:
        raise CredentialError(path, f"{len(key)} bytes, at least {MIN_KEY_BYTES} are needed")
    return key


def ensure_unit_keys(secrets_dir: Path) -> None:
    """Create every agency's unit key that is missing; existing keys are kept."""
    directory = secrets_dir / KEYS_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)  # mkdir's mode is masked by the umask, and ignored if it existed
    for agency in Agency:
        path = unit_key_path(secrets_dir, agency)
        try:
            # O_EXCL: two launchers starting together never overwrite each other's key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(KEY_BYTES) + "\n")
