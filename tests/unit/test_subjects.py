"""NATS subjects and streams: built in one place, parsed back, walled by mode.

What these tests prove: a proposal subject parses back to what built it; tokens that would
change a subject's meaning (dots, wildcards, spaces, capitals) are refused; the patterns
given to consumers and to broker permissions match the subjects they are meant for, and a
live pattern never matches an exercise subject (nor the reverse, nor a replay).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import operation_ids

from contracts import subjects
from contracts.errors import SubjectError
from contracts.events.catalogue import EVENT_TYPES
from contracts.ids import OperationId
from contracts.subjects import ProposalSubject, StreamRole
from contracts.vocabulary import Agency, Mode

pytestmark = pytest.mark.unit

SOME = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MODES = st.sampled_from(Mode)
AGENCIES = st.sampled_from(Agency)
TYPES = st.sampled_from(sorted(EVENT_TYPES))
INVALID_TOKENS = [
    "a.b",
    "*",
    ">",
    "op*",
    "op>",
    "a b",
    " op",
    "op\t",
    "Fete",
    "OP-1",
    "",
    "-op",
    "op\n",
    "é",
    "x" * 64,
]


# A small NATS subject matcher: `*` matches one token, `>` one or more trailing tokens.


def matches(pattern: str, subject: str) -> bool:
    """Whether a NATS filter matches a concrete subject."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for i, part in enumerate(wanted):
        if part == ">":
            return len(tokens) > i
        if i >= len(tokens) or part not in ("*", tokens[i]):
            return False
    return len(tokens) == len(wanted)


def overlap(first: str, second: str) -> bool:
    """Whether some concrete subject matches both NATS filters."""

    def go(a: list[str], b: list[str]) -> bool:
        if a and a[0] == ">":
            return bool(b)
        if b and b[0] == ">":
            return bool(a)
        if not a or not b:
            return not a and not b
        return (a[0] == b[0] or "*" in (a[0], b[0])) and go(a[1:], b[1:])

    return go(first.split("."), second.split("."))


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("a.b", "a.b", True),
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.>", "a.b.c", True),
        ("a.>", "a", False),
        ("*.b", "a.c", False),
        ("a.b", "a.b.c", False),
    ],
)
def test_the_matcher_follows_nats_rules(pattern: str, subject: str, expected: bool) -> None:
    assert matches(pattern, subject) is expected
    assert overlap(pattern, subject) is expected


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("a.*.c", "a.b.*", True),
        ("a.>", "*.b", True),
        ("a.>", "b.>", False),
        ("a.*", "a.*.c", False),
        ("a.*.>", "a.b", False),
        (">", "x.y.z", True),
    ],
)
def test_the_overlap_check_follows_nats_rules(first: str, second: str, expected: bool) -> None:
    assert overlap(first, second) is expected
    assert overlap(second, first) is expected


# Builders and parsing.


def _is_concrete(subject: str) -> bool:
    return all(
        token and token.isascii() and token.isprintable() and not set(token) & {" ", "*", ">"}
        for token in subject.split(".")
    )


@SOME
@given(mode=MODES, operation=operation_ids(), agency=AGENCIES, event_type=TYPES)
def test_a_proposal_subject_parses_back_to_what_built_it(
    mode: Mode, operation: str, agency: Agency, event_type: str
) -> None:
    # When a proposal subject is built
    subject = subjects.proposal(mode, operation, agency, event_type)
    # Then it is a concrete NATS subject of seven tokens
    assert _is_concrete(subject)
    assert len(subject.split(".")) == 7
    # And parsing it gives back every part
    assert subjects.parse_proposal(subject) == ProposalSubject(
        mode=mode, operation=OperationId(operation), agency=agency, event_type=event_type
    )


