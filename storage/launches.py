"""Where each job's Prefect flow run is recorded once created: many launches, one transaction.

`LaunchLedger.record(job_id, flow_run_id, state)` sets the job's `flow_run_id` (and its Prefect
state, if none yet) unless the job already has a run, together with the other launches that
finished meanwhile (`GroupCommit`): a burst of executes launches its runs in a burst too, and one
transaction per run made each wait for the write lock behind the others.

Contract: `record` returns the job's flow run id when the job was cancelled before its run was
recorded — the caller cancels that run — and None otherwise. A cancel that commits after the
record sees the run on the job and cancels it itself (`api.runs.cancel_run`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from optbox.protocol import JobStatus
from storage.db import Database
from storage.group_commit import GroupCommit
from storage.models import JobRun


@dataclass(frozen=True)
class Launched:
    job_id: str
    flow_run_id: str
    prefect_state: str | None


class LaunchLedger:
    def __init__(self, db: Database) -> None:
        self._commits = GroupCommit(db, self._write)
        self._cancelled: dict[str, str] = {}  # job id -> its flow run, found by the batch that recorded it

    async def record(self, job_id: str, flow_run_id: str, prefect_state: str | None) -> str | None:
        try:
            await self._commits.add(Launched(job_id, flow_run_id, prefect_state))
            return self._cancelled.get(job_id)
        finally:
            self._cancelled.pop(job_id, None)

    async def _write(self, session: AsyncSession, launched: Sequence[Launched]) -> None:
        await record_flow_runs(session, launched)
        self._cancelled.update(await cancelled_flow_runs(session, [run.job_id for run in launched]))


async def record_flow_runs(session: AsyncSession, launched: Sequence[Launched]) -> None:
    jobs = JobRun.__table__
    statement = (
        update(jobs)
        .where(jobs.c.job_id == bindparam("job"), jobs.c.flow_run_id.is_(None))
        .values(flow_run_id=bindparam("run"), prefect_state=func.coalesce(jobs.c.prefect_state, bindparam("state")))
    )
    connection = await session.connection()
    await connection.execute(statement, [{"job": run.job_id, "run": run.flow_run_id, "state": run.prefect_state} for run in launched])


async def cancelled_flow_runs(session: AsyncSession, job_ids: Sequence[str]) -> dict[str, str]:
    rows = await session.execute(
        select(JobRun.job_id, JobRun.flow_run_id)
        .where(JobRun.job_id.in_(job_ids), JobRun.status == JobStatus.cancelled.value, JobRun.flow_run_id.is_not(None))
    )
    return {job_id: flow_run_id for job_id, flow_run_id in rows}
