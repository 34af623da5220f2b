"""The environment every role hands Prefect: where its API is, where its home is, nothing phoning home,
and the scale-out switches (a database and Redis messaging for the server, heartbeats for flow runs).

Derived from the settings alone, so the launcher (cli/), the worker and `deployments/` agree on it.
"""

from __future__ import annotations

import os
import sys

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
    """Prefect's own command line, in this interpreter."""
    return [sys.executable, "-m", "prefect"]
