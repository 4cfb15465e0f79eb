"""Every NATS subject and stream name, built in one place so broker permissions can wall them.

Layout (tokens are subject-safe; `mode` first so one permission walls exercises from live):

    ifc.<mode>.<operation>.proposal.<agency>.<family>.<action>   an agency proposes
    ifc.<mode>.<operation>.timeline.<family>.<action>            the log of record
    ifc.<mode>.<operation>.feed.<recipient>.<family>.<action>    what a recipient may see
    ifc.<mode>.<operation>.recepisse.<agency>                    receipts to checked persons
    ifc.exercise.<operation>.control                             a running exercise's trainers
    ifc.<mode>.<operation>.report.<agency>.<unit>                a unit reports (request/reply)
    ifc.<mode>.<operation>.dispatch.<agency>.<unit>              an agency tells its unit
    ifc.replay.<session>.<operation>.<family>.<action>           isolated replay namespace

Streams are one per mode and role: `IFC_LIVE_TIMELINE`, `IFC_EXERCISE_PROPOSALS`, ….
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from contracts.errors import SubjectError
from contracts.events.base import EVENT_TYPE_PREFIX
from contracts.ids import SUBJECT_TOKEN_PATTERN, OperationId
from contracts.vocabulary import Agency, Mode

ROOT = "ifc"
REPLAY = "replay"
_TOKEN = re.compile(SUBJECT_TOKEN_PATTERN)
_TYPE_TOKEN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class Channel(StrEnum):
    """The role of a subject inside an operation."""

    PROPOSAL = "proposal"
    TIMELINE = "timeline"
    FEED = "feed"
    RECEPISSE = "recepisse"
    REPORT = "report"
    DISPATCH = "dispatch"
    CONTROL = "control"


class StreamRole(StrEnum):
    """The JetStream streams the project declares, per mode."""

    PROPOSALS = "PROPOSALS"
    TIMELINE = "TIMELINE"
    FEEDS = "FEEDS"


def _token(value: str, what: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise SubjectError(f"{what} {value!r} is not a subject token ({SUBJECT_TOKEN_PATTERN})")
    return value


def type_tokens(event_type: str) -> str:
    """`fr.interforces.incident.reported` → `incident.reported` (always two tokens)."""
    short = event_type.removeprefix(EVENT_TYPE_PREFIX)
    parts = short.split(".")
    if (
        not event_type.startswith(EVENT_TYPE_PREFIX)
        or len(parts) != 2
        or not all(_TYPE_TOKEN.fullmatch(p) for p in parts)
    ):
        raise SubjectError(f"event type {event_type!r} does not map to two subject tokens")
    return short


def _base(mode: Mode, operation: str) -> str:
    return f"{ROOT}.{mode.value}.{_token(operation, 'operation')}"


def proposal(mode: Mode, operation: str, agency: Agency, event_type: str) -> str:
    """Subject an agency publishes a proposal on."""
    return f"{_base(mode, operation)}.{Channel.PROPOSAL}.{agency.value}.{type_tokens(event_type)}"


def timeline(mode: Mode, operation: str, event_type: str) -> str:
    """Subject of an accepted (or refused, as a violation) event in the timeline."""
    return f"{_base(mode, operation)}.{Channel.TIMELINE}.{type_tokens(event_type)}"


def feed(mode: Mode, operation: str, recipient: Agency, event_type: str) -> str:
    """Subject of one recipient's redacted copy of an event."""
    return f"{_base(mode, operation)}.{Channel.FEED}.{recipient.value}.{type_tokens(event_type)}"


def recepisse(mode: Mode, operation: str, agency: Agency) -> str:
    """Subject the receipts of an agency's identity checks travel on."""
    return f"{_base(mode, operation)}.{Channel.RECEPISSE}.{agency.value}"


def unit_token(unit: str) -> str:
    """A unit call sign as a subject token (dots, slashes and colons become dashes)."""
    token = re.sub(r"[^a-z0-9-]", "-", unit.lower()).strip("-")[:63] or "unit"
    return _token(token, "unit")


def report(mode: Mode, operation: str, agency: Agency, unit: str) -> str:
    """Subject a field unit sends its reports on (request/reply to its agency service)."""
    return f"{_base(mode, operation)}.{Channel.REPORT}.{agency.value}.{unit_token(unit)}"


