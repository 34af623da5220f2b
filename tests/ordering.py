"""Test order: tests marked `restarts_shared` (they restart or kill a part of the session's stack, or the
machine's PostgreSQL) or `prunes_shared` (they delete what other tests' runs left) run after every other test, whatever the base order — file order, or the shuffle of
`-p randomly` (pytest-randomly). Each such test puts back what it stopped; running them last means a
restart that goes wrong shows in the restart test itself rather than in whichever test came next."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "restarts_shared: restarts or kills part of the session's stack or the machine's PostgreSQL")
    config.addinivalue_line("markers", "prunes_shared: deletes what earlier tests' runs left on the session's stack")


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle, which runs first
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=goes_last)  # stable: keeps the base order within each part


def goes_last(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in ("restarts_shared", "prunes_shared"))
