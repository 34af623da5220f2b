"""Create the work pool, apply prefect.yaml, and set the work queues' concurrency limits.

Applying again keeps each DMO/RMO/SO schedule's live state: a pause or a cron set through the
facade (PATCH /api/optimization/schedules/{type}) survives `optbox deploy`; prefect.yaml's cron
and OPTBOX_SCHEDULES_ACTIVE only shape a deployment created for the first time.
"""

from __future__ import annotations

import asyncio
import subprocess

from deployments.heartbeats import ensure_crash_automation
from optbox.prefect_env import prefect_cli, with_prefect_env
from optbox.protocol import ModelType, deployment_name, deployment_path
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


LiveSchedules = dict[ModelType, tuple[str, bool]]  # → (cron, active)


async def read_live_schedules(settings: Settings) -> LiveSchedules:
    """The cron and active flag of each existing DMO/RMO/SO deployment's cron schedule."""
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.exceptions import ObjectNotFound

    live: LiveSchedules = {}
    async with PrefectClient(api=settings.resolved_prefect_api_url) as client:
        for model_type in ModelType:
            try:
                deployment = await client.read_deployment_by_name(deployment_path(model_type))
            except ObjectNotFound:
                continue
            for schedule in await client.read_deployment_schedules(deployment.id):
                if isinstance(schedule.schedule, CronSchedule):
                    live[model_type] = (schedule.schedule.cron, schedule.active)
                    break
    return live


async def restore_live_schedules(settings: Settings, live: LiveSchedules) -> None:
    """Put back the cron and active flag `prefect deploy` reset to prefect.yaml's; the timezone stays the file's."""
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.schedules import CronSchedule

    async with PrefectClient(api=settings.resolved_prefect_api_url) as client:
        for model_type, (cron, active) in live.items():
            deployment = await client.read_deployment_by_name(deployment_path(model_type))
            for schedule in await client.read_deployment_schedules(deployment.id):
                if isinstance(schedule.schedule, CronSchedule):
                    if (schedule.schedule.cron, schedule.active) != (cron, active):
                        await client.update_deployment_schedule(deployment.id, schedule.id, active=active,
                                                                schedule=CronSchedule(cron=cron, timezone=schedule.schedule.timezone))
                    break


def apply_deployments(settings: Settings) -> None:
    """Create the process work pool, apply prefect.yaml with Prefect's own CLI (keeping live schedules), limit the queues."""
    asyncio.run(ensure_work_pool(settings))
    asyncio.run(ensure_crash_automation(settings))
    live = asyncio.run(read_live_schedules(settings))
    subprocess.run([*prefect_cli(), "--no-prompt", "deploy", "--all", "--prefect-file", str(PROJECT_DIR / "prefect.yaml")],
                   env=with_prefect_env(settings), cwd=PROJECT_DIR, check=True, stdout=subprocess.DEVNULL)
    asyncio.run(restore_live_schedules(settings, live))
    asyncio.run(limit_work_queues(settings))
