"""The database file store: the same contract as the local one, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from storage.db_files import DatabaseFileStore
from storage.files import CHUNK, LocalFileStore
from tests.parallel import postgres_in_use

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
async def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'files.db'}"
        return
    with postgres_in_use():  # the other test worker may be about to restart it (tests/parallel.py)
        name = f"optbox_files_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)  # PostgreSQL is a machine service here and in CI
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()


async def test_bytes_come_back_whole_and_stream_in_chunks(url):
    store = await DatabaseFileStore.open(url)
    try:
        data = bytes(range(256)) * (CHUNK * 5 // 2 // 256)  # two and a half chunks
        await store.put("runs/j1/result/abc", data)
        assert await store.get("runs/j1/result/abc") == data
        parts = [part async for part in store.stream("runs/j1/result/abc")]
        assert [len(p) for p in parts] == [CHUNK, CHUNK, CHUNK // 2] and b"".join(parts) == data
        await store.put("empty", b"")
        assert await store.get("empty") == b""
    finally:
        await store.close()


async def test_replacing_a_key_leaves_none_of_the_old_bytes(url):
    store = await DatabaseFileStore.open(url)
    try:
        await store.put("k", b"x" * (CHUNK * 2 + 1))
        await store.put("k", b"short")
        assert await store.get("k") == b"short"
        assert [part async for part in store.stream("k")] == [b"short"]
    finally:
        await store.close()


async def test_a_deleted_or_unknown_key_is_not_found(url):
    store = await DatabaseFileStore.open(url)
    try:
        await store.put("gone", b"bytes")
        await store.delete("gone")
        await store.delete("never-there")  # deleting twice is fine, as on the local store
        with pytest.raises(FileNotFoundError):
            await store.get("gone")
    finally:
        await store.close()


async def test_replicas_opening_together_share_one_table(url):
    first, second = await asyncio.gather(DatabaseFileStore.open(url), DatabaseFileStore.open(url))
    try:
        await first.put("shared", b"written by one replica")
        assert await second.get("shared") == b"written by one replica"
    finally:
        await first.close()
        await second.close()


async def test_the_local_store_refuses_keys_that_escape_it(tmp_path):
    store = LocalFileStore(tmp_path / "files")
    with pytest.raises(ValueError):
        await store.put("../outside", b"x")
