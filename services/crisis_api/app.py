"""The crisis-cell API as a FastAPI application.

Every request under `/v1` is journaled once it is answered and before the answer leaves:
if the journal cannot take the entry, the caller gets 503 instead of the data."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import nats
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from nats.aio.msg import Msg

from contracts.charter.loader import load_charter
from contracts.charter.model import Charter
from services.crisis_api import journal
from services.crisis_api.access import consultation
from services.crisis_api.auth import TokenRegistry
from services.crisis_api.exercise_routes import router as exercise_router
from services.crisis_api.hierarchy_routes import router as hierarchy_router
from services.crisis_api.journal_routes import router as journal_router
from services.crisis_api.replay import ReplayManager
from services.crisis_api.replay_routes import router as replay_router
from services.crisis_api.resources import Resources
from services.crisis_api.routes import router
from services.crisis_api.settings import CrisisApiSettings
from services.runtime.broker import nats_options
from services.runtime.health import Health, health_subject
from services.timeline.migrations import migrate

SERVICE = "crisis-api"
log = structlog.get_logger(SERVICE)


def load_charters(settings: CrisisApiSettings) -> dict[str, Charter]:
    """Every configured charter by operation id."""
    return {c.operation.id: c for c in map(load_charter, settings.charter_files())}


async def _open(settings: CrisisApiSettings, registry: TokenRegistry) -> Resources:
    url = settings.database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set: the crisis-cell API reads the timeline")
    setup = await asyncpg.connect(url)
    try:
        await migrate(setup)
    finally:
        await setup.close()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=8, init=journal.assume_api_role)
    nc = await nats.connect(settings.nats_url, name=SERVICE, **nats_options(settings))
    return Resources(
        settings=settings,
        pool=pool,
        nats=nc,
        registry=registry,
        charters=load_charters(settings),
        replays=ReplayManager(nc, pool, max_running=settings.api_max_replays),
    )


async def _answer_health(res: Resources) -> None:
    """Answer `ifc.health.crisis-api` like every other service (the stack's probe)."""
    started, clock = datetime.now(UTC), time.monotonic()

    async def answer(msg: Msg) -> None:
        health = Health(
            service=SERVICE,
            pid=os.getpid(),
            started_at=started,
            uptime_s=round(time.monotonic() - clock, 3),
            details={"replays_running": res.replays.running_count()},
        )
        await msg.respond(health.model_dump_json().encode())

    await res.nats.subscribe(health_subject(SERVICE), cb=answer)


async def _close(res: Resources) -> None:
    await res.replays.aclose()
    await res.nats.drain()
    await res.pool.close()


def create_app(settings: CrisisApiSettings, registry: TokenRegistry | None = None) -> FastAPI:
    """The API; it opens its database pool and NATS connection when it starts."""
    callers = registry or TokenRegistry.from_file(settings.tokens_path())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        res = await _open(settings, callers)
        app.state.resources = res
        await _answer_health(res)
        log.info("api_started", charters=sorted(res.charters))
        try:
            yield
        finally:
            await _close(res)

    app = FastAPI(
        title="Interforces crisis-cell API",
        version="1",
        summary="The situation at any instant, the timeline, replays, debriefs, the journal.",
        description=(
            "Every call needs a bearer token bound to a role (crisis_cell, agency, trainer, "
            "oversight). Queries that can return personal data need a stated motive in the "
            "`X-Motive` header (percent-encoded UTF-8). Every call is journaled."
        ),
        lifespan=lifespan,
    )
    app.state.registry = callers
    app.include_router(router)
    app.include_router(replay_router)
    app.include_router(journal_router)
    app.include_router(hierarchy_router)
    app.include_router(exercise_router)
    app.middleware("http")(_journaled)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _journaled(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    if not request.url.path.startswith("/v1/"):
        return await call_next(request)
    response = await call_next(request)
    record = consultation(request)
    principal = record.principal
    route = request.scope.get("route")
    entry = journal.JournalEntry(
        who=principal.name if principal else "anonymous",
        role=principal.role.value if principal else "anonymous",
        agency=principal.agency.value if principal and principal.agency else None,
        mode=record.mode.value if record.mode else None,
        operation=record.operation,
        action=f"{request.method} {getattr(route, 'path', request.url.path)}",
        request=_request_of(request),
        motive=record.motive,
        status=response.status_code,
        result_count=record.result_count,
    )
    res = getattr(request.app.state, "resources", None)
    try:
        if not isinstance(res, Resources):
            raise RuntimeError("not started")
        async with res.pool.acquire() as conn:
            await journal.append(conn, entry)
    except Exception:
        log.exception("journal_unavailable", action=entry.action)
        return JSONResponse(
            {"detail": "journal_unavailable: the consultation could not be journaled"},
            status_code=503,
        )
    return response


def _request_of(request: Request) -> dict[str, Any]:
    """Path and query parameters as text the journal can hold (no NUL)."""

    def clean(value: object) -> str:
        return str(value).replace("\x00", "\ufffd")

    return {
        "path": {clean(k): clean(v) for k, v in request.path_params.items()},
        "query": {
            clean(k): [clean(v) for v in request.query_params.getlist(k)]
            for k in sorted(request.query_params)
        },
    }
