"""Database.open_pool: the pool's connections are open before the first burst of requests needs them."""

from __future__ import annotations

from sqlalchemy import event, text


async def test_open_pool_opens_every_pooled_connection_and_a_burst_then_opens_none(db):
    pool = db.engine.pool
    assert pool.checkedin() == 0
    await db.open_pool()
    assert pool.checkedin() == pool.size()
    opened = []
    event.listen(db.engine.sync_engine, "connect", lambda *_: opened.append(1))
    connections = [await db.engine.connect() for _ in range(pool.size())]
    for connection in connections:
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1
        await connection.close()
    assert opened == [] and pool.checkedin() == pool.size()
