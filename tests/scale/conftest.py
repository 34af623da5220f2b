"""One scale-out deployment for the module (harness/scale_out.py): PostgreSQL, Redis, two API
replicas, two workers. PostgreSQL and Redis are machine services here and in CI: when either
is unreachable the tests fail, they are never skipped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.scale_out import ScaleOut, ServicesMissing, print_scale_logs, require_services, scale_out


@pytest.fixture(scope="module")
def scale(tmp_path_factory, request) -> Iterator[ScaleOut]:
    try:
        require_services()
    except ServicesMissing as exc:
        pytest.fail(str(exc))
    with scale_out(tmp_path_factory.mktemp("scale")) as deployment:
        yield deployment
        if request.session.testsfailed:
            print_scale_logs(deployment.stack)
