"""Coalescing concurrent callers into batches: what is asked for while a batch is being sent goes in the next.

`Batches(send, limit).submit(item)` returns the item's outcome once its batch is answered, or raises the
exception given for it. `send` gets the waiting items (at most `limit`) and answers one outcome per item,
an Exception for a failed one; if it raises, every item of the batch gets that exception. One batch is in
flight at a time, and every caller gets an answer (a `send` that answers the wrong number of outcomes fails
the whole batch rather than leaving callers waiting). Used by storage.group_commit (rows in one
transaction) and api.orchestrator (flow runs in one Prefect request).

`Hold(quiet_s, at_most_s)` makes a burst wait: an item that arrives within `quiet_s` of the one before is held
until items stop coming for `quiet_s`, or for `at_most_s` at most, and then goes with the rest of its burst.
An item after a quiet spell is sent at once. For work the burst's own callers should not wait behind
(api.orchestrator: Prefect creating a burst's flow runs took a CPU core from the requests asking for them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Send = Callable[[list[Item]], Awaitable[Sequence[Outcome | Exception]]]


@dataclass(frozen=True)
class Hold:
    quiet_s: float
    at_most_s: float


class Batches(Generic[Item, Outcome]):
    def __init__(self, send: Send, limit: int | None = None, name: str = "batches", hold: Hold | None = None) -> None:
        self._send, self._limit, self._name, self._hold = send, limit, name, hold
        self._waiting: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._sender: asyncio.Task[None] | None = None
        self._last_arrival = -float("inf")
        self._burst_since: float | None = None  # when the first item held for its burst arrived

    async def submit(self, item: Item) -> Outcome:
        answered = asyncio.get_running_loop().create_future()
        self._waiting.append((item, answered))
        self._note_arrival()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_while_waiting(), name=self._name)
        return await answered

    def _note_arrival(self) -> None:
        now = time.monotonic()
        if self._hold and self._burst_since is None and now - self._last_arrival < self._hold.quiet_s:
            self._burst_since = now
        self._last_arrival = now

    async def _burst_over(self) -> None:
        while self._hold and self._burst_since is not None:
            now = time.monotonic()
            wait = min(self._last_arrival + self._hold.quiet_s, self._burst_since + self._hold.at_most_s) - now
            if wait <= 0:
                self._burst_since = None
                return
            await asyncio.sleep(wait)

    async def _send_while_waiting(self) -> None:
        while self._waiting:
            await self._burst_over()
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
