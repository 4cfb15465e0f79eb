"""Fresh PostgreSQL databases for tests, created and dropped on a test server (the same
helpers the fault scenarios use)."""

from __future__ import annotations

from simulations.chaos.servers import create_database as _create_database
from simulations.chaos.servers import drop_database

__all__ = ["create_database", "drop_database"]


async def create_database(postgres_url: str) -> str:
    """Create a fresh, empty database on the server; its URL."""
    return await _create_database(postgres_url, prefix="ifc_test")
