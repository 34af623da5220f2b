"""Fixtures: one real stack per test session, HTTP and Socket.IO clients against it."""

from __future__ import annotations

from dataclasses import dataclass, field

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

pytest_plugins = ["tests.skips", "tests.ordering"]


def _print_role_logs(system: Stack) -> None:
    for name in ("prefect", "worker", "api"):
        print(f"----- {name} log (tail) -----\n{system.logs(name)[-6000:]}")


def running_stack(system: Stack, request, before_worker=None):
    """Start `system`, yield it, stop it; its roles' logs are printed when it or the session failed."""
    try:
        system.start(before_worker)
    except Exception:
        _print_role_logs(system)
        system.stop()
        raise
    yield system
    system.stop()
    if request.session.testsfailed:
        _print_role_logs(system)  # what the processes said, for a failure seen only in CI


@dataclass
class StartUp:
    """What the session's stack showed in the window between its API being up and its worker starting."""

    health: dict = field(default_factory=dict)
    execute: httpx.Response | None = None


def look_into_start_up(seen: StartUp):
    def before_worker(system: Stack) -> None:
        with admin_client(system) as client:
            seen.health = client.get("/api/health").json()
            seen.execute = client.post("/api/optimization/execute", json={"modelType": "SO"})
    return before_worker


@pytest.fixture(scope="session")
def start_up() -> StartUp:
    return StartUp()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, request, start_up) -> Stack:
    # The system's bwrap (where there is one) is withheld: models run under the bundled one, as on a fresh
    # machine, and the sandbox tests (hostile models included) prove it isolates. Models' dependencies resolve
    # from PyPI plus a local wheelhouse of test packages (tests/deps/wheelhouse.py).
    wheels = wheelhouse.fill(tmp_path_factory.mktemp("wheelhouse"))
    system = Stack(tmp_path_factory.mktemp("optbox-data"),
                   extra_env={"OPTBOX_RUN_SANDBOX_WITHOUT": "system-bwrap", "OPTBOX_PACKAGE_FIND_LINKS": str(wheels)})
    yield from running_stack(system, request, look_into_start_up(start_up))


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
