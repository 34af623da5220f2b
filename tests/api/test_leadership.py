"""The mirror's leadership lease on the machine's Redis: one leader, handed over when it goes."""

from __future__ import annotations

import asyncio
import uuid

from api.leadership import Leadership

REDIS = "redis://127.0.0.1:6379/0"


async def test_one_replica_leads_and_another_takes_over_when_it_stops():
    name = f"optbox-test-lease-{uuid.uuid4().hex}"
    first, second = Leadership(REDIS, name, ttl_s=5), Leadership(REDIS, name, ttl_s=5)
    try:
        assert await first.held() and await first.held()  # renewing is leading still
        assert not await second.held()
        await first.close()  # a clean stop hands over at once
        assert await second.held()
    finally:
        await second.close()


async def test_a_dead_leader_s_lease_runs_out():
    name = f"optbox-test-lease-{uuid.uuid4().hex}"
    dead, alive = Leadership(REDIS, name, ttl_s=3), Leadership(REDIS, name, ttl_s=3)
    try:
        assert await dead.held()
        assert not await alive.held()
        async with asyncio.timeout(30):  # bounds a hang only: the dead one never renews, its lease runs out
            while not await alive.held():
                await asyncio.sleep(0.2)
        assert not await dead.held()  # back too late: the lease is the other's now
    finally:
        await dead.close()
        await alive.close()


async def test_without_redis_the_only_replica_leads():
    assert await Leadership(None, "unused", ttl_s=5).held()
