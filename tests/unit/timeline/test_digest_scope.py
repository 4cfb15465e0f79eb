"""What the digest of one operation covers: its rows in every table (the unreadable notes by
the subject they were read from), in primary-key order, without write-time columns."""

from __future__ import annotations

import pytest

from contracts import subjects
from contracts.errors import SubjectError
from contracts.vocabulary import Mode
from services.timeline.digest import digest_query, timeline_prefixes
from services.timeline.store import DIGEST_TABLES, EVENTS_TABLE, UNREADABLE_TABLE

pytestmark = pytest.mark.unit

KEYS = dict(DIGEST_TABLES)
INCIDENT = "fr.interforces.incident.reported"


def test_the_whole_database_is_digested_without_a_filter_in_key_order() -> None:
    # when the events table is rendered for the whole database
    sql, args = digest_query(EVENTS_TABLE, KEYS[EVENTS_TABLE])
    # then every row is read, ordered by mode (bytewise) then sequence (numerically)
    assert "WHERE" not in sql
    assert sql.endswith('ORDER BY mode COLLATE "C", seq')
    assert args == ()


def test_an_operation_is_its_rows_in_one_mode() -> None:
    # when a projection table is rendered for one operation of one mode
    sql, args = digest_query("incidents", KEYS["incidents"], mode=Mode.LIVE, operation="fete")
    # then its rows are those naming the mode and the operation
    assert "WHERE mode = $1 AND operation = $2" in sql
    assert args == ("live", "fete")


def test_unreadable_notes_of_an_operation_are_those_read_from_its_subjects() -> None:
    # when the unreadable notes are rendered for one operation
    sql, args = digest_query(
        UNREADABLE_TABLE, KEYS[UNREADABLE_TABLE], mode=Mode.EXERCISE, operation="fete"
    )
    (prefixes,) = args[1:]
    # then the operation's subjects match and another operation's do not, even one whose id
    # starts with the same letters
    assert "starts_with(subject, p)" in sql
    assert args[0] == "exercise"
    assert any(subjects.timeline(Mode.EXERCISE, "fete", INCIDENT).startswith(p) for p in prefixes)
    assert not any(
        subjects.timeline(Mode.EXERCISE, "fete-2", INCIDENT).startswith(p) for p in prefixes
    )
    # and the moment a note was written is not part of what it says
    assert "to_jsonb(t) - 'noted_at'" in sql


def test_an_operation_without_a_mode_covers_both_modes() -> None:
    prefixes = timeline_prefixes(None, "fete")
    for mode in Mode:
        assert any(subjects.timeline(mode, "fete", INCIDENT).startswith(p) for p in prefixes)


def test_an_operation_that_is_not_a_subject_token_is_refused() -> None:
    with pytest.raises(SubjectError):
        digest_query(UNREADABLE_TABLE, KEYS[UNREADABLE_TABLE], operation="fete.*")