@SOME
@given(
    mode=MODES,
    operation=operation_ids(),
    agency=AGENCIES,
    event_type=TYPES,
    session=operation_ids(),
)
def test_every_subject_matches_the_patterns_meant_for_it(
    mode: Mode, operation: str, agency: Agency, event_type: str, session: str
) -> None:
    # Given one subject of each channel
    proposal = subjects.proposal(mode, operation, agency, event_type)
    timeline = subjects.timeline(mode, operation, event_type)
    feed = subjects.feed(mode, operation, agency, event_type)
    recepisse = subjects.recepisse(mode, operation, agency)
    replay = subjects.replay(session, operation, event_type)
    for subject in (proposal, timeline, feed, recepisse, replay):
        assert _is_concrete(subject)
    # Then each matches its patterns, the narrow ones and the wide ones
    assert matches(subjects.proposals_of(mode), proposal)
    assert matches(subjects.proposals_of(mode, agency), proposal)
    assert matches(subjects.proposals_of(mode, agency, operation), proposal)
    assert matches(subjects.timeline_of(mode), timeline)
    assert matches(subjects.timeline_of(mode, operation), timeline)
    assert matches(subjects.feed_of(mode, agency), feed)
    assert matches(subjects.feed_of(mode, agency, operation), feed)
    assert matches(subjects.feeds_of(mode), feed)
    assert matches(subjects.replay_of(), replay)
    assert matches(subjects.replay_of(session), replay)
    # And the streams capture the subjects of their role
    for role, subject in (
        (StreamRole.PROPOSALS, proposal),
        (StreamRole.TIMELINE, timeline),
        (StreamRole.FEEDS, feed),
    ):
        assert any(matches(p, subject) for p in subjects.stream_subjects(mode, role))
    # But another agency's patterns do not match this agency's proposals and feed
    for other in Agency:
        if other is not agency:
            assert not matches(subjects.proposals_of(mode, other), proposal)
            assert not matches(subjects.feed_of(mode, other), feed)
    # And receipts never go through the proposals, the timeline or the feeds
    for role in (StreamRole.PROPOSALS, StreamRole.TIMELINE, StreamRole.FEEDS):
        assert not any(matches(p, recepisse) for p in subjects.stream_subjects(mode, role))


def _builders(token: str) -> dict[str, Callable[[], str]]:
    """Every builder fed `token` where an operation or a replay session goes."""
    live, agency, event_type = Mode.LIVE, Agency.MEDIATION, "fr.interforces.mediation.started"
    return {
        "proposal": lambda: subjects.proposal(live, token, agency, event_type),
        "timeline": lambda: subjects.timeline(live, token, event_type),
        "feed": lambda: subjects.feed(live, token, agency, event_type),
        "recepisse": lambda: subjects.recepisse(live, token, agency),
        "replay operation": lambda: subjects.replay("session-1", token, event_type),
        "replay session": lambda: subjects.replay(token, "op-1", event_type),
        "proposals_of": lambda: subjects.proposals_of(live, agency, token),
        "timeline_of": lambda: subjects.timeline_of(live, token),
        "feed_of": lambda: subjects.feed_of(live, agency, token),
        "replay_of": lambda: subjects.replay_of(token),
    }


@pytest.mark.parametrize("builder", list(_builders("op-1")))
@pytest.mark.parametrize("token", [t for t in INVALID_TOKENS if t], ids=repr)
def test_invalid_tokens_are_refused_by_every_builder(token: str, builder: str) -> None:
    # Given a token that would change what a subject means (or is not lowercase ASCII)
    # When a builder is given it where an operation or a session goes
    # Then it raises SubjectError rather than build a subject that means something else
    with pytest.raises(SubjectError):
        _builders(token)[builder]()


def test_valid_tokens_are_accepted_by_every_builder() -> None:
    for build in _builders("fete-musique-2025").values():
        assert "fete-musique-2025" in build().split(".")


@pytest.mark.parametrize("name", ["proposals_of", "timeline_of", "feed_of", "replay_of"])
def test_an_empty_token_is_refused_not_taken_for_a_wildcard(name: str) -> None:
    with pytest.raises(SubjectError):
        _builders("")[name]()


def test_the_empty_token_is_refused_by_concrete_builders() -> None:
    for name in ("proposal", "timeline", "feed", "recepisse", "replay operation"):
        with pytest.raises(SubjectError):
            _builders("")[name]()


@pytest.mark.parametrize(
    "event_type",
    [
        "incident.reported",  # the short form
        "fr.interforces.incident",
        "fr.interforces.incident.reported.v2",
        "fr.interforces.Incident.reported",
        "fr.interforces.incident.*",
        "fr.interforces.incident.>",
        "fr.interforces.incident.re ported",
        "fr.interforces..reported",
        "com.example.incident.reported",
    ],
)
def test_types_that_are_not_two_tokens_are_refused(event_type: str) -> None:
    with pytest.raises(SubjectError):
        subjects.type_tokens(event_type)
    with pytest.raises(SubjectError):
        subjects.proposal(Mode.LIVE, "op-1", Agency.GENDARMERIE, event_type)


