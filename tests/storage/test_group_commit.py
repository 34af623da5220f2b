"""GroupCommit with its default write: concurrent callers' new rows in one executemany per table, stored as
the ORM would store them, defaults readable on the objects, and one caller's bad row failing only that caller."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from storage import audit
from storage.group_commit import GroupCommit
from storage.models import Activity, JobRun


def new_job(job_id: str, **fields) -> JobRun:
    return JobRun(job_id=job_id, model_type="SO", model_config={"n": job_id}, **fields)


def inserts_into(db) -> list[tuple[str, int]]:
    """(table, rows) of each INSERT the engine sends from now on."""
    seen: list[tuple[str, int]] = []

    def record(_conn, _cursor, statement, parameters, _context, executemany):
        if statement.startswith("INSERT"):
            seen.append((statement.split()[2], len(parameters) if executemany else 1))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    return seen


async def test_a_burst_is_one_insert_per_table_and_reads_back_as_the_orm_stores_it(db):
    commits = GroupCommit(db)
    inserts = inserts_into(db)
    before = datetime.now(UTC)
    first = new_job("first", status="running", progress=0.5)
    callers = [(first, audit.activity("execute", "job", "first", "started", "ann", "operator"))]
    callers += [(new_job(f"j{i}"), audit.activity("execute", "job", f"j{i}", "started", "bob", None, {"i": i})) for i in range(19)]
    await asyncio.gather(*(commits.add(*rows) for rows in callers))

    assert inserts == [("job_runs", 20), ("activities", 20)]
    job = callers[1][0]
    assert (job.status, job.progress, job.attempt, job.last_seq, job.triggered_by) == ("pending", 0, 1, 0, "manual")
    assert job.flow_run_id is None and before <= job.created_at <= datetime.now(UTC)
    assert (first.status, first.progress) == ("running", 0.5)
    async with db.session() as session:
        stored = {row.job_id: row for row in (await session.scalars(select(JobRun))).all()}
        activities = (await session.scalars(select(Activity).order_by(Activity.id))).all()
    assert set(stored) == {"first", *(f"j{i}" for i in range(19))}
    for objects in callers:
        row = stored[objects[0].job_id]
        assert (row.status, row.progress, row.attempt, row.model_config, row.created_at) == (
            objects[0].status, objects[0].progress, objects[0].attempt, objects[0].model_config, objects[0].created_at)
    assert [(a.entity_id, a.actor, a.metadata_) for a in activities] == [("first", "ann", None), *((f"j{i}", "bob", {"i": i}) for i in range(19))]


async def test_a_callers_bad_row_fails_that_caller_alone(db):
    commits = GroupCommit(db)
    await commits.add(new_job("taken"))
    outcomes = await asyncio.gather(
        commits.add(new_job("a"), audit.activity("execute", "job", "a", "started", "ann", None)),
        commits.add(new_job("taken"), audit.activity("execute", "job", "taken", "started again", "bob", None)),
        commits.add(new_job("b")),
        return_exceptions=True,
    )
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], IntegrityError)
    async with db.session() as session:
        assert sorted((await session.scalars(select(JobRun.job_id))).all()) == ["a", "b", "taken"]
        assert (await session.scalars(select(Activity.actor))).all() == ["ann"]  # bob's row went with his failed job


@pytest.mark.parametrize("rows", [0, 1])
async def test_nothing_or_one_row_is_written_as_asked(db, rows):
    await GroupCommit(db).add(*[new_job(f"only{i}") for i in range(rows)])
    async with db.session() as session:
        assert len((await session.scalars(select(JobRun))).all()) == rows
