"""How each role is started: the environment and command lines for the Prefect server,
the worker and the API. `optbox up` runs them together; each also runs alone."""

from __future__ import annotations

import gc
import os
import sys
import time

import httpx

from optbox.settings import PROJECT_DIR, Settings


def freeze_startup_heap() -> None:
    """Put what a process allocated while starting (modules, the app, Prefect's client) out of the
    garbage collector's reach. Its full collections then walk only what was made since: in the
    facade under an output flood they had walked ~240k startup objects every few seconds, each
    time holding the event loop 0.4-0.7 s (`make bench` case g). Call once, when started."""
    gc.collect()
    gc.freeze()


FULL_COLLECTION_EVERY = 1000  # young-generation collections between two full ones (Python's default: 10)


def spread_full_collections() -> None:
    """Make full collections a hundred times rarer. With the startup heap frozen, what survives the young
    collections soon passes Python's 25 % test for a full one, and a burst of requests met one or two full
    collections of 11-22 ms each, every request in flight waiting them out (20 clients' executes, p99 46-63
    ms with Python's default and 35-47 ms with this, alternating). The young collections still free
    most cycles; the rest is freed at the next full one (the facade's RSS in bench case f: 160 MB)."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


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
    env.update(heartbeat_env(settings))
    if settings.prefect_database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = settings.prefect_database_url
    if settings.prefect_redis_url:
        env.update(prefect_redis_env(settings.prefect_redis_url))
    return env


def heartbeat_env(settings: Settings) -> dict[str, str]:
    """Flow runs beat every run_heartbeat_s; the crash automation (deployments/heartbeats.py)
    marks a run whose beats stop (its worker died) Crashed."""
    return {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(settings.run_heartbeat_s)}


def prefect_redis_env(url: str) -> dict[str, str]:
    """Prefect's server on Redis (prefect-redis) instead of in-memory messaging: events,
    automations' causal ordering, concurrency leases and background tasks (docket) are
    then shared by every Prefect server process, so several can serve behind one address."""
    return {
        "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
        "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
        "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
        "PREFECT_REDIS_MESSAGING_URL": url,
        "PREFECT_SERVER_DOCKET_URL": url,
    }


def with_prefect_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **prefect_env(settings)}


def prefect_cli() -> list[str]:
    return [sys.executable, "-m", "prefect"]


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
