"""Liveness of the facade and what it depends on, whether a run can start now, and which sandbox
protections model runs get.

`ready` is true only when a run of every type can start at once: the database and Prefect answer,
every deployment is applied and a worker has polled it lately; `waiting_for` names what is missing.
`status` stays the facade's liveness (ok/degraded), as before.

The sandbox report is this host's (probed once, by trying each mechanism); a worker on
another machine reports its own at start and in every run's log.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from typing import NamedTuple

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import FacadeDep
from api.schemas import AlertsHealth, HealthResponse
from optbox import sandbox

router = APIRouter(tags=["health"])
VERSION = version("optbox")  # read from the installed metadata: 1.2 ms a call here, and it cannot change under a process


async def _database_ok(facade) -> bool:
    try:
        async with facade.db.session() as session:
            await session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - health reports, never raises
        return False


class _DatabaseCheck:
    """Polls that arrive while a check is under way get its answer. Twenty at once each opened a session of
    their own: twenty aiosqlite threads taking turns at the GIL, ~40 context switches and ~1 ms of CPU a poll."""

    def __init__(self) -> None:
        self._checks: dict[int, asyncio.Task[bool]] = {}  # per facade: a process may serve several (tests do)

    async def status(self, facade) -> bool:
        check = self._checks.get(id(facade))
        if check is None or check.done():
            check = self._checks[id(facade)] = asyncio.create_task(_database_ok(facade))
        return await asyncio.shield(check)


async def _protections() -> sandbox.Protections:
    """The host's sandbox report; probed in a thread the first time (it runs bubblewrap), then from memory."""
    if sandbox.probe.cache_info().currsize:
        return sandbox.probe()
    return await asyncio.to_thread(sandbox.probe)


class PrefectStatus(NamedTuple):
    reachable: bool
    waiting_for: list[str]  # empty: a run of every type can start now


async def _prefect_status(facade) -> PrefectStatus:
    try:
        if not await asyncio.wait_for(facade.orchestrator.healthy(), timeout=2):
            return PrefectStatus(False, ["the Prefect server"])
        return PrefectStatus(True, await asyncio.wait_for(facade.orchestrator.waiting_for(), timeout=2))
    except Exception:  # noqa: BLE001 - health reports, never raises
        return PrefectStatus(False, ["the Prefect server"])


class _PrefectCheck:
    """Prefect's health, without letting a busy Prefect server (a run flooding its log API)
    make the facade's own health slow: a check runs in the background, health waits for it
    briefly and otherwise answers what the last finished check said."""

    WAIT_S = 0.1  # at 0.5 s, Prefect busy with a flooding run's logs alone made health take half a second

    def __init__(self) -> None:
        self.last: PrefectStatus | None = None
        self._check: asyncio.Task[PrefectStatus] | None = None

    async def status(self, facade) -> PrefectStatus:
        if self._check is None or self._check.done():
            self._check = asyncio.create_task(_prefect_status(facade))
            self._check.add_done_callback(self._remember)
        if self.last is None:  # nothing known yet: wait for the answer
            return await asyncio.shield(self._check)
        try:
            return await asyncio.wait_for(asyncio.shield(self._check), self.WAIT_S)
        except TimeoutError:
            return self.last

    def _remember(self, check: asyncio.Task[PrefectStatus]) -> None:
        if not check.cancelled():
            self.last = check.result()


_prefect = _PrefectCheck()
_database = _DatabaseCheck()


@router.get("/api/health", response_model=HealthResponse)
async def health(facade: FacadeDep) -> HealthResponse:
    database, prefect, protections = await asyncio.gather(_database.status(facade), _prefect.status(facade), _protections())
    waiting_for = prefect.waiting_for + ([] if database else ["the database"])
    return HealthResponse(status="ok" if database and prefect.reachable else "degraded", database=database,
                          prefect=prefect.reachable, ready=not waiting_for, waiting_for=waiting_for,
                          version=VERSION, sandbox=protections,
                          alerts=AlertsHealth(enabled=bool(facade.alerts.destinations), destinations=facade.alerts.destinations,
                                              problems=facade.alerts.problems))
