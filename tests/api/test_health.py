"""Health's database check: polls that arrive together share one query, and a database that fails says so."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from sqlalchemy import event

from api.routes.health import _DatabaseCheck
from storage.db import Database


async def test_polls_that_arrive_together_share_one_query_and_a_later_poll_asks_again(tmp_path):
    facade = SimpleNamespace(db=Database(f"sqlite+aiosqlite:///{tmp_path / 'optbox.db'}"))
    queries = []
    event.listen(facade.db.engine.sync_engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
    check = _DatabaseCheck()
    try:
        assert await asyncio.gather(*(check.status(facade) for _ in range(20))) == [True] * 20
        assert queries == ["SELECT 1"]
        assert await check.status(facade) is True
        assert queries == ["SELECT 1", "SELECT 1"]
    finally:
        await facade.db.dispose()


async def test_a_database_that_cannot_be_opened_is_reported_down_to_every_poll(tmp_path):
    (tmp_path / "optbox.db").mkdir()  # a directory where the file should be
    facade = SimpleNamespace(db=Database(f"sqlite+aiosqlite:///{tmp_path / 'optbox.db'}"))
    try:
        assert await asyncio.gather(*(_DatabaseCheck().status(facade) for _ in range(3))) == [False] * 3
    finally:
        await facade.db.dispose()
