"""The consultation journal's entries and their hash chain, without I/O.

Each record's hash is the SHA-256 of the canonical JSON (`canonical_json`: sorted keys, no
spaces) of every other field of the record, `prev_hash` included, timestamps written one way
(`timestamp_text`). The first record's `prev_hash` is `GENESIS_HASH`. `ChainVerifier` walks
records in `seq` order and names the first one that breaks the chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from services.timeline.domain import canonical_json

#: `prev_hash` of the first record.
GENESIS_HASH: Final = "0" * 64
#: Who may appear in the journal (`anonymous`: a call refused before authentication).
JOURNAL_ROLES: Final = ("crisis_cell", "agency", "trainer", "oversight", "operator", "anonymous")
_HTTP_STATUSES: Final = range(100, 600)
_TEXT_FIELDS: Final = ("who", "role", "action", "agency", "mode", "operation", "motive")


class JournalEntryError(ValueError):
    """An entry the journal cannot record as given."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    """One consultation, as its caller describes it (checked by `check_entry`)."""

    who: str
    role: str
    action: str
    status: int
    agency: str | None = None
    mode: str | None = None
    operation: str | None = None
    request: Mapping[str, Any] = field(default_factory=dict)
    motive: str | None = None
    result_count: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalRecord(JournalEntry):
    """An entry as the journal holds it: its place in the chain, when, and its hash."""

    seq: int
    at: datetime
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready values (timestamps as `timestamp_text`)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


#: The journal's columns: every field of a record.
COLUMNS: Final = tuple(f.name for f in fields(JournalRecord))


def timestamp_text(at: datetime) -> str:
    """An instant as the hash sees it: UTC, microseconds, offset (`…T16:00:00.000000+00:00`)."""
    if at.utcoffset() is None:
        raise JournalEntryError("journal timestamps carry a time zone")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _jsonable(value: Any) -> Any:
    return timestamp_text(value) if isinstance(value, datetime) else value


def record_hash(record: JournalRecord) -> str:
    """SHA-256 (hex) of the canonical JSON of every field but `hash` itself."""
    hashed = {k: v for k, v in record.as_dict().items() if k != "hash"}
    return hashlib.sha256(canonical_json(hashed).encode()).hexdigest()


def chained(entry: JournalEntry, *, seq: int, at: datetime, prev_hash: str) -> JournalRecord:
    """The record `entry` becomes at `seq` after the record hashed `prev_hash`."""
    values = {f.name: getattr(entry, f.name) for f in fields(JournalEntry)}
    record = JournalRecord(**values, seq=seq, at=at, prev_hash=prev_hash, hash="")
    return replace(record, hash=record_hash(record))


# --- checking entries -----------------------------------------------------------------------


def check_entry(entry: JournalEntry) -> JournalEntry:
    """`entry` as plain text and JSON, or `JournalEntryError` saying what is wrong."""
    texts: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = getattr(entry, name)
        texts[name] = None if value is None else _check_text(value, name)
    if not entry.who or not entry.action:
        raise JournalEntryError("who and action are required")
    if entry.role not in JOURNAL_ROLES:
        raise JournalEntryError(f"role {entry.role!r} is not one of {', '.join(JOURNAL_ROLES)}")
    if not _is_int(entry.status) or entry.status not in _HTTP_STATUSES:
        raise JournalEntryError(f"status {entry.status!r} is not an HTTP status")
    if entry.result_count is not None and not (
        _is_int(entry.result_count) and entry.result_count >= 0
    ):
        raise JournalEntryError(f"result_count {entry.result_count!r} is not a count")
    if not isinstance(entry.request, Mapping):
        raise JournalEntryError("request is not a mapping")
    return replace(entry, **texts, request=_plain_json(entry.request, "request"))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_text(value: object, where: str) -> str:
    """`value` as a plain `str` (an enum member gives its value) PostgreSQL can store."""
    if not isinstance(value, str):
        raise JournalEntryError(f"{where} is not text")
    if "\x00" in value:
        raise JournalEntryError(f"{where} holds a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise JournalEntryError(f"{where} is not valid Unicode") from exc
    return str.__str__(value)


def _plain_json(value: Any, where: str) -> Any:
    """`value` as dicts, lists, text, integers, booleans and nulls: what reads back from
    jsonb exactly as it was written (floats do not: 1e20 comes back as an integer)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return _check_text(value, where)
    if isinstance(value, Mapping):
        return {
            _check_text(k, f"a key of {where}"): _plain_json(v, f"{where}.{k}")
            for k, v in value.items()
        }
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_plain_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise JournalEntryError(f"{where} is a {type(value).__name__}, not text, integer or list")


