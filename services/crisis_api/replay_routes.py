"""Replay routes: create a replay of an operation's window at a speed, then pause, resume,
seek, change speed, stop, and read its status. A replay republishes on its own subject
(`ifc.replay.<id>.>`), which no live consumer reads; each caller replays what it may see
and controls only its own replays (the crisis cell controls all)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Envelope
from contracts.vocabulary import Mode
from services.crisis_api.access import Caller, Motive, consultation, require, require_mode
from services.crisis_api.auth import Principal, Role
from services.crisis_api.replay import (
    InvalidReplayError,
    ReplayError,
    ReplayLimitError,
    ReplayManager,
    ReplayNotFoundError,
    ReplayStatus,
    View,
)
from services.crisis_api.resources import resources
from services.crisis_api.views import visible
from services.timeline.domain import TimelineRecord

router = APIRouter(prefix="/v1/replays", tags=["replays"])


class ReplayRequest(BaseModel):
    """A window of an operation to replay, and how fast."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode
    operation: str = Field(min_length=1, max_length=63)
    start: datetime = Field(description="Window start (occurrence time, inclusive).")
    end: datetime = Field(description="Window end (exclusive).")
    speed: float = Field(ge=0.5, le=100, description="×0.5 to ×100.")


class SeekRequest(BaseModel):
    """Where to jump to."""

    model_config = ConfigDict(extra="forbid")

    at: datetime


class SpeedRequest(BaseModel):
    """A new speed."""

    model_config = ConfigDict(extra="forbid")

    speed: float = Field(ge=0.5, le=100)


def _owner(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.name}"


def _view(principal: Principal) -> View:
    def view(record: TimelineRecord) -> Envelope | None:
        shown = visible(principal, record)
        return shown.envelope if shown is not None else None

    return view


def _error(exc: Exception) -> HTTPException:
    if isinstance(exc, ReplayNotFoundError):
        return HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc))
    if isinstance(exc, ReplayLimitError):
        return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail=str(exc))
    if isinstance(exc, InvalidReplayError):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, detail=str(exc))


def _controlled(request: Request, caller: Principal, replay_id: str) -> ReplayStatus:
    """The replay's status, when the caller may control it (404 otherwise: no probing)."""
    require(caller, Role.CRISIS_CELL, Role.AGENCY, Role.TRAINER)
    try:
        found = resources(request).replays.get(replay_id)
    except ReplayNotFoundError as exc:
        raise _error(exc) from exc
    if caller.role is not Role.CRISIS_CELL and found.owner != _owner(caller):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no replay {replay_id}")
    record = consultation(request)
    record.mode, record.operation = found.mode, found.operation
    return found


@router.post("", status_code=status.HTTP_201_CREATED, summary="Start a replay")
async def create_replay(
    request: Request, caller: Caller, motive: Motive, body: ReplayRequest
) -> ReplayStatus:
    """Load the window as the caller may see it and start republishing it, keeping the
    records' relative timing divided by the speed; subscribe to `subject` to follow it."""
    require(caller, Role.CRISIS_CELL, Role.AGENCY, Role.TRAINER)
    require_mode(request, caller, body.mode, body.operation)
    try:
        session = await resources(request).replays.create(
            mode=body.mode,
            operation=body.operation,
            start=body.start,
            end=body.end,
            speed=body.speed,
            owner=_owner(caller),
            view=_view(caller),
        )
    except ReplayError as exc:
        raise _error(exc) from exc
    found = session.status()
    consultation(request).result_count = found.total
    return found


@router.get("", summary="Replays the caller may control")
async def list_replays(request: Request, caller: Caller) -> list[ReplayStatus]:
    """Running and recently ended replays (the crisis cell sees all)."""
    require(caller, Role.CRISIS_CELL, Role.AGENCY, Role.TRAINER)
    owner = None if caller.role is Role.CRISIS_CELL else _owner(caller)
    found = resources(request).replays.list(owner)
    consultation(request).result_count = len(found)
    return found


@router.get("/{replay_id}", summary="A replay's status")
async def replay_status(request: Request, caller: Caller, replay_id: str) -> ReplayStatus:
    """State, position, items sent, measured timing skew."""
    return _controlled(request, caller, replay_id)


def _control(
    request: Request,
    caller: Principal,
    replay_id: str,
    act: Callable[[ReplayManager], ReplayStatus],
) -> ReplayStatus:
    """Apply `act` to a replay the caller controls; replay errors as HTTP statuses."""
    _controlled(request, caller, replay_id)
    try:
        return act(resources(request).replays)
    except ReplayError as exc:
        raise _error(exc) from exc


@router.post("/{replay_id}/pause", summary="Pause a replay")
async def pause_replay(request: Request, caller: Caller, replay_id: str) -> ReplayStatus:
    """Hold the replay where it is."""
    return _control(request, caller, replay_id, lambda r: r.pause(replay_id))


@router.post("/{replay_id}/resume", summary="Resume a replay")
async def resume_replay(request: Request, caller: Caller, replay_id: str) -> ReplayStatus:
    """Go on from where it was paused, without a burst."""
    return _control(request, caller, replay_id, lambda r: r.resume(replay_id))


@router.post("/{replay_id}/seek", summary="Jump to an instant")
async def seek_replay(
    request: Request, caller: Caller, replay_id: str, body: SeekRequest
) -> ReplayStatus:
    """Continue from the first record at or after `at`."""
    return _control(request, caller, replay_id, lambda r: r.seek(replay_id, body.at))


@router.post("/{replay_id}/speed", summary="Change the speed")
async def speed_replay(
    request: Request, caller: Caller, replay_id: str, body: SpeedRequest
) -> ReplayStatus:
    """Go on at another speed from the current position."""
    return _control(request, caller, replay_id, lambda r: r.set_speed(replay_id, body.speed))


@router.post("/{replay_id}/stop", summary="Stop a replay")
async def stop_replay(request: Request, caller: Caller, replay_id: str) -> ReplayStatus:
    """End the replay for good."""
    _controlled(request, caller, replay_id)
    try:
        return await resources(request).replays.stop(replay_id)
    except ReplayError as exc:
        raise _error(exc) from exc
