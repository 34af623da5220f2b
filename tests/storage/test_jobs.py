"""JobRun/JobLog invariants, on SQLite and on PostgreSQL when one is reachable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from optbox.protocol import JobStatus, LogLevel, LogLine, Report, Stream
from storage import jobs
from storage.models import JobRun


def line(seq: int, message: str = "x", report: Report | None = None) -> LogLine:
    return LogLine(seq=seq, timestamp=datetime.now(UTC), level=LogLevel.INFO, stream=Stream.stdout, message=message, report=report)


async def test_storing_a_batch_twice_keeps_each_line_once_in_order(db):
    async with db.session() as session:
        job = JobRun(job_id="j1", model_type="SO")
        session.add(job)
        await jobs.store_lines(session, job, [line(1), line(2), line(3, report=Report(progress=30, objective_value=5))])
        await jobs.store_lines(session, job, [line(2), line(3), line(4)])
        await session.commit()
        stored = await jobs.read_lines(session, "j1")
    assert [row.seq for row in stored] == [1, 2, 3, 4]
    assert job.last_seq == 4 and job.progress == 30 and job.objective_value == 5


async def test_a_line_that_carries_a_report_is_stored_with_it(db):
    async with db.session() as session:
        job = JobRun(job_id="j2", model_type="SO")
        session.add(job)
        await jobs.store_lines(session, job, [line(1), line(2, '::optbox {"progress": 40}', report=Report(progress=40))])
        await session.commit()
        stored = await jobs.read_lines(session, "j2")
    assert [row.metadata_ for row in stored] == [None, {"report": {"progress": 40}}]


def test_status_moves_forward_within_an_attempt_and_first_end_wins():
    job = JobRun(job_id="j", model_type="DMO", status="pending", attempt=1, progress=0)
    assert jobs.move_status(job, JobStatus.running, 1) and job.started_at is not None
    assert not jobs.move_status(job, JobStatus.pending, 1)
    assert jobs.move_status(job, JobStatus.failed, 1) and job.completed_at is not None
    assert not jobs.move_status(job, JobStatus.success, 1)
    assert not jobs.move_status(job, JobStatus.running, 1)
    assert job.status == "failed"


def test_a_retry_starts_the_run_again_and_a_stale_attempt_is_ignored():
    job = JobRun(job_id="j", model_type="DMO", status="failed", attempt=1, progress=40, error_message="boom")
    assert jobs.move_status(job, JobStatus.pending, 2)
    assert (job.status, job.attempt, job.error_message, job.progress) == ("pending", 2, None, 0)
    assert not jobs.move_status(job, JobStatus.success, 1)
    assert jobs.move_status(job, JobStatus.success, 2) and job.progress == 100


def test_time_in_line_runs_from_creation_to_the_first_start_and_a_retry_keeps_it():
    created = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    job = JobRun(job_id="j", model_type="SO", status="pending", attempt=1, progress=0, created_at=created)
    assert jobs.move_status(job, JobStatus.running, 1, when=created + timedelta(seconds=7.5)) and job.queued_s == 7.5
    jobs.move_status(job, JobStatus.failed, 1, when=created + timedelta(seconds=9))
    jobs.move_status(job, JobStatus.running, 2, when=created + timedelta(seconds=60))
    assert job.queued_s == 7.5
