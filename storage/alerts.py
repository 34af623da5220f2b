"""The alert outbox: events recorded once, delivered by whichever replica holds a row's lease.

Invariants:
- `record` inserts a row per event key at most once (any replica, any number of mirror passes);
  it runs in the caller's transaction, so an alert exists exactly when the change that caused it does.
- A row is sent only by the replica whose lease on it is current (`claim_due`); a replica that dies
  mid-send loses the lease when it runs out and another sends the row again (at least once, by design).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Alert, utcnow

OPEN_FAILURES = ("failed", "crashed")  # events a later success of the same type recovers


async def record(session: AsyncSession, *, key: str, event: str, job_id: str | None, model_type: str | None,
                 facts: dict[str, Any], destinations: Sequence[str], lease_owner: str | None = None,
                 lease_until: datetime | None = None) -> None:
    """Insert the event unless its key is already there (leased already when a sender sends it at once). Does not commit."""
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    await session.execute(insert(Alert).values(
        key=key, event=event, job_id=job_id, model_type=model_type, facts=facts,
        deliveries={name: {"status": "pending", "attempts": 0, "error": None, "at": None} for name in destinations},
        done=False, next_attempt_at=now, created_at=now, lease_owner=lease_owner, lease_until=lease_until,
    ).on_conflict_do_nothing(index_elements=["key"]))


async def open_failure(session: AsyncSession, model_type: str) -> Alert | None:
    """The type's last failure alert when no recovery followed it."""
    last = await session.scalar(select(Alert).where(Alert.model_type == model_type, Alert.event.in_((*OPEN_FAILURES, "recovered")))
                                .order_by(Alert.id.desc()).limit(1))
    return last if last is not None and last.event in OPEN_FAILURES else None


async def by_key(session: AsyncSession, key: str) -> Alert | None:
    return await session.scalar(select(Alert).where(Alert.key == key))


async def known_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    return set((await session.scalars(select(Alert.key).where(Alert.key.in_(keys)))).all())


def _due(now: datetime):
    return (Alert.done.is_(False), Alert.next_attempt_at <= now, or_(Alert.lease_until.is_(None), Alert.lease_until < now))


async def claim_due(session: AsyncSession, owner: str, lease: timedelta) -> Sequence[Alert]:
    """Take the lease on every undelivered row that is due and not leased by a live sender; commits.
    `owner` names this one claim (unique per call): the rows returned are those it took.

    The conditions sit in the UPDATE itself, so two replicas claiming at once cannot both win a row
    (SQLite serialises writers; PostgreSQL re-checks the WHERE on the row it waited for)."""
    now = utcnow()
    if not await session.scalar(select(Alert.id).where(*_due(now)).limit(1)):
        return []  # the usual case: a read, no write transaction every poll
    await session.execute(update(Alert).where(*_due(now)).values(lease_owner=owner, lease_until=now + lease)
                          .execution_options(synchronize_session=False))
    await session.commit()
    return (await session.scalars(select(Alert).where(Alert.lease_owner == owner, Alert.done.is_(False),
                                                      Alert.lease_until > now).order_by(Alert.id))).all()


async def save_delivery(session: AsyncSession, alert: Alert, deliveries: dict[str, Any], retry_at: datetime | None) -> None:
    """Store the destinations' results and let go of the lease; `retry_at` None: nothing left to send. Commits."""
    await session.execute(update(Alert).where(Alert.id == alert.id).values(
        deliveries=deliveries, done=retry_at is None, next_attempt_at=retry_at or utcnow(), lease_owner=None, lease_until=None,
    ).execution_options(synchronize_session=False))
    await session.commit()


async def latest(session: AsyncSession, limit: int = 50) -> Sequence[Alert]:
    return (await session.scalars(select(Alert).order_by(Alert.id.desc()).limit(limit))).all()
