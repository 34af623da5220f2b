"""Create the work pool, apply prefect.yaml, and set the work queues' concurrency limits."""

from __future__ import annotations

import asyncio
import subprocess

from deployments.heartbeats import ensure_crash_automation
from optbox.prefect_env import prefect_cli, with_prefect_env
from optbox.protocol import ModelType, deployment_name
from optbox.settings import PROJECT_DIR, Settings

MAINTENANCE_QUEUE = "maintenance"


async def ensure_work_pool(settings: Settings) -> None:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    pool = WorkPoolCreate(name=settings.work_pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template())
    async with PrefectClient(api=settings.resolved_prefect_api_url) as client:
        try:
            await client.create_work_pool(pool)
        except ObjectAlreadyExists:
            pass


async def limit_work_queues(settings: Settings) -> None:
    """Per-type concurrency: each type's work queue starts at most OPTBOX_RUN_CONCURRENCY runs at
    once; the rest stay Scheduled, and the worker takes them in order of their expected start."""
    from prefect.client.orchestration import PrefectClient

    limits = {deployment_name(model_type): settings.run_concurrency for model_type in ModelType} | {MAINTENANCE_QUEUE: 1}
    async with PrefectClient(api=settings.resolved_prefect_api_url) as client:
        for queue in await client.read_work_queues(work_pool_name=settings.work_pool):
            if queue.name in limits and queue.concurrency_limit != limits[queue.name]:
                await client.update_work_queue(queue.id, concurrency_limit=limits[queue.name])


def apply_deployments(settings: Settings) -> None:
    """Create the process work pool, apply prefect.yaml with Prefect's own CLI, limit the queues."""
    asyncio.run(ensure_work_pool(settings))
    asyncio.run(ensure_crash_automation(settings))
    subprocess.run([*prefect_cli(), "--no-prompt", "deploy", "--all", "--prefect-file", str(PROJECT_DIR / "prefect.yaml")],
                   env=with_prefect_env(settings), cwd=PROJECT_DIR, check=True, stdout=subprocess.DEVNULL)
    asyncio.run(limit_work_queues(settings))
