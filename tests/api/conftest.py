"""Fixtures the API tests share."""

from __future__ import annotations

import pytest

from tests.api.test_lifecycle import prefect

SO_QUEUE = "/work_pools/optbox-process/queues/so"


@pytest.fixture
def so_queue_paused(stack):
    """Nothing of type SO starts meanwhile: every SO run created waits in line."""
    prefect(stack, "PATCH", SO_QUEUE, json={"is_paused": True})
    yield
    prefect(stack, "PATCH", SO_QUEUE, json={"is_paused": False})
