"""Liveness of the facade and what it depends on, and which sandbox protections model runs get.

The sandbox report is this host's (probed once, by trying each mechanism); a worker on
another machine reports its own at start and in every run's log.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import FacadeDep
from api.schemas import HealthResponse
from optbox import sandbox

router = APIRouter(tags=["health"])


async def _database_ok(facade) -> bool:
    try:
        async with facade.db.session() as session:
            await session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - health reports, never raises
        return False


async def _prefect_ok(facade) -> bool:
    try:
        return await asyncio.wait_for(facade.orchestrator.healthy(), timeout=2)
    except Exception:  # noqa: BLE001
        return False


class _PrefectCheck:
    """Prefect's health, without letting a busy Prefect server (a run flooding its log API)
    make the facade's own health slow: a check runs in the background, health waits for it
    briefly and otherwise answers what the last finished check said."""

    WAIT_S = 0.1  # at 0.5 s, Prefect busy with a flooding run's logs alone made health take half a second

    def __init__(self) -> None:
        self.last: bool | None = None
        self._check: asyncio.Task[bool] | None = None

    async def status(self, facade) -> bool:
        if self._check is None or self._check.done():
            self._check = asyncio.create_task(_prefect_ok(facade))
            self._check.add_done_callback(self._remember)
        if self.last is None:  # nothing known yet: wait for the answer
            return await asyncio.shield(self._check)
        try:
            return await asyncio.wait_for(asyncio.shield(self._check), self.WAIT_S)
        except TimeoutError:
            return self.last

    def _remember(self, check: asyncio.Task[bool]) -> None:
        if not check.cancelled():
            self.last = check.result()


_prefect = _PrefectCheck()


@router.get("/api/health", response_model=HealthResponse)
async def health(facade: FacadeDep) -> HealthResponse:
    database, prefect, protections = await asyncio.gather(_database_ok(facade), _prefect.status(facade), asyncio.to_thread(sandbox.probe))
    return HealthResponse(status="ok" if database and prefect else "degraded", database=database, prefect=prefect,
                          version=version("optbox"), sandbox=protections)
