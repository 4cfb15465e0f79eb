"""Fresh PostgreSQL databases for tests, created and dropped on a test server."""

from __future__ import annotations

import uuid

import asyncpg


def _with_database(url: str, database: str) -> str:
    base, _, query = url.partition("?")
    root = base.rsplit("/", 1)[0]
    return f"{root}/{database}" + (f"?{query}" if query else "")


async def create_database(postgres_url: str) -> str:
    """Create a fresh, empty database on the server; its URL."""
    name = f"ifc_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return _with_database(postgres_url, name)


async def drop_database(postgres_url: str, url: str) -> None:
    """Drop a database `create_database` made."""
    name = url.partition("?")[0].rsplit("/", 1)[1]
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
