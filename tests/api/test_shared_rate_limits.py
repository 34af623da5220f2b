"""Rate limits shared by API replicas through the machine's Redis."""

from __future__ import annotations

import uuid

import pytest

from api.auth import RateLimits
from api.errors import ApiError
from optbox.settings import Settings


async def test_a_key_s_budget_is_shared_by_every_replica(tmp_path):
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0", redis_channel=f"optbox-test-{uuid.uuid4().hex}",
                        execute_rate="3/minute")
    replica_a, replica_b = RateLimits(settings), RateLimits(settings)
    await replica_a.check("execute", "analyst")
    await replica_b.check("execute", "analyst")
    await replica_a.check("execute", "analyst")
    with pytest.raises(ApiError) as refused:
        await replica_b.check("execute", "analyst")
    assert refused.value.status_code == 429 and int(refused.value.headers["Retry-After"]) >= 1
    await replica_b.check("execute", "another key")  # budgets are per key


async def test_without_redis_each_process_counts_alone(tmp_path):
    settings = Settings(data_dir=tmp_path, execute_rate="1/minute")
    await RateLimits(settings).check("execute", "analyst")
    alone = RateLimits(settings)
    await alone.check("execute", "analyst")
    with pytest.raises(ApiError) as refused:
        await alone.check("execute", "analyst")
    assert refused.value.status_code == 429 and 1 <= int(refused.value.headers["Retry-After"]) <= 60
