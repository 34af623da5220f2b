"""Retention: what of finished runs is pruned once they are old enough.

Pruned: a run's JobLog rows and its artifacts (log and result files, rows and bytes).
Kept: the JobRun row itself (status, model version and sha256, config, dataset sha256,
limits, objective, timings), so history and provenance outlive the bulky parts.
The caller deletes the returned file keys after committing (a crash in between leaves
unreferenced bytes, never a row pointing at nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from optbox.protocol import JobStatus
from storage.models import JobArtifact, JobLog, JobRun

BATCH = 200
TERMINAL = [status.value for status in JobStatus if status.is_terminal]


class PruneResult(BaseModel):
    cutoff: datetime
    runs: int = 0
    log_rows: int = 0
    log_files: int = 0
    result_files: int = 0
    bytes: int = 0
    file_keys: list[str] = []


async def _finished_before(session: AsyncSession, cutoff: datetime, after_id: int) -> Sequence[tuple[int, str]]:
    return (await session.execute(
        select(JobRun.id, JobRun.job_id).where(JobRun.status.in_(TERMINAL), JobRun.completed_at < cutoff, JobRun.id > after_id)
        .order_by(JobRun.id).limit(BATCH)
    )).all()


async def prune_finished_before(session: AsyncSession, cutoff: datetime) -> PruneResult:
    """Delete logs and artifacts of runs that finished before `cutoff`, a batch of runs per commit."""
    result = PruneResult(cutoff=cutoff)
    after_id = 0
    while batch := await _finished_before(session, cutoff, after_id):
        after_id = batch[-1][0]
        job_ids = [job_id for _, job_id in batch]
        log_counts = dict((await session.execute(
            select(JobLog.job_id, func.count()).where(JobLog.job_id.in_(job_ids)).group_by(JobLog.job_id))).all())
        artifacts = (await session.scalars(select(JobArtifact).where(JobArtifact.job_id.in_(job_ids)))).all()
        if not log_counts and not artifacts:
            continue
        await session.execute(delete(JobLog).where(JobLog.job_id.in_(job_ids)))
        await session.execute(delete(JobArtifact).where(JobArtifact.job_id.in_(job_ids)))
        await session.execute(update(JobRun).where(JobRun.job_id.in_(job_ids)).values(log_file_path=None))
        await session.commit()
        result.runs += len({a.job_id for a in artifacts} | set(log_counts))
        result.log_rows += sum(log_counts.values())
        result.log_files += sum(a.kind == "log" for a in artifacts)
        result.result_files += sum(a.kind == "result" for a in artifacts)
        result.bytes += sum(a.size for a in artifacts)
        result.file_keys += [a.file_ref for a in artifacts]
    return result
