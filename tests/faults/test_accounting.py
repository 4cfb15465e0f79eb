"""The chaos accounting: lost and duplicated proposals are counted on the stream and in
PostgreSQL, the worse of the two, and records nobody sent are told apart."""

from __future__ import annotations

from collections import Counter

import pytest

from simulations.chaos import account
from simulations.chaos.accounting import Recorded

pytestmark = pytest.mark.unit


def recorded(*ids: str, refused: tuple[str, ...] = ()) -> Recorded:
    return Recorded(Counter(ids), frozenset(set(ids) - set(refused)))


def test_each_proposal_recorded_once_in_both_places_is_exact() -> None:
    stream = recorded("a", "b", "c", refused=("c",))
    accounting = account(["a", "b", "c"], stream, stream)
    assert (accounting.sent, accounting.accepted, accounting.rejected) == (3, 2, 1)
    assert (accounting.lost, accounting.duplicated, accounting.unexpected) == (0, 0, 0)
    assert accounting.exact


def test_a_record_missing_from_either_place_is_lost() -> None:
    # "b" reached the stream but not PostgreSQL; "c" reached neither
    accounting = account(["a", "b", "c"], recorded("a", "b"), recorded("a"))
    assert accounting.lost == 2
    assert (accounting.accepted, accounting.rejected) == (1, 0)
    assert not accounting.exact


def test_a_proposal_recorded_twice_anywhere_is_duplicated_once() -> None:
    # "a" twice on the stream and in PostgreSQL (one proposal, one extra record)
    stream = recorded("a", "a", "b")
    accounting = account(["a", "b"], stream, recorded("a", "a", "b"))
    assert (accounting.lost, accounting.duplicated) == (0, 1)
    assert accounting.stream_records == 3
    assert not accounting.exact


def test_records_of_proposals_never_sent_are_unexpected() -> None:
    accounting = account(["a"], recorded("a", "z"), recorded("a", "z"))
    assert (accounting.lost, accounting.duplicated, accounting.unexpected) == (0, 0, 1)
    assert not accounting.exact