# --- verifying the chain --------------------------------------------------------------------


class Problem(StrEnum):
    """How a chain can be broken."""

    FIRST_SEQ = "first_seq_not_1"  # the journal does not start at 1: its head was removed
    GAP = "gap"  # seqs are missing: records were removed
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous record's hash
    HASH_MISMATCH = "hash_mismatch"  # the record does not hash to its hash: it was changed
    HEAD_MISSING = "expected_head_missing"  # a head seen earlier is gone: the tail was cut


@dataclass(frozen=True, slots=True)
class Break:
    """Where the chain first breaks, and how."""

    seq: int
    problem: Problem
    detail: str


@dataclass(frozen=True, slots=True)
class Verification:
    """What verifying the journal found: rows checked, the head reached, the first break."""

    rows: int
    head_seq: int
    head_hash: str
    broken: Break | None = None

    @property
    def ok(self) -> bool:
        """Whether the chain is intact."""
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (`broken_seq`, `problem` and `detail` are null when intact)."""
        broken = self.broken
        return {
            "ok": self.ok,
            "rows": self.rows,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "broken_seq": broken.seq if broken else None,
            "problem": broken.problem.value if broken else None,
            "detail": broken.detail if broken else None,
        }


class ChainVerifier:
    """Checks records fed in `seq` order; stops at the first break.

    `expect_head`: a head hash seen earlier (by an earlier verification); the journal must
    still hold it, otherwise records after it were removed."""

    def __init__(self, expect_head: str | None = None) -> None:
        self._expect_head = expect_head
        self._head_found = expect_head is None
        self._rows = 0
        self._head_seq = 0
        self._head_hash = GENESIS_HASH
        self._broken: Break | None = None

    def feed(self, record: JournalRecord) -> bool:
        """Check the next record; False once the chain is broken (feed no more)."""
        if self._broken is None:
            self._broken = self._check(record)
        if self._broken is not None:
            return False
        self._rows += 1
        self._head_seq, self._head_hash = record.seq, record.hash
        self._head_found = self._head_found or record.hash == self._expect_head
        return True

    def result(self) -> Verification:
        """The verification of the records fed so far."""
        broken = self._broken
        if broken is None and not self._head_found:
            broken = Break(
                self._head_seq + 1,
                Problem.HEAD_MISSING,
                f"the expected head {self._expect_head} is not in the journal: records after "
                f"seq {self._head_seq} were removed",
            )
        return Verification(self._rows, self._head_seq, self._head_hash, broken)

    def _check(self, record: JournalRecord) -> Break | None:
        expected = self._head_seq + 1
        if record.seq != expected:
            if self._rows == 0:
                return Break(1, Problem.FIRST_SEQ, f"the journal starts at seq {record.seq}")
            return Break(
                expected,
                Problem.GAP,
                f"seq {expected} to {record.seq - 1} are missing after seq {self._head_seq}",
            )
        if record.prev_hash != self._head_hash:
            return Break(
                record.seq,
                Problem.BROKEN_LINK,
                f"prev_hash is not the hash of seq {self._head_seq}"
                if self._rows
                else "prev_hash of the first record is not the genesis hash",
            )
        try:
            recomputed = record_hash(record)
        except (TypeError, ValueError) as exc:
            return Break(record.seq, Problem.HASH_MISMATCH, f"the record cannot be hashed: {exc}")
        if recomputed != record.hash:
            return Break(
                record.seq, Problem.HASH_MISMATCH, "the record's content does not match its hash"
            )
        return None


def verify_records(
    records: Iterable[JournalRecord], expect_head: str | None = None
) -> Verification:
    """Verify records given in `seq` order."""
    verifier = ChainVerifier(expect_head)
    for record in records:
        if not verifier.feed(record):
            break
    return verifier.result()
