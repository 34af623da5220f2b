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


@router.get("/api/health", response_model=HealthResponse)
async def health(facade: FacadeDep) -> HealthResponse:
    database, prefect, protections = await asyncio.gather(_database_ok(facade), _prefect_ok(facade), asyncio.to_thread(sandbox.probe))
    return HealthResponse(status="ok" if database and prefect else "degraded", database=database, prefect=prefect,
                          version=version("optbox"), sandbox=protections)
