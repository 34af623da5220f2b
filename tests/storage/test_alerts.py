"""The alert outbox on SQLite and PostgreSQL: an event is recorded once, and a row is leased to one sender."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage import alerts
from storage.models import utcnow


async def _record(db, key: str, event: str = "failed", model_type: str = "DMO") -> None:
    async with db.session() as session:
        await alerts.record(session, key=key, event=event, job_id=f"job-{key}", model_type=model_type, facts={"event": event},
                            destinations=["webhook", "email"])
        await session.commit()


async def test_an_event_recorded_by_many_replicas_at_once_is_one_row(db):
    await asyncio.gather(*(_record(db, "outcome:dmo-1:1") for _ in range(10)))
    async with db.session() as session:
        [row] = await alerts.latest(session)
    assert row.key == "outcome:dmo-1:1" and row.deliveries["webhook"]["status"] == "pending"


async def test_senders_claiming_at_once_each_get_a_row_only_one_of_them_holds(db):
    for i in range(5):
        await _record(db, f"k{i}")

    async def claim(owner: str) -> list[int]:
        async with db.session() as session:
            return [row.id for row in await alerts.claim_due(session, owner, timedelta(seconds=60))]

    claims = await asyncio.gather(*(claim(f"sender-{i}") for i in range(4)))
    every = [row_id for claimed in claims for row_id in claimed]
    assert sorted(every) == sorted(set(every)) and len(every) == 5
    async with db.session() as session:  # leased rows are not due again until sent or the lease runs out
        assert await alerts.claim_due(session, "late-comer", timedelta(seconds=60)) == []


async def test_a_failure_is_open_until_a_recovery_follows_it(db):
    await _record(db, "outcome:a", "failed", "SO")
    async with db.session() as session:
        failure = await alerts.open_failure(session, "SO")
        assert failure is not None and await alerts.open_failure(session, "RMO") is None
    await _record(db, f"recovered:{failure.id}", "recovered", "SO")
    async with db.session() as session:
        assert await alerts.open_failure(session, "SO") is None


async def test_a_delivery_left_to_retry_is_due_again_at_its_time(db):
    await _record(db, "outcome:r")
    async with db.session() as session:
        [row] = await alerts.claim_due(session, "me", timedelta(seconds=60))
        await alerts.save_delivery(session, row, {"webhook": {"status": "retrying"}}, utcnow() - timedelta(seconds=1))
        [again] = await alerts.claim_due(session, "me", timedelta(seconds=60))
        await alerts.save_delivery(session, again, {"webhook": {"status": "sent"}}, None)
        assert await alerts.claim_due(session, "me", timedelta(seconds=60)) == []
