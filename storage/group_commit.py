"""Writes from many concurrent callers, made in one transaction (group commit).

`GroupCommit.add(*items)` returns once the items are committed: by default they are new rows to
insert; `write` makes them anything a batch can write at once (an executemany UPDATE, say).
Items added while a batch is being written go into the next one, so a burst of twenty executes
costs two or three transactions, not twenty: on SQLite each transaction takes the one write lock
across several round trips to its connection thread, and under load those, not the inserts,
were what requests waited for.

Contract: a caller's items are committed together or not at all; a batch that fails is written
again caller by caller, so one caller's bad item fails only that caller. Rows come back
detached with their loaded attributes (ids included).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database

Write = Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]


async def insert_rows(session: AsyncSession, rows: Sequence[Any]) -> None:
    session.add_all(rows)


class GroupCommit:
    def __init__(self, db: Database, write: Write = insert_rows) -> None:
        self.db = db
        self.write = write
        self._waiting: list[tuple[Sequence[Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, *items: Any) -> None:
        """Write `items`; return when they are committed, or raise why they were not."""
        committed = asyncio.get_running_loop().create_future()
        self._waiting.append((items, committed))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_waiting(), name="group-commit")
        await committed

    async def _write_while_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._commit([item for items, _ in batch for item in items])
                outcomes = [None] * len(batch)
            except Exception:  # noqa: BLE001 - someone's rows spoil the batch: find whose, fail only them
                outcomes = [await self._commit_alone(items) for items, _ in batch]
            for (_, committed), outcome in zip(batch, outcomes, strict=True):
                if committed.done():  # its caller was cancelled meanwhile
                    continue
                if outcome is None:
                    committed.set_result(None)
                else:
                    committed.set_exception(outcome)

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
