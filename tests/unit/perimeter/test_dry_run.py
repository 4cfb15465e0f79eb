"""Dry runs: a deputy checks a batch of JSON-lines proposals against the charter before the
event. One decision per non-blank line, never an exception, incidents folded as it goes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.cloudevents import to_structured
from contracts.events.base import EventPayload
from contracts.vocabulary import Agency
from services.coordinator.perimeter.dry_run import decide_lines

from .builders import POINTS, at, envelope, live, payload

pytestmark = pytest.mark.unit

PN = Agency.POLICE_NATIONALE
PM = Agency.POLICE_MUNICIPALE
SP = Agency.SECURITE_PRIVEE
MED = Agency.MEDIATION
CC = Agency.CRISIS_CELL


def bare(data: EventPayload, agency: Agency, **kw: Any) -> str:
    """A bare CloudEvent line (structured JSON)."""
    return to_structured(envelope(data, agency, **kw)).decode()


def wrapped(data: EventPayload, agency: Agency, **how: Any) -> str:
    """A wrapper line: the event and how it arrived."""
    event = json.loads(bare(data, agency))
    return json.dumps({"event": event, **how})


def run(lines: list[str]) -> list[dict[str, Any]]:
    return list(decide_lines(lines, live()))


def codes(decision: dict[str, Any]) -> set[str]:
    return {r["code"] for r in decision["reasons"]}


THEFT = payload("incident.reported", incident="INC-1", category="theft", position=POINTS["fest"])

BATCH: list[tuple[str, str, set[str]]] = [
    # (line, outcome, reason codes)
    (bare(THEFT, PM), "accepted", set()),
    ("", "-", set()),
    ("{ceci n'est pas du JSON", "rejected", {"malformed"}),
    ("[1, 2, 3]", "rejected", {"malformed"}),
    (
        bare(THEFT, PM).replace("incident.reported", "incident.teleported"),
        "rejected",
        {"unknown_type"},
    ),
    (
        bare(payload("incident.reported", incident="INC-X"), PM).replace('"category":"theft",', ""),
        "rejected",
        {"invalid_payload"},
    ),
    (wrapped(THEFT, PN, credentials_agency="securite_privee"), "rejected", {"identity_mismatch"}),
    (wrapped(THEFT, PN, credentials_agency=None), "rejected", {"identity_mismatch"}),
    (wrapped(THEFT, PN, priority="haute"), "rejected", {"malformed"}),
    (
        wrapped(THEFT, PN, received_at=at(20, 50).isoformat()),
        "rejected",
        {"time_in_future"},
    ),
    (
        wrapped(
            THEFT,
            PN,
            subject="ifc.live.doctrine-test.proposal.police_nationale.incident.reported",
            credentials_agency="police_nationale",
            received_at=at(21, 0, 30).isoformat(),
        ),
        "accepted",
        set(),
    ),
    ("   ", "-", set()),
    # Judged against the folded situation: INC-1 was reported (and accepted) on line 1.
    (bare(payload("incident.assigned", assignee="police_municipale"), CC), "accepted", set()),
    (bare(payload("incident.acknowledged"), PM), "accepted", set()),
    (bare(payload("incident.acknowledged"), PN), "rejected", {"not_assignee"}),
    # INC-2 never reported; INC-3 reported outside every sector, hence never known.
    (
        bare(payload("incident.assigned", incident="INC-2", assignee="police_nationale"), CC),
        "rejected",
        {"unknown_incident"},
    ),
    (
        bare(payload("incident.reported", incident="INC-3", position=POINTS["outside"]), PN),
        "rejected",
        {"outside_territory"},
    ),
    (
        bare(payload("incident.assigned", incident="INC-3", assignee="police_nationale"), CC),
        "rejected",
        {"unknown_incident"},
    ),
]


def test_one_decision_per_non_blank_line_in_order() -> None:
    lines = [line for line, _, _ in BATCH]
    decisions = run(lines)
    expected = [(n, o, c) for n, (_, o, c) in enumerate(BATCH, start=1) if o != "-"]
    assert [d["line"] for d in decisions] == [n for n, _, _ in expected]
    for decision, (number, outcome, reason_codes) in zip(decisions, expected, strict=True):
        assert (decision["outcome"], codes(decision)) == (outcome, reason_codes), number


def test_a_rejected_line_explains_itself_and_an_accepted_one_names_its_recipients() -> None:
    decisions = {d["line"]: d for d in run([line for line, _, _ in BATCH])}
    malformed = decisions[3]["reasons"][0]
    assert malformed["message"].startswith("Message illisible")
    first = decisions[1]
    assert (first["type"], first["agency"]) == ("fr.interforces.incident.reported", PM.value)
    recipients = {r["recipient"]: r for r in first["recipients"]}
    assert {CC.value, PM.value, PN.value} <= set(recipients)
    assert SP.value not in recipients
    assert recipients[MED.value]["coarsened"] == [{"field": "position", "decimals": 3}]
    json.dumps(list(decisions.values()))  # every decision is JSON-able as it is


def test_a_dry_run_shows_withheld_notes_and_competent_agencies() -> None:
    lines = [
        bare(payload("mediation.started", case_notes="Mme Z., détresse"), MED),
        bare(payload("incident.reported", category="theft"), PM),
        bare(payload("incident.assigned", assignee="securite_privee"), CC),
    ]
    mediation, _, refused = run(lines)
    assert mediation["withheld"] == ["case_notes"]
    assert "Mme Z." not in json.dumps(mediation)
    assert codes(refused) == {"assignee_not_competent"}
    assert refused["competent_agencies"] == [PN.value, PM.value]


def test_lines_are_folded_in_order_only() -> None:
    """The same assignment before the report is unknown; after it, accepted."""
    report = bare(THEFT, PM)
    assignment = bare(payload("incident.assigned", assignee="police_municipale"), CC)
    before, after = run([assignment, report]), run([report, assignment])
    assert codes(before[0]) == {"unknown_incident"}
    assert after[1]["outcome"] == "accepted"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(blacklist_characters="\n\r")),
            st.sampled_from([line for line, _, _ in BATCH]),
            st.builds(
                json.dumps,
                st.dictionaries(
                    st.sampled_from(["event", "subject", "credentials_agency", "specversion"]),
                    st.none() | st.text() | st.integers(),
                ),
            ),
        ),
        max_size=8,
    )
)
def test_any_batch_gives_one_decision_per_non_blank_line(lines: list[str]) -> None:
    decisions = run(lines)
    assert [d["line"] for d in decisions] == [
        n for n, line in enumerate(lines, start=1) if line.strip()
    ]
    assert all(d["outcome"] in {"accepted", "rejected"} for d in decisions)
    assert all(d["reasons"] for d in decisions if d["outcome"] == "rejected")
