"""The trainers' remote control: each request gets an answer, a bad one its reason, never
an exception; it only ever addresses exercise subjects."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contracts.errors import SubjectError
from contracts.vocabulary import Agency
from simulations.exercise.control import (
    ControlReply,
    ControlRequest,
    ControlResponder,
    InjectReceipt,
    LiveInject,
    RunStatus,
    control_subject,
)
from simulations.exercise.errors import ControlError

pytestmark = pytest.mark.unit

NOW = datetime(2026, 7, 4, 20, 30, tzinfo=UTC)


class FakeRun:
    """A running exercise that records what it is told."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.paused = False
        self.speed = 50.0
        self.fail_inject = False

    def status(self) -> RunStatus:
        return RunStatus(
            operation="court-s7-abc123",
            scenario="court",
            clock=NOW,
            end=NOW,
            speed=self.speed,
            paused=self.paused,
            done=3,
            total=10,
            live_injects=0,
        )

    def pause(self) -> None:
        self.calls.append("pause")
        self.paused = True

    def resume(self) -> None:
        self.calls.append("resume")
        self.paused = False

    def set_speed(self, speed: float) -> None:
        self.calls.append(f"speed {speed:g}")
        self.speed = speed

    async def inject(self, live: LiveInject) -> InjectReceipt:
        self.calls.append(f"inject {live.target.value}")
        if self.fail_inject:
            raise ControlError("the exercise is over")
        return InjectReceipt(inject="LIVE-01", at=NOW, event_id="e-1")


async def _ask(run: FakeRun, request: object) -> ControlReply:
    # The responder's handler works on bytes: no server is needed to test it.
    responder = ControlResponder(None, "court-s7-abc123", run)  # type: ignore[arg-type]
    raw = request if isinstance(request, bytes) else json.dumps(request).encode()
    return await responder.handle(raw)


async def test_each_order_reaches_the_run_and_the_answer_says_where_it_stands() -> None:
    run = FakeRun()
    paused = await _ask(run, {"action": "pause"})
    assert paused.ok
    assert paused.status is not None
    assert paused.status.paused
    faster = await _ask(run, {"action": "speed", "speed": 100})
    assert faster.status is not None
    assert faster.status.speed == 100
    await _ask(run, {"action": "resume"})
    live = {"target": "crisis_cell", "message": "Appel d'un riverain"}
    injected = await _ask(run, {"action": "inject", "inject": live})
    assert injected.inject == InjectReceipt(inject="LIVE-01", at=NOW, event_id="e-1")
    assert run.calls == ["pause", "speed 100", "resume", "inject crisis_cell"]


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (b"\xff not json", "invalid request"),
        ({"action": "explode"}, "invalid request: action"),
        ({"action": "speed", "speed": 500}, "invalid request: speed"),
        ({"action": "speed"}, "speed: say which"),
        ({"action": "inject"}, "inject: say what"),
        ({"action": "inject", "inject": {"target": "nobody", "message": "x"}}, "invalid"),
    ],
)
async def test_a_bad_request_gets_its_reason(request_: object, error: str) -> None:
    run = FakeRun()
    reply = await _ask(run, request_)
    assert not reply.ok
    assert reply.error is not None
    assert reply.error.startswith(error)
    assert run.calls == []


async def test_a_refused_inject_says_why() -> None:
    run = FakeRun()
    run.fail_inject = True
    request = ControlRequest(
        action="inject", inject=LiveInject(target=Agency.MEDIATION, message="x")
    )
    reply = await _ask(run, json.loads(request.model_dump_json()))
    assert not reply.ok
    assert reply.error == "the exercise is over"


def test_the_control_subject_lies_under_the_exercise_prefix_only() -> None:
    assert control_subject("court-s7-abc123") == "ifc.exercise.court-s7-abc123.control"
    with pytest.raises(SubjectError):
        control_subject("live.*")
