"""Oversight's routes: the consultation journal, paged and filtered, and its verification.
Reading the journal is itself journaled."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.crisis_api import journal
from services.crisis_api.access import Caller, Motive, consultation, require
from services.crisis_api.auth import Role
from services.crisis_api.resources import resources

router = APIRouter(prefix="/v1/journal", tags=["journal"])


@router.get("", summary="Consultations of the timeline")
async def read_journal(  # noqa: PLR0917 - one argument per filter
    request: Request,
    caller: Caller,
    motive: Motive,
    since: datetime | None = None,
    until: datetime | None = None,
    who: str | None = None,
    role: str | None = None,
    operation: str | None = None,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=journal.MAX_PAGE)] = 100,
) -> dict[str, Any]:
    """Who consulted what, when and why, in journal order (oversight only)."""
    require(caller, Role.OVERSIGHT)
    async with resources(request).pool.acquire() as conn:
        page = await journal.read(
            conn,
            since=since,
            until=until,
            who=who,
            role=role,
            operation=operation,
            limit=limit,
            after_seq=after_seq,
        )
    consultation(request).result_count = len(page.records)
    return {
        "records": [r.as_dict() for r in page.records],
        "next_after_seq": page.next_after_seq,
    }


@router.get("/verification", summary="Verify the journal's hash chain")
async def verify_journal(request: Request, caller: Caller) -> dict[str, Any]:
    """Recompute the chain: rows, head, and the first break if any (oversight only)."""
    require(caller, Role.OVERSIGHT)
    async with resources(request).pool.acquire() as conn:
        verdict = await journal.verify(conn)
    consultation(request).result_count = verdict.rows
    return verdict.as_dict()