@pytest.mark.parametrize(
    "subject",
    [
        "ifc.live.op-1.timeline.incident.reported",
        "ifc.live.op-1.feed.gendarmerie.incident.reported",
        "ifc.live.op-1.proposal.gendarmerie.incident",
        "ifc.live.op-1.proposal.gendarmerie.incident.reported.v2",
        "nats.live.op-1.proposal.gendarmerie.incident.reported",
        "ifc.replay.op-1.proposal.gendarmerie.incident.reported",
        "ifc.LIVE.op-1.proposal.gendarmerie.incident.reported",
        "ifc.live.op-1.proposal.douane.incident.reported",
        "ifc.live.Op_1.proposal.gendarmerie.incident.reported",
        "ifc.live.*.proposal.gendarmerie.incident.reported",
        "",
    ],
)
def test_subjects_that_are_not_proposals_do_not_parse(subject: str) -> None:
    with pytest.raises(SubjectError):
        subjects.parse_proposal(subject)


@pytest.mark.parametrize(
    "subject",
    [
        "ifc.live.op-1.proposal.gendarmerie.*.>",
        "ifc.live.op-1.proposal.gendarmerie.Incident.Reported",
    ],
)
def test_a_proposal_with_invalid_type_tokens_does_not_parse(subject: str) -> None:
    with pytest.raises(SubjectError):
        subjects.parse_proposal(subject)


# The mode wall.


def _patterns(mode: Mode) -> list[str]:
    """Every pattern a consumer or a permission may use in one mode."""
    operations: list[str | None] = [None, "op-1", "replay", "live", "exercise"]
    found = [subjects.feeds_of(mode)]
    for operation in operations:
        found.append(subjects.timeline_of(mode, operation))
        found.append(subjects.proposals_of(mode, None, operation))
        for agency in Agency:
            found.append(subjects.proposals_of(mode, agency, operation))
            found.append(subjects.feed_of(mode, agency, operation))
    for role in StreamRole:
        found.extend(subjects.stream_subjects(mode, role))
    return found


REPLAY_PATTERNS = [subjects.replay_of(), subjects.replay_of("live"), subjects.replay_of("s-1")]


def test_live_and_exercise_patterns_never_overlap() -> None:
    # Given every pattern of the live mode and every pattern of the exercise mode
    live, exercise = _patterns(Mode.LIVE), _patterns(Mode.EXERCISE)
    # Then no subject can match one of each (even an operation named like a mode)
    for a, b in itertools.product(live, exercise):
        assert not overlap(a, b), (a, b)
    # And no replay pattern overlaps either mode
    for a, b in itertools.product(REPLAY_PATTERNS, live + exercise):
        assert not overlap(a, b), (a, b)


@SOME
@given(
    mode=MODES,
    operation=operation_ids(),
    agency=AGENCIES,
    event_type=TYPES,
    session=operation_ids(),
)
def test_no_subject_of_one_mode_matches_a_pattern_of_the_other(
    mode: Mode, operation: str, agency: Agency, event_type: str, session: str
) -> None:
    # Given every concrete subject of one mode
    built = [
        subjects.proposal(mode, operation, agency, event_type),
        subjects.timeline(mode, operation, event_type),
        subjects.feed(mode, operation, agency, event_type),
        subjects.recepisse(mode, operation, agency),
    ]
    other = Mode.EXERCISE if mode is Mode.LIVE else Mode.LIVE
    # Then no pattern of the other mode, nor of replays, matches any of them
    for subject, pattern in itertools.product(built, _patterns(other) + REPLAY_PATTERNS):
        assert not matches(pattern, subject), (pattern, subject)
    # And a replayed subject matches no pattern of either mode
    replayed = subjects.replay(session, operation, event_type)
    for pattern in _patterns(Mode.LIVE) + _patterns(Mode.EXERCISE):
        assert not matches(pattern, replayed), (pattern, replayed)


def test_streams_never_overlap_and_have_distinct_names() -> None:
    # Given every stream of every mode
    streams = {
        subjects.stream_name(mode, role): subjects.stream_subjects(mode, role)
        for mode in Mode
        for role in StreamRole
    }
    # Then their names are distinct, upper case JetStream names
    assert len(streams) == len(Mode) * len(StreamRole)
    for name in streams:
        assert name.isupper()
        assert not set(name) & {".", " ", "*", ">"}
    # And no two streams capture a common subject (JetStream refuses overlapping streams)
    for (a_name, a), (b_name, b) in itertools.combinations(streams.items(), 2):
        for pa, pb in itertools.product(a, b):
            assert not overlap(pa, pb), (a_name, b_name)
