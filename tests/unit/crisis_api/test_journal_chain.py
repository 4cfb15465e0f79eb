"""The consultation journal's hash chain: what a record's hash covers, how entries are
checked, and how the verifier names the first record that breaks the chain."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from strategies import aware_datetimes, free_texts, operation_ids, short_texts

from services.crisis_api.journal_chain import (
    COLUMNS,
    GENESIS_HASH,
    JOURNAL_ROLES,
    JournalEntry,
    JournalEntryError,
    JournalRecord,
    Problem,
    chained,
    check_entry,
    record_hash,
    timestamp_text,
    verify_records,
)

pytestmark = pytest.mark.unit

AT = datetime(2025, 6, 21, 20, 30, 15, 123456, tzinfo=UTC)
ENTRY = JournalEntry(
    who="cic",
    role="crisis_cell",
    action="GET /v1/operations/{mode}/{operation}/timeline",
    status=200,
    mode="live",
    operation="fete-2025",
    request={"path": {"operation": "fete-2025", "mode": "live"}, "query": {"type": ["x"]}},
    motive="retour d'expérience",
    result_count=12,
)


def chain_of(count: int) -> list[JournalRecord]:
    """`count` records chained from the genesis, one second apart."""
    records: list[JournalRecord] = []
    for seq in range(1, count + 1):
        prev = records[-1].hash if records else GENESIS_HASH
        entry = replace(ENTRY, who=f"caller-{seq}", result_count=seq)
        records.append(chained(entry, seq=seq, at=AT + timedelta(seconds=seq), prev_hash=prev))
    return records


# --- the hash ------------------------------------------------------------------------------


def test_the_hash_is_the_sha256_of_the_canonical_json_of_every_other_column() -> None:
    record = chained(ENTRY, seq=1, at=AT, prev_hash=GENESIS_HASH)
    text = (
        '{"action":"GET /v1/operations/{mode}/{operation}/timeline","agency":null,'
        '"at":"2025-06-21T20:30:15.123456+00:00","mode":"live",'
        '"motive":"retour d\'expérience","operation":"fete-2025",'
        f'"prev_hash":"{GENESIS_HASH}",'
        '"request":{"path":{"mode":"live","operation":"fete-2025"},"query":{"type":["x"]}},'
        '"result_count":12,"role":"crisis_cell","seq":1,"status":200,"who":"cic"}'
    )
    assert record.hash == hashlib.sha256(text.encode()).hexdigest()
    assert COLUMNS[-4:] == ("seq", "at", "prev_hash", "hash")
    assert set(COLUMNS[:-4]) == {
        *("who", "role", "agency", "mode", "operation", "action", "request", "motive"),
        *("status", "result_count"),
    }


def test_an_instant_hashes_the_same_in_any_offset_and_to_the_microsecond() -> None:
    paris = AT.astimezone(timezone(timedelta(hours=2)))
    assert timestamp_text(paris) == "2025-06-21T20:30:15.123456+00:00"
    assert timestamp_text(AT.replace(microsecond=0)) == "2025-06-21T20:30:15.000000+00:00"
    same = chained(ENTRY, seq=1, at=paris, prev_hash=GENESIS_HASH)
    assert same.hash == chained(ENTRY, seq=1, at=AT, prev_hash=GENESIS_HASH).hash
    with pytest.raises(JournalEntryError, match="time zone"):
        timestamp_text(AT.replace(tzinfo=None))


def json_values() -> SearchStrategy[Any]:
    """What a journaled request may hold."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), short_texts())
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(short_texts(10), inner, max_size=3)
        ),
        max_leaves=8,
    )


def _optional(strategy: SearchStrategy[Any]) -> SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


#: A value of each column (the hash's own column excepted).
FIELD_VALUES: dict[str, SearchStrategy[Any]] = {
    "who": short_texts(),
    "role": st.sampled_from(JOURNAL_ROLES),
    "action": short_texts(),
    "status": st.integers(100, 599),
    "agency": _optional(short_texts()),
    "mode": _optional(st.sampled_from(("live", "exercise"))),
    "operation": _optional(operation_ids()),
    "request": st.dictionaries(short_texts(10), json_values(), max_size=4),
    "motive": _optional(free_texts()),
    "result_count": _optional(st.integers(0, 10**6)),
    "seq": st.integers(1, 2**62),
    "at": aware_datetimes(),
    "prev_hash": st.binary(min_size=32, max_size=32).map(bytes.hex),
}


def test_every_column_but_the_hash_is_covered() -> None:
    assert set(FIELD_VALUES) == set(COLUMNS) - {"hash"}


@st.composite
def records(draw: st.DrawFn) -> JournalRecord:
    """Any valid record, hashed."""
    values = {name: draw(strategy) for name, strategy in FIELD_VALUES.items()}
    record = JournalRecord(**values, hash="")
    return replace(record, hash=record_hash(record))


