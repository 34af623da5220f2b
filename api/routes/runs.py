"""Runs: execute, status, history, logs (paged and as a file), results, cancel, retry."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.auth import Executor, Operator, Viewer
from api.deps import FacadeDep, IdQuery, Offset, SessionDep
from api.errors import ApiError
from api.queue import queue_positions
from api.results import preview_url
from api.runs import cancel_run, require_job, retry_run, start_run
from api.schemas import (
    ArtifactOut,
    CancelResponse,
    ExecuteRequest,
    ExecuteResponse,
    JobDetail,
    JobResponse,
    JobsResponse,
    JobSummary,
    LogOut,
    LogsResponse,
)
from optbox.protocol import format_log_line
from storage import jobs
from storage.models import JobArtifact, JobRun

router = APIRouter(prefix="/api/optimization", tags=["runs"])

LOGFILE_PAGE = 5000


def _artifact_out(job_id: str, artifact: JobArtifact) -> ArtifactOut:
    out = ArtifactOut.model_validate(artifact)
    out.url = f"/api/optimization/jobs/{job_id}/results/{quote(artifact.name)}"
    out.preview_url = preview_url(job_id, artifact.name)
    return out


async def _detail(facade, session, job: JobRun, tail: int = 100) -> JobDetail:
    detail = JobDetail.model_validate(job)
    detail.logs = [LogOut.model_validate(row) for row in await jobs.tail_lines(session, job.job_id, tail)]
    detail.results = [_artifact_out(job.job_id, a) for a in await jobs.list_artifacts(session, job.job_id, "result")]
    if job.status == "pending":
        detail.queue_position = (await queue_positions(session, job.model_type)).get(job.job_id)
    if job.flow_run_id:
        detail.prefect_url = f"{facade.orchestrator.ui_url}/runs/flow-run/{job.flow_run_id}"
    return detail


@router.post("/execute", status_code=202, response_model=ExecuteResponse)
async def execute(facade: FacadeDep, who: Executor, body: ExecuteRequest) -> ExecuteResponse:
    job = await start_run(facade, body, who)
    return ExecuteResponse(jobId=job.job_id, status=job.status, flowRunId=job.flow_run_id, modelId=job.model_id, modelVersion=job.model_version)


@router.get("/execute", response_model=JobResponse)
async def job_status(facade: FacadeDep, session: SessionDep, _: Viewer, jobId: Annotated[str, Query()]) -> JobResponse:
    return JobResponse(job=await _detail(facade, session, await require_job(session, jobId)))


@router.get("/jobs", response_model=JobsResponse)
async def list_jobs(
    session: SessionDep, _: Viewer, type: str | None = None, status: str | None = None, modelId: IdQuery | None = None,
    triggeredBy: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0,
) -> JobsResponse:
    rows, total = await jobs.list_jobs(
        session, model_type=type.upper() if type else None, status=status, model_id=modelId, triggered_by=triggeredBy, limit=limit, offset=offset,
    )
    summaries = [JobSummary.model_validate(r) for r in rows]
    for model_type in {s.model_type for s in summaries if s.status == "pending"}:
        places = await queue_positions(session, model_type)
        for summary in summaries:
            if summary.model_type == model_type:
                summary.queue_position = places.get(summary.job_id)
    return JobsResponse(jobs=summaries, total=total, limit=limit, offset=offset)


@router.get("/jobs/{job_id}", response_model=JobResponse)
async def job_detail(facade: FacadeDep, session: SessionDep, _: Viewer, job_id: str) -> JobResponse:
    return JobResponse(job=await _detail(facade, session, await require_job(session, job_id)))


@router.get("/jobs/{job_id}/logs", response_model=LogsResponse)
async def job_logs(
    session: SessionDep, _: Viewer, job_id: str, after_seq: Offset = 0, limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> LogsResponse:
    await require_job(session, job_id)
    rows = await jobs.read_lines(session, job_id, after_seq, limit + 1)
    page = rows[:limit]
    return LogsResponse(
        jobId=job_id, logs=[LogOut.model_validate(r) for r in page],
        nextAfterSeq=page[-1].seq if page else after_seq, hasMore=len(rows) > limit,
    )


@router.get("/jobs/{job_id}/logfile")
async def job_logfile(facade: FacadeDep, session: SessionDep, _: Viewer, job_id: str, attempt: int | None = None) -> StreamingResponse:
    """The whole log as text. Without `attempt`: rendered from JobLog, every attempt, even one
    that crashed. With it: the file the worker wrote for that attempt, as it uploaded it."""
    await require_job(session, job_id)
    headers = {"Content-Disposition": f'attachment; filename="{job_id}.log"'}
    if attempt is not None:
        artifact = await jobs.get_artifact(session, job_id, "log", f"attempt-{attempt}.log")
        if artifact is None:
            raise ApiError(404, f"job {job_id} has no log file for attempt {attempt}")
        return StreamingResponse(facade.files.stream(artifact.file_ref), media_type="text/plain; charset=utf-8", headers=headers)

    async def render():
        after = 0
        async with facade.db.session() as reader:
            while rows := await jobs.read_lines(reader, job_id, after, LOGFILE_PAGE):
                yield "".join(format_log_line(r.timestamp, r.seq, r.level, r.stream, r.message) for r in rows)
                after = rows[-1].seq

    return StreamingResponse(render(), media_type="text/plain; charset=utf-8", headers=headers)


@router.get("/jobs/{job_id}/results", response_model=list[ArtifactOut])
async def job_results(session: SessionDep, _: Viewer, job_id: str) -> list[ArtifactOut]:
    await require_job(session, job_id)
    return [_artifact_out(job_id, a) for a in await jobs.list_artifacts(session, job_id, "result")]


@router.get("/jobs/{job_id}/results/{name:path}")
async def job_result_file(facade: FacadeDep, session: SessionDep, _: Viewer, job_id: str, name: str) -> StreamingResponse:
    artifact = await jobs.get_artifact(session, job_id, "result", name)
    if artifact is None:
        raise ApiError(404, f"job {job_id} has no result file {name!r}")
    filename = name.rsplit("/", 1)[-1]
    return StreamingResponse(facade.files.stream(artifact.file_ref), media_type="application/octet-stream",
                             headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


@router.post("/jobs/{job_id}/cancel", response_model=CancelResponse)
async def cancel(facade: FacadeDep, session: SessionDep, who: Operator, job_id: str) -> CancelResponse:
    job, prefect_state = await cancel_run(facade, session, job_id, who)
    return CancelResponse(jobId=job_id, status=job.status, prefectState=prefect_state)


@router.post("/jobs/{job_id}/retry", status_code=202, response_model=ExecuteResponse)
async def retry(facade: FacadeDep, session: SessionDep, who: Executor, job_id: str) -> ExecuteResponse:
    job = await retry_run(facade, session, job_id, who)
    return ExecuteResponse(jobId=job.job_id, status=job.status, flowRunId=job.flow_run_id, modelId=job.model_id, modelVersion=job.model_version)
