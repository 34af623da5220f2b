"""The line: each waiting run's place (1 = starts next) and its announcement on Socket.IO.

`QueueAnnouncer.changed(model_type)` is called after a run of the type joined or left the line
(its change committed). It returns at once: announcements of one type are coalesced — the first
change waits DEBOUNCE_S for others, then one query reads the line and `optimization:status`
{queued, queuePosition} goes to each run whose place differs from what this process announced
last; changes during that pass are read BUSY_INTERVAL_S later. Twenty executes at once cost one
query and twenty events, not twenty queries and 210 events.

Invariants: one announcing task per type, so a run's places arrive in the order they were read;
a change committed before `changed()` is in the next read (a change that lands while a read is
under way triggers another). With several API replicas (Redis), another replica may have
announced in between, so every read announces the whole line.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from api.realtime import Realtime
from storage import jobs
from storage.db import Database

log = logging.getLogger(__name__)
DEBOUNCE_S = 0.005  # long enough to gather a burst of executes, short against a person watching the line
BUSY_INTERVAL_S = 0.05  # while the line keeps changing: a read per 50 ms, not per 5 ms, each costing O(line)


class QueueAnnouncer:
    def __init__(self, db: Database, realtime: Realtime, *, whole_line: bool = False) -> None:
        self.db = db
        self.realtime = realtime
        self.whole_line = whole_line  # several replicas: what this process announced last is not what clients saw last
        self._announced: dict[str, dict[str, int]] = {}
        self._dirty: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def changed(self, model_type: str) -> None:
        """The type's line changed (committed): announce the new places soon."""
        self._dirty.add(model_type)
        task = self._tasks.get(model_type)
        if task is None or task.done():
            self._tasks[model_type] = asyncio.create_task(self._announce_while_changing(model_type), name=f"queue-{model_type}")

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _announce_while_changing(self, model_type: str) -> None:
        wait = DEBOUNCE_S
        while model_type in self._dirty:
            await asyncio.sleep(wait)
            wait = BUSY_INTERVAL_S
            self._dirty.discard(model_type)  # before the read: a change after this point asks for another pass
            try:
                await self._announce(model_type)
            except Exception:  # noqa: BLE001 - the database briefly away: the next change announces again
                log.warning("announcing the %s line failed", model_type, exc_info=True)
                self._announced.pop(model_type, None)

    async def _announce(self, model_type: str) -> None:
        async with self.db.session() as session:
            places = await queue_positions(session, model_type)
        before = {} if self.whole_line else self._announced.get(model_type, {})
        self._announced[model_type] = places
        for job_id, place in places.items():
            if before.get(job_id) != place:
                await self.realtime.queued(job_id, model_type, place)


async def queue_positions(session: AsyncSession, model_type: str) -> dict[str, int]:
    """Place in line (1 = starts next) of each run of the type that has not started."""
    return {job_id: place for place, job_id in enumerate(await jobs.queued_job_ids(session, model_type), start=1)}
