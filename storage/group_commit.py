"""Writes from many concurrent callers, made in one transaction (group commit).

`GroupCommit.add(*items)` returns once the items are committed: by default they are new rows to
insert; `write` makes them anything a batch can write at once (an executemany UPDATE, say).
Items added while a batch is being written go into the next one (`optbox.batching`), so a burst of twenty executes
costs two or three transactions, not twenty: on SQLite each transaction takes the one write lock
across several round trips to its connection thread, and under load those, not the inserts,
were what requests waited for.

Contract: a caller's items are committed together or not at all; a batch that fails is written
again caller by caller, so one caller's bad item fails only that caller. Rows come back
detached with their loaded attributes (ids included).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from optbox.batching import Batches
from storage.db import Database

Write = Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]


async def insert_rows(session: AsyncSession, rows: Sequence[Any]) -> None:
    session.add_all(rows)


class GroupCommit:
    def __init__(self, db: Database, write: Write = insert_rows) -> None:
        self.db = db
        self.write = write
        self._batches: Batches[Sequence[Any], None] = Batches(self._commit_batch, name="group-commit")

    async def add(self, *items: Any) -> None:
        """Write `items`; return when they are committed, or raise why they were not."""
        await self._batches.submit(items)

    async def _commit_batch(self, batch: list[Sequence[Any]]) -> list[Exception | None]:
        try:
            await self._commit([item for items in batch for item in items])
        except Exception:  # noqa: BLE001 - someone's rows spoil the batch: find whose, fail only them
            return [await self._commit_alone(items) for items in batch]
        return [None] * len(batch)

    async def _commit_alone(self, items: Sequence[Any]) -> Exception | None:
        try:
            await self._commit(items)
        except Exception as exc:  # noqa: BLE001 - handed to the caller it belongs to
            return exc
        return None

    async def _commit(self, items: Sequence[Any]) -> None:
        async with self.db.session() as session:
            await self.write(session, items)
            await session.commit()
