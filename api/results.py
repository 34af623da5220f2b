"""Result files read back for people: a preview of each tabular result and a run's Excel report.

Entry points
- `preview_url(job_id, name)`: where a result's preview is served; None for a file that is not tabular.
- `preview_result(...)`: the `ResultPreview` of one stored result, as JSON bytes.
- `run_report(...)`: the run's workbook: "Summary", one sheet per tabular result, "Log".

Contracts
- Files are spooled from the store to a temporary file a chunk at a time, and read in worker threads
  (`ResultViews.limiter`, WORK_THREADS at once), never on the event loop; no database session is held meanwhile.
- The reading itself (pandas, openpyxl) is api/result_files.py, imported on first use (`readers`).
- Previews are cached per content (sha256) and name, so reopening one is instant; one computation per key.
- A missing run or file is a 404; a file that does not read is a preview of kind "error" (200).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
from cachetools import LRUCache

from api.errors import ApiError
from api.schemas import JobSummary, ResultPreview
from storage import jobs
from storage.db import Database
from storage.files import FileStore
from storage.models import JobArtifact, JobLog, JobRun

TABULAR_SUFFIXES = (".csv", ".xlsx", ".json", ".parquet")
REPORT_LOG_LINES = 1_000
WORK_THREADS = 2  # previews and reports computed at once; the rest wait their turn
PREVIEWS_CACHED = 32  # each at most ~1 MB
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
T = TypeVar("T")
NOT_TABULAR = "not a tabular file (CSV, XLSX, JSON or Parquet); download it"


def readers() -> ModuleType:
    """api.result_files, imported on first use (deferred on purpose: pandas, numpy and openpyxl would add
    tens of MB to every facade process from start-up, for previews that may never be asked for)."""
    from api import result_files

    return result_files


def is_tabular(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in TABULAR_SUFFIXES


def preview_url(job_id: str, name: str) -> str | None:
    return f"/api/optimization/jobs/{job_id}/previews/{quote(name)}" if is_tabular(name) else None


class ResultViews:
    """What one facade holds for previews and reports: the worker threads' limiter and the preview cache."""

    def __init__(self) -> None:
        self.limiter = anyio.CapacityLimiter(WORK_THREADS)
        self.previews: LRUCache[tuple[str, str], bytes] = LRUCache(PREVIEWS_CACHED)
        self.computing: dict[tuple[str, str], asyncio.Task[bytes]] = {}

    async def in_thread(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` in a worker thread, once one of WORK_THREADS is free."""
        return await anyio.to_thread.run_sync(work, *args, limiter=self.limiter)

    async def preview(self, files: FileStore, artifact: StoredResult) -> bytes:
        key = (artifact.sha256, artifact.name)
        if (ready := self.previews.get(key)) is not None:
            return ready
        task = self.computing.get(key)
        if task is None:
            task = self.computing[key] = asyncio.create_task(self._compute_preview(files, artifact, key), name=f"preview-{artifact.name}")
            task.add_done_callback(lambda _: self.computing.pop(key, None))
        return await asyncio.shield(task)  # a client that leaves does not cancel the work others wait on

    async def _compute_preview(self, files: FileStore, artifact: StoredResult, key: tuple[str, str]) -> bytes:
        if not is_tabular(artifact.name):
            encoded = ResultPreview(name=artifact.name, kind="none", message=NOT_TABULAR).model_dump_json().encode()
        else:
            with tempfile.TemporaryDirectory(prefix="optbox-preview-") as folder:
                path = Path(folder, "result")
                await spool(files, artifact.file_ref, path)
                encoded = await self.in_thread(lambda: readers().build_preview(path, artifact.name))
        self.previews[key] = encoded
        return encoded


@dataclass(frozen=True)
class StoredResult:
    """A result file as the store holds it, read off its row so no session stays open while it is read."""

    name: str
    file_ref: str
    sha256: str
    size: int

    @classmethod
    def of(cls, artifact: JobArtifact) -> StoredResult:
        return cls(artifact.name, artifact.file_ref, artifact.sha256, artifact.size)


async def spool(files: FileStore, key: str, path: Path) -> None:
    """The stored bytes into a local file, a chunk at a time (the readers want a file, and a whole result in memory is what we avoid)."""
    with path.open("wb") as handle:
        async for chunk in files.stream(key):
            await anyio.to_thread.run_sync(handle.write, chunk)


def summary_rows(job: JobRun) -> list[tuple[str, Any]]:
    """The run as the API shows it, one field a row; configs, limits and metrics as JSON text."""
    shown = JobSummary.model_validate(job).model_dump(mode="json", by_alias=True)
    order = ["job_id", "model_type", "status", "triggered_by", "attempt", "created_at", "started_at", "completed_at", "duration_ms",
             "model_name", "model_version", "model_sha256", "lock_sha256", "data_source_id", "data_source_sha256", "flow_run_id",
             "model_config", "limits", "peak_memory_mb", "cpu_seconds", "queued_s", "objective_value", "solver_time_ms",
             "results_count", "metrics", "exit_code", "error_message"]
    rows = [(key, shown.get(key)) for key in order]
    rows += [(f"metric {name}", value) for name, value in (job.metrics or {}).items()]
    return [(key, json.dumps(value) if isinstance(value, dict | list) else value) for key, value in rows]


# ---------------------------------------------------------------- the service functions the routes call


async def find_result(db: Database, job_id: str, name: str) -> StoredResult:
    async with db.session() as session:
        if await jobs.get_job(session, job_id) is None:
            raise ApiError(404, f"job {job_id} not found")
        artifact = await jobs.get_artifact(session, job_id, "result", name)
        if artifact is None:
            raise ApiError(404, f"job {job_id} has no result file {name!r}")
        return StoredResult.of(artifact)


async def preview_result(db: Database, files: FileStore, views: ResultViews, job_id: str, name: str) -> bytes:
    """The ResultPreview JSON of one result of a run; 404 when the run or the file is missing."""
    return await views.preview(files, await find_result(db, job_id, name))


async def run_report(db: Database, files: FileStore, views: ResultViews, job_id: str) -> bytes:
    """The run's .xlsx report; 404 when the run is missing. Results are read one at a time, each from a spooled copy."""
    async with db.session() as session:
        job = await jobs.get_job(session, job_id)
        if job is None:
            raise ApiError(404, f"job {job_id} not found")
        summary = summary_rows(job)
        results = [StoredResult.of(a) for a in await jobs.list_artifacts(session, job_id, "result")]
        lines = [log_row(line) for line in await jobs.tail_lines(session, job_id, REPORT_LOG_LINES)]
    report = await views.in_thread(lambda: readers().Report.start())
    with tempfile.TemporaryDirectory(prefix="optbox-report-") as folder:
        for result in results:
            if not is_tabular(result.name):
                report.summary.append((f"Result {result.name}", "not tabular; not included"))
                continue
            path = Path(folder, "result")
            await spool(files, result.file_ref, path)
            await views.in_thread(report.add_result, path, result.name)
            path.unlink()
    return await views.in_thread(report.finish, summary, lines)


def log_row(line: JobLog) -> dict[str, Any]:
    return {"seq": line.seq, "timestamp": line.timestamp, "level": line.level, "stream": line.stream, "message": line.message}
