"""SQLite WAL checkpoints: inside the commit that crosses SQLite's threshold, or only in Database.checkpoints."""

from __future__ import annotations

import asyncio
import os

from storage.db import Database, migrate
from storage.models import JobRun

PAYLOAD_BYTES = 6 * 1024 * 1024  # past SQLite's 1,000-page automatic checkpoint


async def _database(tmp_path, **kwargs) -> tuple[Database, str]:
    path = tmp_path / "optbox.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(migrate, url)
    return Database(url, **kwargs), str(path)


async def _write_past_the_threshold(db: Database) -> None:
    async with db.session() as session:
        session.add(JobRun(job_id="big", model_type="SO", model_config={"blob": "x" * PAYLOAD_BYTES}))
        await session.commit()


async def test_without_the_task_a_commit_checkpoints_itself(tmp_path):
    db, path = await _database(tmp_path)
    try:
        await _write_past_the_threshold(db)
        assert os.path.getsize(path) > PAYLOAD_BYTES  # copied into the database file by the commit
    finally:
        await db.dispose()


async def test_with_the_task_commits_leave_the_copy_to_it(tmp_path):
    db, path = await _database(tmp_path, checkpoint_every_s=0.05)
    try:
        await _write_past_the_threshold(db)
        assert os.path.getsize(path) < PAYLOAD_BYTES  # still only in the WAL
        task = asyncio.create_task(db.checkpoints())
        for _ in range(1200):  # a minute at most: only a hang waits that long
            if os.path.getsize(path) > PAYLOAD_BYTES:
                break
            await asyncio.sleep(0.05)
        db.stop_checkpoints()
        await asyncio.wait_for(task, 60)  # it ends when told to, even in the middle of a checkpoint
        assert os.path.getsize(path) > PAYLOAD_BYTES
    finally:
        await db.dispose()
