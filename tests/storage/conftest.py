"""Databases for storage tests: SQLite, and PostgreSQL when one is reachable (skipped otherwise)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from storage.db import Database, migrate
from tests.parallel import postgres_in_use

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _postgres_url() -> str | None:
    name = f"optbox_test_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request, tmp_path):
    if request.param == "postgresql":
        with postgres_in_use():  # the other test worker may be about to restart it (tests/parallel.py)
            async for database in _database(request, tmp_path):
                yield database
    else:
        async for database in _database(request, tmp_path):
            yield database


async def _database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'optbox.db'}"
    else:
        url = await _postgres_url()
        if url is None:
            pytest.fail("no PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres): the storage tests run on it too")
    await asyncio.to_thread(migrate, url)
    database = Database(url)
    yield database
    await database.dispose()
    if request.param == "postgresql":
        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
        await conn.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}"')
        await conn.close()
