"""NATS passwords: one per broker user, in the secrets directory, never in the repository.

`<secrets dir>/nats/<user>.password` holds a user's password (random, mode 0600 in a 0700
directory), created on first need and kept afterwards; a deployment may provision the file
itself (a Docker secret, a vault agent). The nats-server configuration only ever holds the
bcrypt hash of each password (nats-server recognises `$2a$`/`$2b$` hashes and compares
against them).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import bcrypt

from infra.nats.users import NatsLogin

#: Directory of the NATS passwords inside the secrets directory.
PASSWORDS_DIR = "nats"
#: bcrypt cost of the hashes written into the server configuration (2^cost rounds).
DEFAULT_COST = 11
#: Bytes of randomness in a fresh password.
PASSWORD_BYTES = 32
#: bcrypt accepts costs 4 to 31.
MIN_COST, MAX_COST = 4, 31


class NatsSecretError(Exception):
    """A password is missing or unreadable, or cannot be hashed here; `path` names the file
    when one is involved (never the password)."""

    def __init__(self, detail: str, path: Path | None = None) -> None:
        super().__init__(f"{path}: {detail}" if path is not None else detail)
        self.path = path
        self.detail = detail


def password_path(secrets_dir: Path, user: str) -> Path:
    """Where a broker user's password lives."""
    return secrets_dir / PASSWORDS_DIR / f"{user}.password"


def read_password(secrets_dir: Path, user: str) -> str:
    """A user's password, or raise `NatsSecretError`."""
    return read_password_file(password_path(secrets_dir, user))


def login_of(secrets_dir: Path, user: str) -> NatsLogin:
    """How to connect as `user`, with its password from the secrets directory."""
    return NatsLogin(user, read_password(secrets_dir, user))


def read_password_file(path: Path) -> str:
    """The password a file holds (surrounding whitespace removed), or raise
    `NatsSecretError`."""
    try:
        password = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise NatsSecretError(f"unreadable ({type(exc).__name__})", path) from exc
    if not password:
        raise NatsSecretError("empty", path)
    return password


def ensure_password(secrets_dir: Path, user: str) -> str:
    """A user's password: the existing file's, or a fresh one written to it."""
    directory = secrets_dir / PASSWORDS_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)  # mkdir's mode is masked by the umask, and ignored if it existed
    path = password_path(secrets_dir, user)
    try:
        # O_EXCL: two launchers starting together never overwrite each other's password.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_password_file(path)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        out.write(password + "\n")
    return password


def hash_password(password: str, cost: int = DEFAULT_COST) -> str:
    """The bcrypt hash of `password` (`$2b$<cost>$…`), as nats-server expects it."""
    if not MIN_COST <= cost <= MAX_COST:
        raise NatsSecretError(f"bcrypt cost {cost} is outside {MIN_COST}..{MAX_COST}")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost)).decode()


def verify_password(password: str, hashed: str) -> bool:
    """Whether `password` matches a bcrypt hash (bcrypt compares in constant time)."""
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:  # not a bcrypt hash
        return False
