"""Liveness of the facade and what it depends on."""

from __future__ import annotations

import asyncio
from importlib.metadata import version

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import FacadeDep
from api.schemas import HealthResponse

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
    database, prefect = await asyncio.gather(_database_ok(facade), _prefect_ok(facade))
    return HealthResponse(status="ok" if database and prefect else "degraded", database=database, prefect=prefect, version=version("optbox"))
