"""The audit trail and notifications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from api.auth import Viewer
from api.deps import Offset, SessionDep
from api.schemas import ActivitiesResponse, ActivityOut, NotificationOut, NotificationsResponse
from optbox.protocol import DbId
from storage import audit

router = APIRouter(prefix="/api/optimization", tags=["activity"])


@router.get("/notifications", response_model=NotificationsResponse)
async def notifications(session: SessionDep, _: Viewer, unread: bool = False, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> NotificationsResponse:
    rows = await audit.list_notifications(session, unread, limit)
    return NotificationsResponse(notifications=[NotificationOut.model_validate(r) for r in rows], unread=await audit.unread_count(session))


@router.post("/notifications/read")
async def mark_read(session: SessionDep, _: Viewer, ids: Annotated[list[DbId] | None, Body(embed=True, max_length=1000)] = None) -> dict:
    """Mark the given notifications (or all) read."""
    count = await audit.mark_read(session, ids)
    await session.commit()
    return {"success": True, "marked": count}


@router.get("/activity", response_model=ActivitiesResponse)
async def activity(session: SessionDep, _: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Offset = 0) -> ActivitiesResponse:
    return ActivitiesResponse(activities=[ActivityOut.model_validate(r) for r in await audit.list_activities(session, limit, offset)])