@given(st.data())
def test_any_change_of_any_column_changes_the_hash(data: st.DataObject) -> None:
    record = data.draw(records())
    name = data.draw(st.sampled_from(sorted(FIELD_VALUES)))
    value = data.draw(
        FIELD_VALUES[name].filter(
            lambda v: (
                timestamp_text(v) != timestamp_text(record.at)
                if name == "at"
                else v != getattr(record, name)
            )
        )
    )
    assert record_hash(replace(record, **{name: value})) != record_hash(record)


@given(records())
def test_the_hash_ignores_key_order_and_the_hash_column(record: JournalRecord) -> None:
    shuffled = dict(reversed(list(record.request.items())))
    assert record_hash(replace(record, request=shuffled, hash="f" * 64)) == record_hash(record)


# --- checking entries ----------------------------------------------------------------------


class _Mode(StrEnum):
    LIVE = "live"


def test_an_entry_is_stored_as_plain_text_and_json() -> None:
    checked = check_entry(replace(ENTRY, mode=_Mode.LIVE, request={"query": {"t": ("a", "b")}}))
    assert type(checked.mode) is str
    assert checked.mode == "live"
    assert checked.request == {"query": {"t": ["a", "b"]}}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"who": ""}, "who and action are required"),
        ({"action": ""}, "who and action are required"),
        ({"role": "admin"}, "role 'admin' is not one of"),
        ({"status": 42}, "not an HTTP status"),
        ({"status": True}, "not an HTTP status"),
        ({"result_count": -1}, "not a count"),
        ({"motive": "nul\x00"}, "motive holds a NUL character"),
        ({"motive": "\udc80"}, "motive is not valid Unicode"),
        ({"operation": 12}, "operation is not text"),
        ({"request": ["a"]}, "request is not a mapping"),
        ({"request": {"lat": 45.76}}, "request.lat is a float"),
        ({"request": {"q": {1: "x"}}}, "a key of request.q is not text"),
        ({"request": {"q": [b"x"]}}, r"request.q\[0\] is a bytes"),
    ],
)
def test_an_entry_the_journal_cannot_hold_is_refused_with_its_reason(
    change: dict[str, Any], reason: str
) -> None:
    with pytest.raises(JournalEntryError, match=reason):
        check_entry(replace(ENTRY, **change))


# --- verifying the chain -------------------------------------------------------------------


def test_an_intact_chain_verifies_and_names_its_head() -> None:
    chain = chain_of(5)
    result = verify_records(chain)
    assert result.ok
    assert (result.rows, result.head_seq, result.head_hash) == (5, 5, chain[-1].hash)
    assert result.as_dict()["broken_seq"] is None
    empty = verify_records([])
    assert (empty.ok, empty.rows, empty.head_seq, empty.head_hash) == (True, 0, 0, GENESIS_HASH)


@given(st.integers(0, 5), st.sampled_from(sorted(set(FIELD_VALUES) - {"seq", "prev_hash"})))
def test_a_changed_record_is_named(index: int, name: str) -> None:
    chain = chain_of(6)
    original = chain[index]
    changed = getattr(original, name)
    value: Any = {
        "at": original.at + timedelta(microseconds=1),
        "status": 403,
        "result_count": 0,
        "request": {},
        "role": "oversight",
    }.get(name, f"{changed}!")
    chain[index] = replace(original, **{name: value})
    result = verify_records(chain)
    assert (result.ok, result.rows) == (False, index)
    assert result.broken is not None
    assert (result.broken.seq, result.broken.problem) == (index + 1, Problem.HASH_MISMATCH)


def test_a_rehashed_record_breaks_the_link_of_the_next() -> None:
    chain = chain_of(4)
    forged = replace(chain[1], motive="autre motif")
    chain[1] = replace(forged, hash=record_hash(forged))
    result = verify_records(chain)
    assert result.broken is not None
    assert (result.broken.seq, result.broken.problem) == (3, Problem.BROKEN_LINK)
    assert "seq 2" in result.broken.detail


def test_removed_records_are_named() -> None:
    chain = chain_of(6)
    gap = verify_records(chain[:2] + chain[4:])
    assert gap.broken is not None
    assert (gap.broken.seq, gap.broken.problem, gap.rows) == (3, Problem.GAP, 2)
    assert "seq 3 to 4 are missing" in gap.broken.detail
    headless = verify_records(chain[1:])
    assert headless.broken is not None
    assert (headless.broken.seq, headless.broken.problem) == (1, Problem.FIRST_SEQ)
    forged_start = verify_records([replace(chain[0], prev_hash="1" * 64)])
    assert forged_start.broken is not None
    assert forged_start.broken.problem is Problem.BROKEN_LINK


def test_a_cut_tail_is_found_with_the_head_seen_earlier() -> None:
    chain = chain_of(6)
    head = chain[-1].hash
    assert verify_records(chain[:4]).ok  # nothing to compare with
    cut = verify_records(chain[:4], expect_head=head)
    assert cut.broken is not None
    assert (cut.broken.seq, cut.broken.problem, cut.rows) == (5, Problem.HEAD_MISSING, 4)
    assert verify_records(chain, expect_head=chain[2].hash).ok  # it grew since: fine
    emptied = verify_records([], expect_head=head)
    assert emptied.broken is not None
    assert emptied.broken.seq == 1
