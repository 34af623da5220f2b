"""Writes from many concurrent callers, made in one transaction (group commit).

`GroupCommit.add(*items)` returns once the items are committed: by default they are new rows to
insert; `write` makes them anything a batch can write at once (an executemany UPDATE, say).
Items added while a batch is being written go into the next one (`optbox.batching`), so a burst of twenty executes
costs two or three transactions, not twenty: on SQLite each transaction takes the one write lock
across several round trips to its connection thread, and under load those, not the inserts,
were what requests waited for.

Contract: a caller's items are committed together or not at all; a batch that fails is written
again caller by caller, so one caller's bad item fails only that caller. New rows are inserted
one executemany per table (`insert_rows`): they come back transient, their column defaults
filled in as stored, their autoincrement ids not read back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Column, Table, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from optbox.batching import Batches
from storage.db import Database

Write = Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]


async def insert_rows(session: AsyncSession, rows: Sequence[Any]) -> None:
    """One executemany INSERT per table. The ORM's flush sent one INSERT … RETURNING per row to read back
    ids no caller uses: for a burst of twenty executes, 40 statements (each a hop to SQLite's thread)
    and most of the facade's CPU per request."""
    connection = await session.connection()
    for table, values in _values_by_table(rows).items():
        await connection.execute(insert(table), values)


def _values_by_table(rows: Sequence[Any]) -> dict[Table, list[dict[str, Any]]]:
    """Each row's column values, its unset columns' Python-side defaults written onto it first, so the
    object reads what the row holds; autoincrement keys are left to the database."""
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for row in rows:
        mapper = inspect(row).mapper
        values = {}
        for attribute in mapper.column_attrs:
            column = attribute.columns[0]
            if attribute.key in row.__dict__:
                values[column.key] = row.__dict__[attribute.key]
            elif not _filled_by_database(column):
                default = column.default
                values[column.key] = None if default is None else default.arg(None) if default.is_callable else default.arg
                if values[column.key] is not None:  # an unset attribute of a new object already reads None
                    setattr(row, attribute.key, values[column.key])
        by_table.setdefault(mapper.local_table, []).append(values)
    return by_table


def _filled_by_database(column: Column) -> bool:
    """An autoincrement key, or a default that is not a Python value or function (a sequence, an SQL expression)."""
    if column.primary_key and column.autoincrement in (True, "auto"):
        return True
    return column.default is not None and not (column.default.is_scalar or column.default.is_callable)


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