def dispatch(mode: Mode, operation: str, agency: Agency, unit: str) -> str:
    """Subject an agency service tells one of its units on (assignments)."""
    return f"{_base(mode, operation)}.{Channel.DISPATCH}.{agency.value}.{unit_token(unit)}"


def exercise_control(operation: str) -> str:
    """Where a running exercise answers its trainers (exercise mode only; no stream)."""
    return f"{_base(Mode.EXERCISE, operation)}.{Channel.CONTROL}"


def replay(session: str, operation: str, event_type: str) -> str:
    """Subject of a replayed event: a namespace no live or exercise consumer reads."""
    return (
        f"{ROOT}.{REPLAY}.{_token(session, 'replay session')}."
        f"{_token(operation, 'operation')}.{type_tokens(event_type)}"
    )


# Wildcard patterns, for consumers' filters and broker permissions.


def proposals_of(mode: Mode, agency: Agency | None = None, operation: str | None = None) -> str:
    """Pattern of proposals, optionally of one agency and one operation."""
    op = _token(operation, "operation") if operation is not None else "*"
    who = agency.value if agency else "*"
    return f"{ROOT}.{mode.value}.{op}.{Channel.PROPOSAL}.{who}.>"


def timeline_of(mode: Mode, operation: str | None = None) -> str:
    """Pattern of the timeline of one mode, optionally one operation."""
    op = _token(operation, "operation") if operation is not None else "*"
    return f"{ROOT}.{mode.value}.{op}.{Channel.TIMELINE}.>"


def feed_of(mode: Mode, recipient: Agency, operation: str | None = None) -> str:
    """Pattern of one recipient's feed."""
    op = _token(operation, "operation") if operation is not None else "*"
    return f"{ROOT}.{mode.value}.{op}.{Channel.FEED}.{recipient.value}.>"


def feeds_of(mode: Mode) -> str:
    """Pattern of every feed of a mode (the feeds stream)."""
    return f"{ROOT}.{mode.value}.*.{Channel.FEED}.>"


def reports_of(mode: Mode, agency: Agency) -> str:
    """Pattern of every unit report to one agency service, all operations."""
    return f"{ROOT}.{mode.value}.*.{Channel.REPORT}.{agency.value}.*"


def recepisses_of(mode: Mode, agency: Agency | None = None) -> str:
    """Pattern of receipts (never captured by any stream)."""
    return f"{ROOT}.{mode.value}.*.{Channel.RECEPISSE}.{agency.value if agency else '*'}"


def replay_of(session: str | None = None) -> str:
    """Pattern of one replay session, or all."""
    return f"{ROOT}.{REPLAY}.{_token(session, 'replay session') if session is not None else '*'}.>"


def stream_name(mode: Mode, role: StreamRole) -> str:
    """JetStream stream name of a role in a mode, e.g. `IFC_LIVE_TIMELINE`."""
    return f"{ROOT.upper()}_{mode.value.upper()}_{role.value}"


def stream_subjects(mode: Mode, role: StreamRole) -> list[str]:
    """Subjects a stream captures."""
    match role:
        case StreamRole.PROPOSALS:
            return [proposals_of(mode)]
        case StreamRole.TIMELINE:
            return [timeline_of(mode)]
        case StreamRole.FEEDS:
            return [feeds_of(mode)]


@dataclass(frozen=True, slots=True)
class ProposalSubject:
    """A proposal subject, parsed."""

    mode: Mode
    operation: OperationId
    agency: Agency
    event_type: str


@lru_cache(maxsize=4096)
def parse_proposal(subject: str) -> ProposalSubject:
    """Parse a proposal subject, or raise `SubjectError` (cached: subjects repeat)."""
    parts = subject.split(".")
    if len(parts) != 7 or parts[0] != ROOT or parts[3] != Channel.PROPOSAL:
        raise SubjectError(f"{subject!r} is not a proposal subject")
    try:
        mode = Mode(parts[1])
        agency = Agency(parts[4])
    except ValueError as exc:
        raise SubjectError(f"{subject!r}: {exc}") from exc
    _token(parts[2], "operation")
    event_type = f"{EVENT_TYPE_PREFIX}{parts[5]}.{parts[6]}"
    type_tokens(event_type)
    return ProposalSubject(
        mode=mode, operation=OperationId(parts[2]), agency=agency, event_type=event_type
    )
