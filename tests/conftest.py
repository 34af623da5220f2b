"""Fixtures: one real stack per test session, HTTP and Socket.IO clients against it."""

from __future__ import annotations

import httpx
import pytest

from harness.clients import (  # noqa: F401 - re-exported: test modules import these from here
    SAMPLES,
    TERMINAL,
    EventRecorder,
    admin_client,
    all_lines,
    execute,
    job,
    sample,
    upload,
    wait_for_job,
)
from harness.stack import Stack
from tests.deps import wheelhouse


def _print_role_logs(system: Stack) -> None:
    for name in ("prefect", "worker", "api"):
        print(f"----- {name} log (tail) -----\n{system.logs(name)[-6000:]}")


def running_stack(system: Stack, request):
    """Start `system`, yield it, stop it; its roles' logs are printed when it or the session failed."""
    try:
        system.start()
    except Exception:
        _print_role_logs(system)
        system.stop()
        raise
    yield system
    system.stop()
    if request.session.testsfailed:
        _print_role_logs(system)  # what the processes said, for a failure seen only in CI


@pytest.fixture(scope="session")
def stack(tmp_path_factory, request) -> Stack:
    # models' dependencies resolve from PyPI plus a local wheelhouse of test packages (tests/deps/wheelhouse.py)
    wheels = wheelhouse.fill(tmp_path_factory.mktemp("wheelhouse"))
    yield from running_stack(Stack(tmp_path_factory.mktemp("optbox-data"), extra_env={"OPTBOX_PACKAGE_FIND_LINKS": str(wheels)}), request)


@pytest.fixture(scope="session")
def api(stack: Stack) -> httpx.Client:
    with admin_client(stack) as client:
        yield client


@pytest.fixture
def keep_active_models(api):
    """Uploads activate the new model; put the previously active ones back afterwards."""
    active = [m["id"] for m in api.get("/api/optimization/models", params={"status": "active"}).json()["models"]]
    yield
    for model_id in active:
        api.post(f"/api/optimization/models/{model_id}/activate")


@pytest.fixture
async def events(stack: Stack):
    async with EventRecorder(stack.api_url) as recorder:
        yield recorder
