"""The maintenance flow: retention of old runs' logs and files, as a scheduled Prefect deployment.

Runs on the same work pool as the model runs (queue `maintenance`, one at a time).
It asks the facade to prune (the facade owns the database and the file store) and
removes this worker's own leftovers: scratch directories and log files of runs whose
flow was killed outright before it could clean up, and the least recently used model
environments above OPTBOX_DEPS_CACHE_GB. Reports what it removed in its
return value, its log and a Prefect artifact.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.facade import FacadeClient
from optbox import environments
from optbox.protocol import PruneRequest
from optbox.settings import get_settings

MAINTENANCE_FLOW_NAME = "optbox-maintenance"


def prune_worker_leftovers(runs_dir: Path, older_than_days: float, longest_run_s: float) -> int:
    """Scratch dirs and log files under runs_dir not touched for `older_than_days`, and never
    younger than the longest a run may last (a live run's scratch stays); returns how many went."""
    if not runs_dir.is_dir():
        return 0
    cutoff = time.time() - max(older_than_days * 86400, longest_run_s + 600)
    removed = 0
    for entry in runs_dir.iterdir():
        if entry.lstat().st_mtime < cutoff:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
    return removed


@flow(name=MAINTENANCE_FLOW_NAME, persist_result=False, validate_parameters=True)
async def prune_old_runs(older_than_days: float | None = None) -> dict:
    """Prune JobLog rows, log files and result files of runs finished more than `older_than_days`
    (default OPTBOX_RETENTION_DAYS) ago. JobRun summaries are kept."""
    settings = get_settings()
    days = settings.retention_days if older_than_days is None else older_than_days
    logger = get_run_logger()
    facade = FacadeClient(settings.resolved_api_url, token=settings.secret("worker_token"), give_up_after_s=settings.flow_finish_grace_s)
    try:
        report = await facade.prune(PruneRequest(older_than_days=days))
    finally:
        await facade.aclose()
    leftovers = prune_worker_leftovers(settings.resolved_data_dir / "runs", days, settings.run_timeout_s)
    environments_removed = len(environments.prune())  # least recently used above OPTBOX_DEPS_CACHE_GB
    summary = {**report.model_dump(mode="json"), "worker_leftovers": leftovers, "environments_removed": environments_removed}
    logger.info("retention (%g days): removed %d log lines, %d log files, %d result files (%d bytes) of %d runs; "
                "%d leftover scratch entries on this worker", days, report.log_rows, report.log_files, report.result_files,
                report.bytes, report.runs, leftovers)
    await create_markdown_artifact(
        key="optbox-retention", description="what retention removed",
        markdown="\n".join(["| what | removed |", "|---|---|", *(f"| {k} | {v} |" for k, v in summary.items())]),
    )
    return summary
