"""Coalescing concurrent callers into batches: what is asked for while a batch is being sent goes in the next.

`Batches(send, limit).submit(item)` returns the item's outcome once its batch is answered, or raises the
exception given for it. `send` gets the waiting items (at most `limit`) and answers one outcome per item,
an Exception for a failed one; if it raises, every item of the batch gets that exception. One batch is in
flight at a time, and every caller gets an answer (a `send` that answers the wrong number of outcomes fails
the whole batch rather than leaving callers waiting). Used by storage.group_commit (rows in one
transaction) and api.orchestrator (flow runs in one Prefect request).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Send = Callable[[list[Item]], Awaitable[Sequence[Outcome | Exception]]]


class Batches(Generic[Item, Outcome]):
    def __init__(self, send: Send, limit: int | None = None, name: str = "batches") -> None:
        self._send, self._limit, self._name = send, limit, name
        self._waiting: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Outcome:
        answered = asyncio.get_running_loop().create_future()
        self._waiting.append((item, answered))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_while_waiting(), name=self._name)
        return await answered

    async def _send_while_waiting(self) -> None:
        while self._waiting:
            cut = self._limit or len(self._waiting)
            batch, self._waiting = self._waiting[:cut], self._waiting[cut:]
            try:
                outcomes = await self._send([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - the batch failed as a whole: each caller decides what next
                outcomes = [exc] * len(batch)
            if len(outcomes) != len(batch):
                outcomes = [RuntimeError(f"{len(outcomes)} outcomes answered for {len(batch)} items")] * len(batch)
            for (_, answered), outcome in zip(batch, outcomes, strict=True):
                if answered.done():  # its caller was cancelled meanwhile
                    continue
                if isinstance(outcome, Exception):
                    answered.set_exception(outcome)
                else:
                    answered.set_result(outcome)
