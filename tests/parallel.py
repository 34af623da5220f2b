"""How `make test` splits the suite between its pytest-xdist workers (`--dist loadgroup`): each worker runs
its own session stack, and a test module goes to one worker whole, so its module fixtures start once. Tests
that use the machine's PostgreSQL and Redis (the storage tests' PostgreSQL half, the scale-out tests that
restart PostgreSQL and flush their Redis database, the lease and shared-limit tests) form one group, so a
PostgreSQL restart never lands in the middle of another worker's query. Tests that go last (tests/ordering.py)
form groups of their own, which the scheduler hands out last."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ordering import goes_last

TESTS = Path(__file__).parent
MACHINE_SERVICES = "machine-services"
ON_MACHINE_SERVICES = (TESTS / "storage", TESTS / "scale", TESTS / "api" / "test_leadership.py", TESTS / "api" / "test_shared_rate_limits.py")


def group_of(item: pytest.Item) -> str:
    path = Path(item.path)
    if any(path == place or place in path.parents for place in ON_MACHINE_SERVICES):
        return MACHINE_SERVICES
    module = path.relative_to(TESTS).as_posix()
    return f"{module}:last" if goes_last(item) else module


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups into the node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group_of(item)))
