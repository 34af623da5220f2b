"""Job runs, their log lines and artifacts.

Invariants:
- (job_id, seq) is unique; `store_lines` is idempotent, so a batch the flow
  resends after a lost ack is stored once.
- A run's status only moves forward within an attempt (pending -> running ->
  terminal, first terminal wins); a higher attempt (a retry) starts it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from optbox.protocol import JobStatus, LogLine, Report
from storage.models import JobArtifact, JobLog, JobRun, utcnow

_RANK = {JobStatus.pending: 0, JobStatus.running: 1}


async def get_job(session: AsyncSession, job_id: str) -> JobRun | None:
    return await session.scalar(select(JobRun).where(JobRun.job_id == job_id))


async def get_job_by_flow_run(session: AsyncSession, flow_run_id: str) -> JobRun | None:
    return await session.scalar(select(JobRun).where(JobRun.flow_run_id == flow_run_id))


async def jobs_by_flow_run(session: AsyncSession, flow_run_ids: Sequence[str]) -> dict[str, JobRun]:
    if not flow_run_ids:
        return {}
    runs = await session.scalars(select(JobRun).where(JobRun.flow_run_id.in_(flow_run_ids)))
    return {run.flow_run_id: run for run in runs}


async def unfinished_jobs(session: AsyncSession) -> Sequence[JobRun]:
    return (await session.scalars(
        select(JobRun).where(JobRun.status.in_([JobStatus.pending.value, JobStatus.running.value]), JobRun.flow_run_id.is_not(None))
    )).all()


async def queued_job_ids(session: AsyncSession, model_type: str) -> Sequence[str]:
    """The type's runs not started yet, in the order they start (the order they were created).
    Ids only: the line is read after every change to it, and whole rows cost their JSON columns."""
    return (await session.scalars(
        select(JobRun.job_id).where(JobRun.model_type == model_type, JobRun.status == JobStatus.pending.value)
        .order_by(JobRun.created_at, JobRun.id)
    )).all()


async def unlaunched_jobs(session: AsyncSession, created_before: datetime) -> Sequence[JobRun]:
    """Pending jobs whose Prefect flow run was never recorded (the facade stopped while creating it)."""
    return (await session.scalars(
        select(JobRun).where(JobRun.status == JobStatus.pending.value, JobRun.flow_run_id.is_(None), JobRun.created_at < created_before)
    )).all()


async def list_jobs(
    session: AsyncSession, *, model_type: str | None, status: str | None, model_id: int | None,
    triggered_by: str | None, limit: int, offset: int,
) -> tuple[Sequence[JobRun], int]:
    query = select(JobRun)
    if model_type:
        query = query.where(JobRun.model_type == model_type)
    if status:
        query = query.where(JobRun.status == status)
    if model_id is not None:
        query = query.where(JobRun.model_id == model_id)
    if triggered_by:
        query = query.where(JobRun.triggered_by == triggered_by)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = (await session.scalars(query.order_by(JobRun.id.desc()).limit(limit).offset(offset))).all()
    return rows, total


def move_status(job: JobRun, status: JobStatus, attempt: int, when: datetime | None = None) -> bool:
    """Apply `status` of `attempt` to `job` if it moves the run forward. True when it changed."""
    when = when or utcnow()
    if attempt < job.attempt:
        return False
    current = JobStatus(job.status)
    if attempt == job.attempt:
        if current.is_terminal or (not status.is_terminal and _RANK[status] <= _RANK[current]):
            return False
    else:
        start_attempt(job, attempt)
    job.status = status.value
    if status == JobStatus.running and job.started_at is None:
        job.started_at = when
        if job.queued_s is None and job.created_at is not None:  # a retry's start is its delay, not time in line
            job.queued_s = max(0.0, (when - job.created_at).total_seconds())
    if status.is_terminal:
        job.completed_at = when
        if status == JobStatus.success:
            job.progress = 100
    return True


def start_attempt(job: JobRun, attempt: int) -> None:
    """A retry: the same run starts again; its earlier lines stay, seq continues."""
    job.attempt = attempt
    job.status = JobStatus.pending.value
    job.started_at = None
    job.completed_at = None
    job.error_message = None
    job.exit_code = None
    job.progress = 0


def apply_report(job: JobRun, report: Report) -> None:
    if report.progress is not None:
        job.progress = report.progress
    if report.objective_value is not None:
        job.objective_value = report.objective_value
    if report.results_count is not None:
        job.results_count = report.results_count
    if report.solver_time_ms is not None:
        job.solver_time_ms = report.solver_time_ms
    if report.metrics:
        job.metrics = {**(job.metrics or {}), **report.metrics}


def _insert_ignoring_duplicates(dialect: str):
    if dialect == "postgresql":
        return postgresql.insert(JobLog).on_conflict_do_nothing(index_elements=["job_id", "seq"])
    return sqlite.insert(JobLog).on_conflict_do_nothing(index_elements=["job_id", "seq"])


async def store_lines(session: AsyncSession, job: JobRun, lines: Sequence[LogLine]) -> None:
    """Store lines once each and fold their reports into the run."""
    if not lines:
        return
    rows = [
        {
            "job_id": job.job_id, "seq": line.seq, "level": line.level.value, "stream": line.stream.value,
            "message": line.message, "timestamp": line.timestamp,
            "metadata_": {"report": line.report.model_dump(exclude_none=True)} if line.report else None,
        }
        for line in lines
    ]
    await session.execute(_insert_ignoring_duplicates(session.bind.dialect.name), rows)
    job.last_seq = max(job.last_seq or 0, max(line.seq for line in lines))
    for line in lines:
        if line.report:
            apply_report(job, line.report)


async def max_seq(session: AsyncSession, job_id: str) -> int:
    return await session.scalar(select(func.max(JobLog.seq)).where(JobLog.job_id == job_id)) or 0


async def read_lines(session: AsyncSession, job_id: str, after_seq: int = 0, limit: int = 1000) -> Sequence[JobLog]:
    return (await session.scalars(
        select(JobLog).where(JobLog.job_id == job_id, JobLog.seq > after_seq).order_by(JobLog.seq).limit(limit)
    )).all()


async def tail_lines(session: AsyncSession, job_id: str, count: int = 100) -> list[JobLog]:
    rows = (await session.scalars(select(JobLog).where(JobLog.job_id == job_id).order_by(JobLog.seq.desc()).limit(count))).all()
    return list(reversed(rows))


async def upsert_artifact(session: AsyncSession, job_id: str, kind: str, name: str, **fields: Any) -> JobArtifact:
    artifact = await session.scalar(select(JobArtifact).where(JobArtifact.job_id == job_id, JobArtifact.kind == kind, JobArtifact.name == name))
    if artifact is None:
        artifact = JobArtifact(job_id=job_id, kind=kind, name=name, **fields)
        session.add(artifact)
    else:
        for key, value in fields.items():
            setattr(artifact, key, value)
    await session.flush()
    return artifact


async def list_artifacts(session: AsyncSession, job_id: str, kind: str | None = None) -> Sequence[JobArtifact]:
    query = select(JobArtifact).where(JobArtifact.job_id == job_id).order_by(JobArtifact.name)
    if kind:
        query = query.where(JobArtifact.kind == kind)
    return (await session.scalars(query)).all()


async def get_artifact(session: AsyncSession, job_id: str, kind: str, name: str) -> JobArtifact | None:
    return await session.scalar(select(JobArtifact).where(JobArtifact.job_id == job_id, JobArtifact.kind == kind, JobArtifact.name == name))
