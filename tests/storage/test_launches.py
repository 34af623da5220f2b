"""LaunchLedger: a created flow run lands on its job once, and a cancel that came first is reported."""

from __future__ import annotations

import asyncio

from optbox.protocol import JobStatus
from storage import jobs
from storage.launches import LaunchLedger
from storage.models import JobRun


async def _jobs(db, *specs: tuple[str, dict]) -> None:
    async with db.session() as session:
        session.add_all([JobRun(job_id=job_id, model_type="SO", **fields) for job_id, fields in specs])
        await session.commit()


async def _job(db, job_id: str) -> JobRun:
    async with db.session() as session:
        return await jobs.get_job(session, job_id)


async def test_concurrent_launches_each_land_on_their_own_job(db):
    await _jobs(db, *((f"j{i}", {}) for i in range(30)))
    ledger = LaunchLedger(db)
    outcomes = await asyncio.gather(*(ledger.record(f"j{i}", f"run-{i}", "Scheduled") for i in range(30)))
    assert outcomes == [None] * 30
    for i in range(30):
        job = await _job(db, f"j{i}")
        assert (job.flow_run_id, job.prefect_state) == (f"run-{i}", "Scheduled")


async def test_a_recorded_run_and_a_newer_state_are_kept(db):
    await _jobs(db, ("has-run", {"flow_run_id": "first", "prefect_state": "Running"}), ("has-state", {"prefect_state": "Pending"}))
    ledger = LaunchLedger(db)
    await asyncio.gather(ledger.record("has-run", "second", "Scheduled"), ledger.record("has-state", "run", "Scheduled"))
    assert ((await _job(db, "has-run")).flow_run_id, (await _job(db, "has-run")).prefect_state) == ("first", "Running")
    assert ((await _job(db, "has-state")).flow_run_id, (await _job(db, "has-state")).prefect_state) == ("run", "Pending")


async def test_a_job_cancelled_before_its_run_was_recorded_names_the_run_to_cancel(db):
    await _jobs(db, ("cancelled", {"status": JobStatus.cancelled.value}), ("pending", {}))
    ledger = LaunchLedger(db)
    cancelled, pending = await asyncio.gather(ledger.record("cancelled", "run-c", "Scheduled"), ledger.record("pending", "run-p", "Scheduled"))
    assert (cancelled, pending) == ("run-c", None)
    assert (await _job(db, "cancelled")).flow_run_id == "run-c"
    assert await ledger.record("pending", "run-p", "Scheduled") is None  # asked again: nothing left over from the first batch
