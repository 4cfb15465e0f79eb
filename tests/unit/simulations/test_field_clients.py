"""The field clients without a server: a unit retries the same report until answered, a
bounded number of times; the desk's envelopes are the crisis cell's, with stable ids."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import cast

import pytest
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from contracts import subjects
from contracts.credentials import unit_token
from contracts.ids import derived_event_id
from contracts.reasons import ReasonCode
from contracts.reports import ReportAck, ReportStatus
from contracts.vocabulary import Agency, Classification, Mode
from simulations.field import (
    FieldUnit,
    ReplyError,
    ReportUndeliveredError,
    RetryPolicy,
    desk_envelope,
)
from simulations.field.desk import desk_source

pytestmark = pytest.mark.unit

OPERATION = "fete-musique-2026-lyon-presquile"
KEY = b"k" * 32
WHEN = datetime(2026, 6, 21, 21, 0, tzinfo=timezone(timedelta(hours=2)))
EVENT = {
    "type": "fr.interforces.unit.position_reported",
    "unit": "PM-TERREAUX-1",
    "position": {"lon": 4.8330, "lat": 45.7675},
}
FAST = RetryPolicy(attempts=3, timeout_s=0.1, backoff_s=0.0)


@dataclass
class _Msg:
    data: bytes


@dataclass
class FakeNats:
    """Answers requests from a script: an exception to raise, or reply bytes."""

    answers: list[Exception | bytes]
    sent: list[tuple[str, bytes, float]] = field(default_factory=list)

    async def request(self, subject: str, payload: bytes, timeout: float = 0.5) -> _Msg:
        self.sent.append((subject, payload, timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return _Msg(answer)


def _unit(fake: FakeNats, hook: list[tuple[str, int, str]] | None = None) -> FieldUnit:
    def on_retry(report: str, attempt: int, error: Exception) -> None:
        if hook is not None:
            hook.append((report, attempt, type(error).__name__))

    return FieldUnit(
        cast("Client", fake),
        Mode.LIVE,
        OPERATION,
        Agency.POLICE_MUNICIPALE,
        "PM-TERREAUX-1",
        KEY,
        retry=FAST,
        on_retry=on_retry,
    )


def _ack(report: str) -> bytes:
    return (
        ReportAck(report=report, status=ReportStatus.PROPOSED, event_id="e-1")
        .model_dump_json()
        .encode()
    )


async def test_a_unit_sends_the_same_report_again_until_it_is_answered() -> None:
    # given a service that answers only the third time
    fake = FakeNats([NatsTimeoutError(), NoRespondersError(), _ack("r-1")])
    retries: list[tuple[str, int, str]] = []
    # when the unit reports
    ack = await _unit(fake, retries).report("r-1", WHEN, EVENT, sector="terreaux")
    # then it was sent three times, the same bytes each time, on the unit's subject
    assert ack.status is ReportStatus.PROPOSED
    assert len(fake.sent) == 3
    assert len({payload for _, payload, _ in fake.sent}) == 1
    subject = subjects.report(Mode.LIVE, OPERATION, Agency.POLICE_MUNICIPALE, "PM-TERREAUX-1")
    assert {s for s, _, _ in fake.sent} == {subject}
    sent = json.loads(fake.sent[0][1])
    assert sent["report"] == "r-1"
    assert sent["token"] == unit_token(KEY, OPERATION, "PM-TERREAUX-1")
    assert retries == [("r-1", 1, "TimeoutError"), ("r-1", 2, "NoRespondersError")]


async def test_a_unit_gives_up_after_its_last_attempt() -> None:
    # given nobody ever answers
    fake = FakeNats([NatsTimeoutError(), NatsTimeoutError(), NatsTimeoutError()])
    # when the unit reports, then it gives up after three attempts, saying so
    with pytest.raises(ReportUndeliveredError) as raised:
        await _unit(fake).report("r-2", WHEN, EVENT)
    assert raised.value.attempts == 3
    assert len(fake.sent) == 3


@pytest.mark.parametrize("reply", [b"not json", _ack("someone-else")])
async def test_an_answer_that_is_not_this_reports_ack_is_an_error(reply: bytes) -> None:
    # given a service answering nonsense, or another report's acknowledgement
    fake = FakeNats([reply])
    # when the unit reports, then it does not take it for an answer (nor retries)
    with pytest.raises(ReplyError):
        await _unit(fake).report("r-3", WHEN, EVENT)
    assert len(fake.sent) == 1


async def test_a_refusal_is_an_answer() -> None:
    # given a service refusing the report
    refusal = ReportAck(
        report="r-4", status=ReportStatus.REFUSED, reason=ReasonCode.UNIT_NOT_AUTHENTICATED
    )
    fake = FakeNats([refusal.model_dump_json().encode()])
    # when the unit reports, then it gets the refusal once, without retrying
    ack = await _unit(fake).report("r-4", WHEN, EVENT)
    assert ack.reason is ReasonCode.UNIT_NOT_AUTHENTICATED
    assert len(fake.sent) == 1


def test_retry_pauses_double_and_are_capped() -> None:
    policy = RetryPolicy(attempts=5, timeout_s=1.0, backoff_s=0.25, max_backoff_s=1.0)
    assert [policy.pause(a) for a in range(1, 5)] == [0.25, 0.5, 1.0, 1.0]
    assert policy.worst_case_s == pytest.approx(5 * 1.0 + 2.75)
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


def test_the_desk_speaks_as_the_crisis_cell_with_stable_ids() -> None:
    # given a desk action
    event = {
        "type": "fr.interforces.crisis_cell.decision_logged",
        "decision": "Renfort de la gare",
        "authority": "Préfet",
    }
    # when its envelope is built twice, and for another key
    first = desk_envelope(Mode.LIVE, OPERATION, "k-1", WHEN, event)
    again = desk_envelope(Mode.LIVE, OPERATION, "k-1", WHEN, event)
    other = desk_envelope(Mode.LIVE, OPERATION, "k-2", WHEN, event)
    # then it is the crisis cell's, from its post, with an id derived from the key
    assert first.agency is Agency.CRISIS_CELL
    assert first.unit == "PC-HDV"
    assert first.source == "/interforces/crisis_cell/PC-HDV" == desk_source()
    assert first.id == again.id == derived_event_id(first.source, "k-1")
    assert other.id != first.id
    assert first.classification is Classification.INTERNAL
