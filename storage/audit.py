"""The audit trail (Activity) and user notifications."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Activity, Notification


def record_activity(
    session: AsyncSession, action: str, entity_type: str, entity_id: str | int | None, description: str,
    actor: str, actor_role: str | None, metadata: dict[str, Any] | None = None,
) -> None:
    session.add(activity(action, entity_type, entity_id, description, actor, actor_role, metadata))


def activity(
    action: str, entity_type: str, entity_id: str | int | None, description: str,
    actor: str, actor_role: str | None, metadata: dict[str, Any] | None = None,
) -> Activity:
    """An audit row, for callers that write it themselves (with other rows in one transaction)."""
    return Activity(
        action=action, entity_type=entity_type, entity_id=None if entity_id is None else str(entity_id),
        description=description, actor=actor, actor_role=actor_role, metadata_=metadata,
    )


def notify(session: AsyncSession, title: str, message: str, severity: str, category: str, metadata: dict[str, Any] | None = None) -> None:
    session.add(Notification(title=title, message=message, severity=severity, category=category, metadata_=metadata))


async def list_activities(session: AsyncSession, limit: int = 100, offset: int = 0) -> Sequence[Activity]:
    return (await session.scalars(select(Activity).order_by(Activity.id.desc()).limit(limit).offset(offset))).all()


async def list_notifications(session: AsyncSession, unread_only: bool = False, limit: int = 50) -> Sequence[Notification]:
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if unread_only:
        query = query.where(Notification.is_read.is_(False))
    return (await session.scalars(query)).all()


async def unread_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Notification).where(Notification.is_read.is_(False))) or 0


async def mark_read(session: AsyncSession, ids: Sequence[int] | None) -> int:
    query = update(Notification).where(Notification.is_read.is_(False)).values(is_read=True)
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    return (await session.execute(query)).rowcount
