"""Schedules: each type's cron, timezone, paused or active, next runs; pause/resume and re-cron."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import Operator, Viewer
from api.deps import FacadeDep, SessionDep
from api.routes.models import parse_model_type
from api.schedules import change_schedule, read_schedule
from api.schemas import ScheduleChange, ScheduleOut, SchedulesResponse
from optbox.protocol import ModelType

router = APIRouter(prefix="/api/optimization", tags=["schedules"])


@router.get("/schedules", response_model=SchedulesResponse)
async def list_schedules(facade: FacadeDep, _: Viewer) -> SchedulesResponse:
    return SchedulesResponse(schedules=[await read_schedule(facade, model_type) for model_type in ModelType])


@router.patch("/schedules/{model_type}", response_model=ScheduleOut)
async def patch_schedule(facade: FacadeDep, session: SessionDep, who: Operator, model_type: str, change: ScheduleChange) -> ScheduleOut:
    """`{active}` needs operator, `{cron}` admin; a bad cron is a 422 that names it."""
    return await change_schedule(facade, session, parse_model_type(model_type), change, who)
