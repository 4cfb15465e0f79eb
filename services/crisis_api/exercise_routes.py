"""Exercise routes: the trainers reach a running exercise — its status, pause, resume, a
new speed, and live injects to the players. Trainers and the crisis cell only, exercises
only (an operation is always addressed in exercise mode: nothing here can reach a live
operation); every call is journaled like any other."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from contracts.ids import SUBJECT_TOKEN_PATTERN
from contracts.vocabulary import Mode
from services.crisis_api.access import Caller, require, require_mode
from services.crisis_api.auth import Principal, Role
from services.crisis_api.resources import resources
from simulations.exercise.clock import MAX_SPEED, MIN_SPEED
from simulations.exercise.control import (
    ControlReply,
    ControlRequest,
    InjectReceipt,
    LiveInject,
    RunStatus,
    control,
)
from simulations.exercise.errors import ControlError

router = APIRouter(prefix="/v1/exercises", tags=["exercises"])

#: An exercise operation id, as the run was given it.
Operation = Annotated[
    str, Path(pattern=SUBJECT_TOKEN_PATTERN, description="The run's exercise operation id.")
]
#: Who may steer an exercise.
_STEERING = (Role.TRAINER, Role.CRISIS_CELL)


class SpeedChange(BaseModel):
    """A new speed for a running exercise."""

    model_config = ConfigDict(extra="forbid")

    speed: float = Field(ge=MIN_SPEED, le=MAX_SPEED, description="×1 to ×100.")


class InjectSent(BaseModel):
    """A live inject as the running exercise proposed it, and where the exercise stands."""

    inject: InjectReceipt
    status: RunStatus


async def _ask(
    request: Request, caller: Principal, operation: str, ask: ControlRequest
) -> ControlReply:
    # The operation is noted first: a refused call is journaled with what it aimed at.
    require_mode(request, caller, Mode.EXERCISE, operation)
    require(caller, *_STEERING)
    try:
        reply = await control(resources(request).nats, operation, ask)
    except ControlError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    if not reply.ok:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=reply.error or "refused")
    return reply


def _status_of(reply: ControlReply) -> RunStatus:
    if reply.status is None:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail="the exercise gave no status")
    return reply.status


@router.get("/{operation}", summary="Where a running exercise stands")
async def exercise_status(request: Request, caller: Caller, operation: Operation) -> RunStatus:
    """Its scenario time, speed, pause, steps played and live injects sent."""
    return _status_of(await _ask(request, caller, operation, ControlRequest(action="status")))


@router.post("/{operation}/pause", summary="Pause a running exercise")
async def pause_exercise(request: Request, caller: Caller, operation: Operation) -> RunStatus:
    """Freeze its scenario time (nothing is sent until it resumes)."""
    return _status_of(await _ask(request, caller, operation, ControlRequest(action="pause")))


@router.post("/{operation}/resume", summary="Resume a paused exercise")
async def resume_exercise(request: Request, caller: Caller, operation: Operation) -> RunStatus:
    """Let its scenario time run again from where it was frozen."""
    return _status_of(await _ask(request, caller, operation, ControlRequest(action="resume")))


@router.post("/{operation}/speed", summary="Change the speed of a running exercise")
async def speed_exercise(
    request: Request, caller: Caller, operation: Operation, body: SpeedChange
) -> RunStatus:
    """Run at another speed from now on."""
    ask = ControlRequest(action="speed", speed=body.speed)
    return _status_of(await _ask(request, caller, operation, ask))


@router.post(
    "/{operation}/injects",
    status_code=status.HTTP_201_CREATED,
    summary="Send a live inject to the players",
)
async def live_inject(
    request: Request, caller: Caller, operation: Operation, body: LiveInject
) -> InjectSent:
    """Propose, as the direction d'exercice, a message to one agency's players at the
    exercise's scenario time now; it reaches them through the coordinator and their feed."""
    reply = await _ask(request, caller, operation, ControlRequest(action="inject", inject=body))
    if reply.inject is None:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail="the exercise gave no receipt")
    return InjectSent(inject=reply.inject, status=_status_of(reply))
