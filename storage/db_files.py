"""Stored bytes in the database: the FileStore for several machines with no shared filesystem.

Each file is a run of 1 MiB chunks in `stored_file_chunks` (key, chunk, data), so
a download streams chunk by chunk instead of holding a 64 MB result in memory.
`put` replaces a key's chunks in one transaction: a reader sees the old bytes or
the new ones, never a mix. The table belongs to this store alone (it may live in
its own database, OPTBOX_FILE_STORE_URL), so the store creates it when it opens
rather than through the app's Alembic history.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import Integer, LargeBinary, MetaData, String, delete, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import CreateTable

from storage.db import Database
from storage.files import CHUNK


class _FileBase(DeclarativeBase):
    metadata = MetaData()


class StoredFileChunk(_FileBase):
    __tablename__ = "stored_file_chunks"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DatabaseFileStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    async def open(cls, url: str) -> DatabaseFileStore:
        db = Database(url)
        await _create_table(db)
        return cls(db)

    async def close(self) -> None:
        await self.db.dispose()

    async def put(self, key: str, data: bytes) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(delete(StoredFileChunk).where(StoredFileChunk.key == key))
            chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
            session.add_all(StoredFileChunk(key=key, chunk=n, data=part) for n, part in enumerate(chunks))

    async def get(self, key: str) -> bytes:
        return b"".join([part async for part in self.stream(key)])

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        async with self.db.session() as session:
            count = await session.scalar(select(func.count()).where(StoredFileChunk.key == key))
        if not count:
            raise FileNotFoundError(f"no stored file {key!r}")
        for n in range(count):  # one short query per chunk: no transaction held open while a client reads slowly
            async with self.db.session() as session:
                part = await session.scalar(select(StoredFileChunk.data).where(StoredFileChunk.key == key, StoredFileChunk.chunk == n))
            if part is None:
                raise FileNotFoundError(f"stored file {key!r} changed while it was read")
            yield part

    async def delete(self, key: str) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(delete(StoredFileChunk).where(StoredFileChunk.key == key))


async def _create_table(db: Database) -> None:
    """Create the chunk table if missing, in one `CREATE TABLE IF NOT EXISTS` (create_all looks, then creates:
    replicas opening together both looked and the second create failed, on SQLite too). On PostgreSQL
    two such statements may still race on its catalog; the loser finds the table on its second try."""
    for last_try in (False, True):
        try:
            async with db.engine.begin() as connection:
                await connection.execute(CreateTable(StoredFileChunk.__table__, if_not_exists=True))
            return
        except DBAPIError:
            if last_try:
                raise
