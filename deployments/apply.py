"""Create the work pool and apply prefect.yaml."""

from __future__ import annotations

import asyncio
import subprocess

from deployments.heartbeats import ensure_crash_automation
from optbox.roles import prefect_cli, with_prefect_env
from optbox.settings import PROJECT_DIR, Settings


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


def apply_deployments(settings: Settings) -> None:
    """Create the process work pool, then apply prefect.yaml with Prefect's own CLI."""
    asyncio.run(ensure_work_pool(settings))
    asyncio.run(ensure_crash_automation(settings))
    subprocess.run([*prefect_cli(), "--no-prompt", "deploy", "--all", "--prefect-file", str(PROJECT_DIR / "prefect.yaml")],
                   env=with_prefect_env(settings), cwd=PROJECT_DIR, check=True, stdout=subprocess.DEVNULL)
