"""Test order: tests marked `restarts_shared` (they restart or kill a part of the session's stack, or the
machine's PostgreSQL) or `prunes_shared` (they delete what other tests' runs left) run after every other test, whatever the base order — file order, or the shuffle of
`-p randomly` (pytest-randomly). Each such test puts back what it stopped; running them last means a
restart that goes wrong shows in the restart test itself rather than in whichever test came next. A test marked
`ends_module` (it leaves its module's own stack changed: a worker killed, a stricter worker) runs after the other
tests of its module."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "restarts_shared: restarts or kills part of the session's stack or the machine's PostgreSQL")
    config.addinivalue_line("markers", "prunes_shared: deletes what earlier tests' runs left on the session's stack")
    config.addinivalue_line("markers", "ends_module: leaves its module's own stack changed for good, so it runs after the module's other tests")


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle, which runs first
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    module_place: dict[str, int] = {}
    for place, item in enumerate(items):
        module_place.setdefault(str(item.path), place)
    # stable: the base order within each part, each module's tests together, its `ends_module` test at its end
    items.sort(key=lambda item: (goes_last(item), module_place[str(item.path)], item.get_closest_marker("ends_module") is not None))


def goes_last(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in ("restarts_shared", "prunes_shared"))
