"""Migration files: named and numbered strictly, applied in order, never edited once applied."""

from __future__ import annotations

import pytest

from services.timeline.errors import (
    MigrationChecksumError,
    MigrationFileError,
    MigrationMissingError,
    MigrationOrderError,
)
from services.timeline.migrations import (
    Applied,
    checksum,
    load_migrations,
    parse_migrations,
    pending,
)

pytestmark = pytest.mark.unit


def test_files_are_ordered_by_version_and_other_files_ignored() -> None:
    # given files listed in any order, with a README beside them
    files = [
        ("0010_later.sql", "SELECT 10;"),
        ("README.md", "notes"),
        ("0002_second.sql", "SELECT 2;"),
        ("0001_first.sql", "SELECT 1;"),
    ]
    # when parsed
    migrations = parse_migrations(files)
    # then they come by version, each with the checksum of its text
    assert [(m.version, m.name) for m in migrations] == [(1, "first"), (2, "second"), (10, "later")]
    assert migrations[0].checksum == checksum("SELECT 1;")
    assert migrations[0].filename == "0001_first.sql"


@pytest.mark.parametrize(
    "files",
    [
        [("1_short.sql", "")],
        [("0001-dash.sql", "")],
        [("0001_Upper.sql", "")],
        [("0000_zero.sql", "")],
        [("0003_a.sql", ""), ("0003_b.sql", "")],
    ],
    ids=["short-number", "dash", "uppercase", "zero", "duplicate-version"],
)
def test_misnamed_or_duplicate_files_are_refused(files: list[tuple[str, str]]) -> None:
    # given a badly named or numbered migration
    # when parsed
    # then it is refused, naming the file
    with pytest.raises(MigrationFileError):
        parse_migrations(files)


def test_the_checksum_ignores_line_endings_but_not_content() -> None:
    # given the same migration checked out with CRLF, and an edited one
    # then line endings do not matter and content does
    assert checksum("SELECT 1;\r\nSELECT 2;\r\n") == checksum("SELECT 1;\nSELECT 2;\n")
    assert checksum("SELECT 1;") != checksum("SELECT 2;")


def test_pending_migrations_are_those_not_applied_in_order() -> None:
    # given three migrations, the first applied
    available = parse_migrations([("0001_a.sql", "A"), ("0002_b.sql", "B"), ("0003_c.sql", "C")])
    applied = {1: Applied(1, "a", checksum("A"))}
    # when planned
    # then the other two remain, in order
    assert [m.version for m in pending(available, applied)] == [2, 3]


def test_an_applied_migration_that_changed_is_an_error() -> None:
    # given a migration applied with one text, whose file now says another
    available = parse_migrations([("0001_a.sql", "A edited")])
    applied = {1: Applied(1, "a", checksum("A"))}
    # when planned
    # then the change is refused, with both checksums
    with pytest.raises(MigrationChecksumError) as caught:
        pending(available, applied)
    assert (caught.value.version, caught.value.applied) == (1, checksum("A"))


def test_an_applied_migration_without_its_file_is_an_error() -> None:
    # given a database migrated by newer code
    applied = {1: Applied(1, "a", checksum("A")), 2: Applied(2, "b", checksum("B"))}
    # when older code plans
    # then it refuses
    with pytest.raises(MigrationMissingError):
        pending(parse_migrations([("0001_a.sql", "A")]), applied)


def test_a_new_migration_numbered_before_an_applied_one_is_an_error() -> None:
    # given 0001 and 0003 applied, and a new 0002
    available = parse_migrations([("0001_a.sql", "A"), ("0002_b.sql", "B"), ("0003_c.sql", "C")])
    applied = {1: Applied(1, "a", checksum("A")), 3: Applied(3, "c", checksum("C"))}
    # when planned
    # then it is refused: it would run after a later one
    with pytest.raises(MigrationOrderError):
        pending(available, applied)


def test_the_project_migrations_load_and_start_with_the_timeline() -> None:
    # given the project's migration directory
    migrations = load_migrations()
    # then it holds numbered migrations, the first creating the timeline tables
    assert migrations[0].filename == "0001_timeline.sql"
    assert "CREATE TABLE timeline_events" in migrations[0].sql
    assert [m.version for m in migrations] == sorted({m.version for m in migrations})
