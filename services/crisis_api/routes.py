"""The read routes: operations, the situation at an instant, the timeline, rejections,
aggregates and the debrief. Each checks the caller's role and notes what it consulted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse

from contracts.charter.model import Charter
from contracts.vocabulary import Mode
from services.crisis_api import reads
from services.crisis_api.access import Caller, Motive, consultation, require, require_mode
from services.crisis_api.auth import Role
from services.crisis_api.debrief import Debrief, build_debrief, debrief_html
from services.crisis_api.instants import DEFAULT_TIMEZONE, resolve_instant
from services.crisis_api.resources import Resources, resources
from services.crisis_api.situation import Basis, feature_collection, situation_of

router = APIRouter(prefix="/v1")

Operation = Annotated[str, "operation id"]
Limit = Annotated[int, Query(ge=1, le=5000, description="Largest page wanted.")]


def _counted(request: Request, count: int) -> None:
    consultation(request).result_count = count


@router.get("/operations", summary="Operations the caller may see")
async def list_operations(request: Request, caller: Caller) -> list[reads.OperationSummary]:
    """Every operation with records, with its span and whether its charter is known."""
    res = resources(request)
    async with res.pool.acquire() as conn:
        found = await reads.operations(conn, caller, frozenset(res.charters))
    _counted(request, len(found))
    return found


def _charter(res: Resources, operation: str) -> Charter | None:
    return res.charters.get(operation)


async def _instant(res: Resources, mode: Mode, operation: str, text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    async with res.pool.acquire() as conn:
        first = await reads.first_occurred_at(conn, mode, operation)
    charter = _charter(res, operation)
    reference = first or (charter.operation.window.start if charter else datetime.now(UTC))
    timezone = charter.operation.timezone if charter else DEFAULT_TIMEZONE
    try:
        return resolve_instant(text, reference, timezone)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc


@router.get("/operations/{mode}/{operation}/situation", summary="The situation at an instant")
async def situation(  # noqa: PLR0917 - one argument per parameter
    request: Request,
    caller: Caller,
    motive: Motive,
    mode: Mode,
    operation: Operation,
    at: Annotated[
        str | None, Query(description="ISO 8601 instant or HH:MM (operation's local time).")
    ] = None,
    basis: Annotated[Basis, Query(description="Clock `at` reads.")] = Basis.OCCURRED,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: sectors, units, open incidents with their assignments,
    security perimeters and drone flights under way, as the caller may see them."""
    require(caller, Role.CRISIS_CELL, Role.AGENCY, Role.TRAINER)
    require_mode(request, caller, mode, operation)
    res = resources(request)
    instant = await _instant(res, mode, operation, at)
    async with res.pool.acquire() as conn:
        records = await reads.records_until(
            conn, caller, mode=mode, operation=operation, at=instant, basis=basis
        )
    charter = _charter(res, operation)
    picture = situation_of(records, mode=mode, operation=operation, at=instant, basis=basis)
    collection = feature_collection(picture, charter.sectors if charter else ())
    _counted(request, len(collection["features"]))
    return collection


@router.get("/operations/{mode}/{operation}/timeline", summary="Timeline entries")
async def timeline(  # noqa: PLR0917 - one argument per filter
    request: Request,
    caller: Caller,
    motive: Motive,
    mode: Mode,
    operation: Operation,
    since: datetime | None = None,
    until: datetime | None = None,
    agency: str | None = None,
    sector: str | None = None,
    type: Annotated[str | None, Query(description="Event type, with or without prefix.")] = None,
    text: Annotated[str | None, Query(max_length=200)] = None,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Limit = 100,
) -> reads.TimelinePage:
    """Entries in sequence order with occurrence and recorded times, each with its
    corrections; continue with `after_seq=next_after_seq`."""
    require(caller, Role.CRISIS_CELL, Role.AGENCY, Role.TRAINER)
    require_mode(request, caller, mode, operation)
    res = resources(request)
    query = reads.TimelineQuery(
        mode=mode,
        operation=operation,
        since=since,
        until=until,
        agency=agency,
        sector=sector,
        type=type,
        text=text,
        after_seq=after_seq,
        limit=min(limit, res.settings.api_page_max),
    )
    async with res.pool.acquire() as conn:
        page = await reads.timeline_page(conn, caller, query)
    _counted(request, len(page.entries))
    return page


@router.get("/operations/{mode}/{operation}/rejections", summary="Refused proposals")
async def rejections(  # noqa: PLR0917
    request: Request,
    caller: Caller,
    motive: Motive,
    mode: Mode,
    operation: Operation,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Limit = 100,
) -> list[reads.RejectionEntry]:
    """Refusals with every reason (an agency sees its own)."""
    require(caller, Role.CRISIS_CELL, Role.AGENCY, Role.TRAINER)
    require_mode(request, caller, mode, operation)
    res = resources(request)
    async with res.pool.acquire() as conn:
        found = await reads.rejections(
            conn,
            caller,
            mode=mode,
            operation=operation,
            after_seq=after_seq,
            limit=min(limit, res.settings.api_page_max),
        )
    _counted(request, len(found))
    return found


async def _debrief(request: Request, caller: Caller, mode: Mode, operation: str) -> Debrief:
    require(caller, Role.CRISIS_CELL, Role.TRAINER)
    require_mode(request, caller, mode, operation)
    async with resources(request).pool.acquire() as conn:
        debrief = await build_debrief(conn, mode, operation)
    if debrief.records == 0:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no records for this operation")
    _counted(request, len(debrief.incidents))
    return debrief


@router.get("/operations/{mode}/{operation}/debrief", summary="Debrief (JSON)")
async def debrief_json(
    request: Request, caller: Caller, motive: Motive, mode: Mode, operation: Operation
) -> Debrief:
    """Incidents with their handling delays, the crisis cell's decisions, the refusals."""
    return await _debrief(request, caller, mode, operation)


@router.get(
    "/operations/{mode}/{operation}/debrief.html",
    summary="Debrief (HTML)",
    response_class=HTMLResponse,
)
async def debrief_page(
    request: Request, caller: Caller, motive: Motive, mode: Mode, operation: Operation
) -> HTMLResponse:
    """The debrief as a readable page."""
    return HTMLResponse(debrief_html(await _debrief(request, caller, mode, operation)))


@router.get("/operations/{mode}/{operation}/aggregates", summary="Aggregate counts")
async def aggregates(
    request: Request, caller: Caller, mode: Mode, operation: Operation
) -> dict[str, Any]:
    """Counts only (records by type, refusals by reason, incidents by status): what
    oversight may read of an operation."""
    require(caller, Role.CRISIS_CELL, Role.TRAINER, Role.OVERSIGHT)
    consultation(request).mode, consultation(request).operation = mode, operation
    if caller.role is Role.TRAINER and mode is not Mode.EXERCISE:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="trainers read exercises only")
    async with resources(request).pool.acquire() as conn:
        found = await reads.aggregates(conn, mode=mode, operation=operation)
    _counted(request, 1)
    return found
