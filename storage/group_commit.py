"""New rows from many concurrent callers, written in one transaction (group commit).

`GroupCommit.add(*rows)` returns once the rows are committed. Rows added while a batch is being
written go into the next one, so a burst of twenty executes costs two or three transactions,
not twenty: on SQLite each transaction takes the one write lock across several round trips to
its connection thread, and under load those, not the inserts, were what requests waited for.

Contract: a caller's rows are committed together or not at all; a batch that fails is written
again caller by caller, so one caller's bad row fails only that caller. The rows come back
detached with their loaded attributes (ids included).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from storage.db import Database
from storage.models import Base


class GroupCommit:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[tuple[Sequence[Base], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, *rows: Base) -> None:
        """Insert `rows`; return when they are committed, or raise why they were not."""
        committed = asyncio.get_running_loop().create_future()
        self._waiting.append((rows, committed))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_waiting(), name="group-commit")
        await committed

    async def _write_while_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._commit([row for rows, _ in batch for row in rows])
                outcomes = [None] * len(batch)
            except Exception:  # noqa: BLE001 - someone's rows spoil the batch: find whose, fail only them
                outcomes = [await self._commit_alone(rows) for rows, _ in batch]
            for (_, committed), outcome in zip(batch, outcomes, strict=True):
                if committed.done():  # its caller was cancelled meanwhile
                    continue
                if outcome is None:
                    committed.set_result(None)
                else:
                    committed.set_exception(outcome)

    async def _commit_alone(self, rows: Sequence[Base]) -> Exception | None:
        try:
            await self._commit(rows)
        except Exception as exc:  # noqa: BLE001 - handed to the caller it belongs to
            return exc
        return None

    async def _commit(self, rows: Sequence[Base]) -> None:
        async with self.db.session() as session:
            session.add_all(rows)
            await session.commit()
