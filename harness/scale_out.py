"""A scale-out deployment on this machine's real PostgreSQL and Redis (the scale-out tests' fixture and bench/sizing.py).

  prefect     Prefect server with its services: database on PostgreSQL, messaging on Redis (prefect-redis)
  prefect-b   a second Prefect API process (--no-services) on the same database and Redis: HA Prefect
  api-a/b     two API replicas, each with its own data dir; app database on PostgreSQL,
              files in the database (no shared filesystem), Socket.IO through Redis
  worker-1    a worker in the checkout, shipping lines to api-a
  worker-2    a worker started in another directory with its own data dir, talking to prefect-b
              and shipping to api-b (its runs' heartbeats reach prefect's automations only through Redis)

Each session gets its own PostgreSQL databases (dropped afterwards), its own Redis
database and pub/sub channel. PostgreSQL and Redis are machine services here and in
CI: when either is unreachable the tests fail, they are never skipped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import redis

from harness.stack import ADMIN_TOKEN, Stack, free_port, wait_until

PG_HOST = "postgres@127.0.0.1:5432"  # trust auth, as on the development and CI machines
PG_ADMIN = f"postgresql://{PG_HOST}/postgres"
REDIS = "redis://127.0.0.1:6379"
WORKER_TOKEN = "test-worker-" + "w" * 24
REDIS_CLAIM = "optbox-test-session"


def _run(coroutine):
    """Run a coroutine to completion from sync fixture code, whatever loop pytest-asyncio holds."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _pg(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


class ServicesMissing(RuntimeError):
    """PostgreSQL or Redis is not there: the scale-out suite fails (never skips)."""


def require_services() -> None:
    try:
        _run(_pg("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        raise ServicesMissing(f"PostgreSQL at {PG_HOST} is required for the scale-out suite and is unreachable: {exc}") from exc
    try:
        redis.Redis.from_url(REDIS, socket_timeout=3).ping()
    except redis.RedisError as exc:
        raise ServicesMissing(f"Redis at {REDIS} is required for the scale-out suite and is unreachable: {exc}") from exc


def _claim_redis_db(session_id: str) -> int:
    """An empty Redis database for this session (Prefect's streams and caches are per database)."""
    for index in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS}/{index}")
        if client.dbsize() == 0 and client.set(REDIS_CLAIM, session_id, nx=True, ex=3600):
            return index
    raise ServicesMissing("no empty Redis database (1-15) for the scale-out suite")


@dataclass
class ScaleOut:
    stack: Stack
    api_b_port: int
    prefect_b_port: int
    app_database: str
    prefect_database: str

    @property
    def api_a(self) -> str:
        return self.stack.api_url

    @property
    def prefect_b_api(self) -> str:
        return f"http://127.0.0.1:{self.prefect_b_port}/api"

    @property
    def api_b(self) -> str:
        return f"http://127.0.0.1:{self.api_b_port}"

    def client(self, base_url: str) -> httpx.Client:
        return httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    def start_api_b(self) -> None:
        self.stack.start_role("api-b", "api", env={"OPTBOX_DATA_DIR": str(self.stack.data_dir.parent / "api-b"),
                                                   "OPTBOX_API_PORT": str(self.api_b_port)})
        wait_until(lambda: _healthy(self.api_b), 120, "replica B to be healthy", interval=0.3)

    async def prefect_db_has_flow_run(self, flow_run_id: str) -> bool:
        conn = await asyncpg.connect(f"postgresql://{PG_HOST}/{self.prefect_database}", timeout=5)
        try:
            return await conn.fetchval("SELECT count(*) FROM flow_run WHERE id = $1::uuid", flow_run_id) == 1
        finally:
            await conn.close()

    def pause(self, role: str) -> None:
        """Freeze a worker (SIGSTOP): it takes no runs until resumed, so the other one gets them."""
        os.killpg(self.stack.processes[role].pid, signal.SIGSTOP)

    def resume(self, role: str) -> None:
        os.killpg(self.stack.processes[role].pid, signal.SIGCONT)


def _healthy(url: str, path: str = "/api/health") -> bool:
    try:
        response = httpx.get(f"{url}{path}", timeout=2)
        return response.status_code == 200 and (path != "/api/health" or response.json().get("status") == "ok")
    except (httpx.HTTPError, ValueError):
        return False


@contextmanager
def scale_out(base: Path) -> Iterator[ScaleOut]:
    """Start the deployment under `base` (its data dirs and role logs); stop it and drop its databases after."""
    require_services()
    session_id = uuid.uuid4().hex[:10]
    app_db, prefect_db = f"optbox_scale_{session_id}", f"optbox_scale_prefect_{session_id}"
    redis_db = _claim_redis_db(session_id)
    for name in (app_db, prefect_db):
        _run(_pg(f'CREATE DATABASE "{name}"'))
    stack = Stack(base / "api-a", extra_env={
        "OPTBOX_DATABASE_URL": f"postgresql+asyncpg://{PG_HOST}/{app_db}",
        "OPTBOX_PREFECT_DATABASE_URL": f"postgresql+asyncpg://{PG_HOST}/{prefect_db}",
        "OPTBOX_PREFECT_REDIS_URL": f"{REDIS}/{redis_db}",
        "OPTBOX_REDIS_URL": f"{REDIS}/{redis_db}",
        "OPTBOX_REDIS_CHANNEL": f"optbox-socketio-{session_id}",
        "OPTBOX_FILE_STORE": "database",
        "OPTBOX_WORKER_TOKEN": WORKER_TOKEN,
    })
    deployment = ScaleOut(stack, free_port(), free_port(), app_db, prefect_db)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir(parents=True)
    try:
        stack.data_dir.mkdir(parents=True)
        stack.start_role("prefect", "prefect")
        stack.start_role("worker-1", "worker", "--deploy", "--name", "worker-1")
        stack.start_role("api-a", "api")
        wait_until(lambda: _healthy(f"{stack.prefect_api_url}", "/health"), 180, "Prefect to be up", interval=0.5)
        # after the first: it has migrated the shared database
        stack.start_role("prefect-b", "prefect", "--no-services", env={
            "OPTBOX_DATA_DIR": str(base / "prefect-b"), "OPTBOX_PREFECT_PORT": str(deployment.prefect_b_port)})
        stack.start_role("worker-2", "worker", "--name", "worker-2", cwd=elsewhere, env={
            "OPTBOX_DATA_DIR": str(base / "worker-2"), "OPTBOX_API_URL": deployment.api_b,
            "OPTBOX_PREFECT_API_URL": deployment.prefect_b_api, "PREFECT_API_URL": deployment.prefect_b_api})
        wait_until(lambda: _healthy(deployment.api_a), 180, "replica A to be healthy", interval=0.3)
        deployment.start_api_b()  # after A: the first replica registers the samples
        wait_until(stack.deployments_ready, 240, "worker-1 to apply prefect.yaml", interval=1)
        yield deployment
    except BaseException:
        print_scale_logs(stack)
        raise
    finally:
        stack.stop()
        for name in (app_db, prefect_db):
            _run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        redis.Redis.from_url(f"{REDIS}/{redis_db}").flushdb()


def print_scale_logs(stack: Stack) -> None:
    for name in ("prefect", "prefect-b", "worker-1", "worker-2", "api-a", "api-b"):
        print(f"----- {name} log (tail) -----\n{stack.logs(name)[-5000:]}")

