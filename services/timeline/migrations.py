"""Plain SQL migrations (`infra/migrations/NNNN_name.sql`), applied in order at start.

All pending migrations apply in one transaction under an advisory lock (two instances
starting together apply them once), each recorded in `schema_migrations` with the SHA-256 of
its file. An applied migration whose file changed is an error: schemas move forward by new
files only. Reading and planning are pure; `migrate` is the only function doing I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

from services.timeline.errors import (
    MigrationChecksumError,
    MigrationFileError,
    MigrationMissingError,
    MigrationOrderError,
)
from services.timeline.store import Conn

#: Where applied migrations are recorded (the SQL below names it literally).
MIGRATIONS_TABLE: Final = "schema_migrations"
#: Key of the advisory lock that serialises migrations (any fixed 64-bit number will do).
ADVISORY_LOCK_KEY: Final = 0x1F0_7111E_11E
_FILENAME = re.compile(r"^(\d{4})_([a-z0-9][a-z0-9_]*)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str
    checksum: str

    @property
    def filename(self) -> str:
        """`0001_timeline.sql`."""
        return f"{self.version:04d}_{self.name}.sql"


@dataclass(frozen=True, slots=True)
class Applied:
    """A migration as `schema_migrations` records it."""

    version: int
    name: str
    checksum: str


def checksum(sql: str) -> str:
    """SHA-256 of a migration's text, line endings normalised (a checkout with CRLF endings
    is the same migration)."""
    return hashlib.sha256(sql.replace("\r\n", "\n").encode()).hexdigest()


def parse_migrations(files: Iterable[tuple[str, str]]) -> list[Migration]:
    """Migrations from (filename, text) pairs, sorted by version; non-SQL files are ignored."""
    found: dict[int, Migration] = {}
    for filename, sql in files:
        if not filename.endswith(".sql"):
            continue
        match = _FILENAME.fullmatch(filename)
        if match is None:
            raise MigrationFileError(filename, "name it NNNN_lowercase_words.sql")
        version = int(match.group(1))
        if version == 0:
            raise MigrationFileError(filename, "versions start at 0001")
        if version in found:
            raise MigrationFileError(
                filename, f"version {version:04d} is also {found[version].filename}"
            )
        found[version] = Migration(version, match.group(2), sql, checksum(sql))
    return [found[v] for v in sorted(found)]


def default_directory() -> Traversable:
    """The project's migrations (`infra/migrations`), wherever the package is installed."""
    return resources.files("infra").joinpath("migrations")


def load_migrations(directory: Traversable | None = None) -> list[Migration]:
    """The migrations of a directory (the project's by default)."""
    where = directory if directory is not None else default_directory()
    return parse_migrations(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in where.iterdir()
        if entry.is_file()
    )


def pending(available: Sequence[Migration], applied: Mapping[int, Applied]) -> list[Migration]:
    """The migrations still to apply, in order; raises if the applied history disagrees."""
    by_version = {m.version: m for m in available}
    for version, done in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationMissingError(version, done.name)
        if migration.checksum != done.checksum:
            raise MigrationChecksumError(version, done.name, done.checksum, migration.checksum)
    newest = max(applied, default=0)
    todo = [m for m in available if m.version not in applied]
    for migration in todo:
        if migration.version < newest:
            raise MigrationOrderError(migration.version, migration.name, newest)
    return todo


async def migrate(conn: Conn, migrations: Sequence[Migration] | None = None) -> list[Migration]:
    """Apply the pending migrations (the project's by default); returns those applied."""
    available = load_migrations() if migrations is None else list(migrations)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", ADVISORY_LOCK_KEY)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )"""
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {r["version"]: Applied(r["version"], r["name"], r["checksum"]) for r in rows}
        todo = pending(available, applied)
        for migration in todo:
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    return todo
