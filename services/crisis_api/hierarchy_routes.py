"""The hierarchy's route: identity checks by officer, place and motive (doctrine point 5).

Officers' numbers are personal data: a stated motive is required, and the call is journaled
like every other. The crisis cell sees every force's checks, a force its own, a trainer an
exercise's; oversight reads the journal and aggregates, not this.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from contracts.vocabulary import Mode
from services.crisis_api.access import Caller, Motive, consultation, require, require_mode
from services.crisis_api.auth import Role
from services.crisis_api.hierarchy import HierarchyView, read_hierarchy
from services.crisis_api.resources import resources

router = APIRouter(prefix="/v1")

#: Where the view is served, under the router's prefix.
PATH = "/operations/{mode}/{operation}/identity-checks"


@router.get(PATH, summary="Identity checks by officer, place and motive")
async def identity_checks(
    request: Request,
    caller: Caller,
    motive: Motive,
    mode: Mode,
    operation: Annotated[str, "operation id"],
) -> HierarchyView:
    """Who checked, where and why, with counts — never who was checked (the records the
    forces keep hold no identity)."""
    require(caller, Role.CRISIS_CELL, Role.AGENCY, Role.TRAINER)
    require_mode(request, caller, mode, operation)
    async with resources(request).pool.acquire() as conn:
        view = await read_hierarchy(conn, caller, mode=mode, operation=operation)
    consultation(request).result_count = view.total
    return view
