"""How each role is started: the environment and command lines for the Prefect server,
the worker and the API. `optbox up` runs them together; each also runs alone."""

from __future__ import annotations

import time

import httpx

from optbox.prefect_env import prefect_cli, with_prefect_env
from optbox.settings import Settings


def prefect_server_env(settings: Settings, *, services: bool = True) -> dict[str, str]:
    """The Prefect server's environment. API-only processes get a docket (Redis task queue) of their own:
    on a shared one their task worker takes the background services' periodic tasks (trigger evaluation,
    scheduler, late runs), does not know them, and drops them (Prefect 3.9)."""
    env = with_prefect_env(settings)
    if not services:
        env["PREFECT_SERVER_DOCKET_NAME"] = "prefect-webserver"
    return env


def prefect_services_command() -> list[str]:
    return [*prefect_cli(), "server", "services", "start"]


def worker_command(settings: Settings, name: str | None = None) -> list[str]:
    command = [*prefect_cli(), "worker", "start", "--pool", settings.work_pool, "--type", "process"]
    return command + (["--name", name] if name else [])


def wait_for_prefect(settings: Settings, timeout_s: float = 120.0) -> None:
    """Block until the Prefect API answers its health check."""
    deadline = time.monotonic() + timeout_s
    url = f"{settings.resolved_prefect_api_url}/health"
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"Prefect API at {url} did not come up within {timeout_s:.0f} s")
        time.sleep(0.5)
