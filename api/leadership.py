"""One replica at a time does the deployment-wide chores (the Prefect mirror).

With OPTBOX_REDIS_URL the replicas share a Redis lock with a TTL: the holder
renews it every pass; if it dies, another replica takes over once the TTL runs
out. Without Redis there is one replica, and it leads. When Redis cannot be
asked, a replica acts as leader: two mirrors settling the same run is harmless
(status moves are idempotent), a run nobody settles is not.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

log = logging.getLogger(__name__)


class Leadership:
    def __init__(self, redis_url: str | None, name: str, ttl_s: float) -> None:
        self._redis = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2) if redis_url else None
        self._lock = self._redis.lock(name, timeout=ttl_s, blocking=False) if self._redis else None

    async def held(self) -> bool:
        """True when this replica leads now (taking or renewing the lease)."""
        if self._lock is None:
            return True
        try:
            if await self._lock.owned():
                await self._lock.reacquire()
                return True
            return await self._lock.acquire(blocking=False)
        except LockError:
            return False  # lost between the look and the renewal: another replica leads
        except RedisError as exc:
            log.warning("leadership: Redis unreachable (%s); acting as leader", exc)
            return True

    async def close(self) -> None:
        if self._lock is not None:
            try:
                if await self._lock.owned():
                    await self._lock.release()  # hand over at once instead of after the TTL
            except RedisError:
                pass
            await self._redis.aclose()
