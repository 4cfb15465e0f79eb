"""The trainers' remote control of a running exercise, over NATS request/reply.

A running exercise answers on `ifc.exercise.<operation>.control` (core NATS: no stream
captures it, and it lies under the exercise prefix that the trainers' credentials, and
only they, may use): its status, pause, resume, a new speed, and live injects — a message
to the players, stamped with the scenario time it arrives at and proposed by the
direction d'exercice like any scripted inject. The command line and the crisis-cell API
both speak it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts import subjects
from contracts.geo import GeoPoint
from contracts.ids import SUBJECT_TOKEN_PATTERN
from contracts.text import FreeText
from contracts.vocabulary import Agency
from simulations.exercise.clock import MAX_SPEED, MIN_SPEED
from simulations.exercise.errors import ControlError

_FROZEN = ConfigDict(frozen=True, extra="forbid")
#: How long a control request waits for the running exercise.
CONTROL_TIMEOUT_S = 5.0


def control_subject(operation: str) -> str:
    """Where a running exercise answers its trainers (exercise mode only)."""
    return subjects.exercise_control(operation)


class LiveInject(BaseModel):
    """A trainer's live inject: a message the players of one agency receive."""

    model_config = _FROZEN

    target: Agency = Field(description="Agency whose players receive it.")
    message: FreeText = Field(min_length=1, description="What the players are told.")
    position: GeoPoint | None = Field(default=None, description="Where it happens, if anywhere.")


class ControlRequest(BaseModel):
    """What the trainers ask of a running exercise."""

    model_config = _FROZEN

    action: Literal["status", "pause", "resume", "speed", "inject"]
    speed: float | None = Field(default=None, ge=MIN_SPEED, le=MAX_SPEED)
    inject: LiveInject | None = None


class RunStatus(BaseModel):
    """Where a running exercise stands."""

    model_config = _FROZEN

    operation: str = Field(pattern=SUBJECT_TOKEN_PATTERN)
    scenario: str
    clock: datetime = Field(description="Scenario time now.")
    end: datetime = Field(description="When the scenario ends.")
    speed: float
    paused: bool
    done: int = Field(description="Steps answered so far.")
    total: int = Field(description="Steps of the plan.")
    live_injects: int = Field(description="Live injects sent by the trainers.")


class InjectReceipt(BaseModel):
    """A live inject as proposed: its id in the scenario, its time, its event id."""

    model_config = _FROZEN

    inject: str
    at: datetime
    event_id: str


class ControlReply(BaseModel):
    """The running exercise's answer."""

    model_config = _FROZEN

    ok: bool
    error: str | None = None
    status: RunStatus | None = None
    inject: InjectReceipt | None = None


class Controlled(Protocol):
    """What a running exercise lets its trainers do."""

    def status(self) -> RunStatus:
        """Where it stands."""
        ...

    def pause(self) -> None:
        """Freeze scenario time."""
        ...

    def resume(self) -> None:
        """Let scenario time run again."""
        ...

    def set_speed(self, speed: float) -> None:
        """Run at another speed."""
        ...

    async def inject(self, live: LiveInject) -> InjectReceipt:
        """Send a live inject now."""
        ...


class ControlResponder:
    """Answers control requests for one running exercise."""

    def __init__(self, nc: Client, operation: str, target: Controlled) -> None:
        self.nc = nc
        self.subject = control_subject(operation)
        self.target = target
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        """Subscribe (and make sure the server knows before anyone asks)."""
        self._subscription = await self.nc.subscribe(self.subject, cb=self._answer)
        await self.nc.flush()

    async def stop(self) -> None:
        """Stop answering."""
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _answer(self, msg: Msg) -> None:
        reply = await self.handle(msg.data)
        if msg.reply:
            await msg.respond(reply.model_dump_json().encode())

    async def handle(self, raw: bytes) -> ControlReply:
        """One request, answered (a bad one gets its reason, never an exception)."""
        try:
            request = ControlRequest.model_validate_json(raw)
        except ValidationError as exc:
            return ControlReply(ok=False, error=f"invalid request: {_first(exc)}")
        target = self.target
        try:
            match request.action:
                case "pause":
                    target.pause()
                case "resume":
                    target.resume()
                case "speed":
                    if request.speed is None:
                        return ControlReply(ok=False, error="speed: say which")
                    target.set_speed(request.speed)
                case "inject":
                    if request.inject is None:
                        return ControlReply(ok=False, error="inject: say what")
                    receipt = await target.inject(request.inject)
                    return ControlReply(ok=True, status=target.status(), inject=receipt)
                case "status":
                    pass
        except (ValueError, ControlError) as exc:
            return ControlReply(ok=False, error=str(exc), status=target.status())
        return ControlReply(ok=True, status=target.status())


def _first(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"


async def control(
    nc: Client, operation: str, request: ControlRequest, *, timeout_s: float = CONTROL_TIMEOUT_S
) -> ControlReply:
    """Ask the exercise running under `operation`; raise `ControlError` when none answers
    (or its answer is unreadable)."""
    try:
        msg = await nc.request(
            control_subject(operation), request.model_dump_json().encode(), timeout=timeout_s
        )
    except (NoRespondersError, NatsTimeoutError) as exc:
        raise ControlError(f"no exercise {operation} is running") from exc
    try:
        return ControlReply.model_validate_json(msg.data)
    except ValidationError as exc:
        raise ControlError(f"unreadable answer from {operation}: {_first(exc)}") from exc
