"""Ships a job's lines to the facade in order, in batches, until each is acknowledged.

One request is in flight at a time, so lines arrive in seq order; lines that
arrive while it is in flight form the next batch (batching costs no latency
when the model is quiet). A failed request is retried by the facade client;
the facade stores idempotently, so a resend after a lost ack is harmless.
"""

from __future__ import annotations

import asyncio

from flows.facade import FacadeClient
from optbox.protocol import LogBatch, LogLine

MAX_BATCH_LINES = 2000
MAX_BATCH_BYTES = 8 * 1024 * 1024  # well under the facade's 64 MB body limit, even with 1 MB lines


class LineShipper:
    def __init__(self, facade: FacadeClient, job_id: str, attempt: int) -> None:
        self._facade = facade
        self._job_id = job_id
        self._attempt = attempt
        self._pending: list[LogLine] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.shipped_through = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"ship-lines-{self._job_id}")

    @property
    def backlog(self) -> int:
        """Lines put but not yet acknowledged."""
        return len(self._pending)

    def put(self, line: LogLine) -> None:
        self._pending.append(line)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._next_batch()
                await self._facade.send_lines(self._job_id, LogBatch(attempt=self._attempt, lines=batch))
                del self._pending[: len(batch)]
                self.shipped_through = batch[-1].seq
            if self._closed:
                return

    def _next_batch(self) -> list[LogLine]:
        size, count = 0, 0
        for line in self._pending[:MAX_BATCH_LINES]:
            size += len(line.message) + 200
            if count and size > MAX_BATCH_BYTES:
                break
            count += 1
        return self._pending[:count]

    async def drain(self) -> None:
        """Wait until every line put so far is acknowledged (or the facade client gives up)."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task
