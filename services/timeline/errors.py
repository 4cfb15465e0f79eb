"""Errors of the timeline service: one root, a typed tree, fields for whoever handles them.

Unreadable messages are not errors: they are recorded (`timeline_unreadable`) and skipped.
Errors here are configuration faults, schema faults and store failures (the last lead to a
redelivery of the batch, never to its loss).
"""

from __future__ import annotations


class TimelineError(Exception):
    """Root of every error raised by the timeline service."""


class DatabaseNotConfiguredError(TimelineError):
    """The service was started without a PostgreSQL URL."""

    def __init__(self, variable: str) -> None:
        super().__init__(
            f"{variable} is not set: the timeline service projects the timeline into "
            f"PostgreSQL and needs its URL (e.g. {variable}=postgresql://user@host:5432/db)"
        )
        self.variable = variable


class MigrationError(TimelineError):
    """The migrations on disk and the ones applied to the database disagree."""


class MigrationFileError(MigrationError):
    """A migration file is misnamed or duplicates another's version."""

    def __init__(self, filename: str, detail: str) -> None:
        super().__init__(f"migration {filename}: {detail}")
        self.filename = filename
        self.detail = detail


class MigrationChecksumError(MigrationError):
    """An already-applied migration was edited afterwards (write a new migration instead)."""

    def __init__(self, version: int, name: str, applied: str, on_disk: str) -> None:
        super().__init__(
            f"migration {version:04d}_{name} was applied with checksum {applied[:12]}… "
            f"but the file now has {on_disk[:12]}…: applied migrations must never change"
        )
        self.version = version
        self.name = name
        self.applied = applied
        self.on_disk = on_disk


class MigrationMissingError(MigrationError):
    """The database has a migration this code does not know (the code is older)."""

    def __init__(self, version: int, name: str) -> None:
        super().__init__(f"migration {version:04d}_{name} is applied but has no file here")
        self.version = version
        self.name = name


class MigrationOrderError(MigrationError):
    """A new migration sorts before one already applied: it would apply out of order."""

    def __init__(self, version: int, name: str, newest_applied: int) -> None:
        super().__init__(
            f"migration {version:04d}_{name} is new but {newest_applied:04d} is already "
            "applied: number it after the newest"
        )
        self.version = version
        self.name = name
        self.newest_applied = newest_applied


class StoredEventError(TimelineError):
    """An event stored in `timeline_events` no longer validates (so it cannot be folded)."""

    def __init__(self, mode: str, seq: int, detail: str) -> None:
        super().__init__(f"stored event {mode}#{seq}: {detail}")
        self.mode = mode
        self.seq = seq
        self.detail = detail
