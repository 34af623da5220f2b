"""How each role is started: the environment and command lines for the Prefect server,
the worker and the API. `optbox up` runs them together; each also runs alone."""

from __future__ import annotations

import os
import sys
import time

import httpx

from optbox.settings import PROJECT_DIR, Settings


def prefect_env(settings: Settings) -> dict[str, str]:
    """Environment every role gives Prefect: where its API is, and nothing phoning home."""
    env = {
        "PREFECT_API_URL": settings.resolved_prefect_api_url,
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_API_URL": settings.resolved_prefect_api_url,
        "PREFECT_WORKER_QUERY_SECONDS": str(settings.worker_poll_s),
        "PREFECT_WORKER_PREFETCH_SECONDS": "10",
        # Deliver model lines to Prefect's run logs promptly (stock batching adds 1.5-2 s).
        "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.25",
        "OPTBOX_PROJECT_DIR": str(PROJECT_DIR),
        "OPTBOX_WORK_POOL": settings.work_pool,
        "OPTBOX_TIMEZONE": settings.timezone,
        "OPTBOX_SCHEDULES_ACTIVE": "true" if settings.schedules_active else "false",
        "OPTBOX_DATA_DIR": str(settings.resolved_data_dir),
        "OPTBOX_API_URL": settings.resolved_api_url,
    }
    if settings.prefect_database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = settings.prefect_database_url
    return env


def with_prefect_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **prefect_env(settings)}


def prefect_cli() -> list[str]:
    return [sys.executable, "-m", "prefect"]


def prefect_server_command(settings: Settings) -> list[str]:
    return [*prefect_cli(), "server", "start", "--host", settings.prefect_host, "--port", str(settings.prefect_port)]


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
