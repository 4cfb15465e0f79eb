"""What the API's routes share while it runs: settings, the database pool, the NATS
connection, the callers, the charters and the replay sessions."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from fastapi import Request
from nats.aio.client import Client

from contracts.charter.model import Charter
from services.crisis_api.auth import TokenRegistry
from services.crisis_api.replay import ReplayManager
from services.crisis_api.settings import CrisisApiSettings


@dataclass(slots=True)
class Resources:
    """The running API's shared parts."""

    settings: CrisisApiSettings
    pool: asyncpg.Pool[asyncpg.Record]
    nats: Client
    registry: TokenRegistry
    charters: dict[str, Charter]
    replays: ReplayManager


def resources(request: Request) -> Resources:
    """The running API's shared parts (set by the app's lifespan)."""
    found = getattr(request.app.state, "resources", None)
    if not isinstance(found, Resources):
        raise RuntimeError("the crisis-cell API is not started")
    return found
