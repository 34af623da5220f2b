"""Routes the flows call: claim a run, deliver lines (over a WebSocket), upload
artifacts, report the outcome, fetch model and dataset bytes. A worker on another machine needs nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile, WebSocket
from fastapi.responses import StreamingResponse

from api.auth import Role, require
from api.deps import FacadeDep, IdPath, SessionDep
from api.errors import ApiError
from api.line_stream import serve_line_stream
from api.runs import claim_run, finish_run, prune_old_runs, store_artifact
from api.uploads import safe_filename
from optbox.protocol import ClaimedRun, PruneReport, PruneRequest, RunClaim, RunOutcome
from storage import catalog

router = APIRouter(prefix="/api/internal", tags=["internal"], dependencies=[Depends(require(Role.worker))])
# WebSockets are accepted first and authorized after, so a refusal can say why (api/line_stream.py)
streams = APIRouter(prefix="/api/internal")


@router.post("/runs/claim", response_model=ClaimedRun)
async def claim(facade: FacadeDep, session: SessionDep, body: RunClaim) -> ClaimedRun:
    return await claim_run(facade, session, body)


@streams.websocket("/jobs/{job_id}/logs/stream")
async def line_stream(facade: FacadeDep, websocket: WebSocket, job_id: str) -> None:
    await serve_line_stream(facade, websocket, job_id)


@router.post("/jobs/{job_id}/artifacts")
async def artifact(facade: FacadeDep, session: SessionDep, job_id: str, file: Annotated[UploadFile, File()], kind: Annotated[str, Query(pattern="^(result|log)$")]) -> dict:
    name = "/".join(safe_filename(part, "file") for part in (file.filename or "file").split("/") if part not in ("", ".", ".."))
    await store_artifact(facade, session, job_id, kind, name or "file", await file.read())
    return {"success": True, "name": name}


@router.post("/jobs/{job_id}/finish")
async def finish(facade: FacadeDep, session: SessionDep, job_id: str, body: RunOutcome) -> dict:
    job = await finish_run(facade, session, job_id, body)
    return {"success": True, "status": job.status}


@router.post("/maintenance/prune", response_model=PruneReport)
async def prune(facade: FacadeDep, session: SessionDep, body: PruneRequest) -> PruneReport:
    result = await prune_old_runs(facade, session, body.older_than_days)
    return PruneReport(**result.model_dump(exclude={"file_keys"}))


@router.get("/models/{model_id}/file")
async def model_file(facade: FacadeDep, session: SessionDep, model_id: IdPath) -> StreamingResponse:
    model = await catalog.get_model(session, model_id)
    if model is None:
        raise ApiError(404, f"model {model_id} not found")
    return StreamingResponse(facade.files.stream(model.file_ref), media_type="text/x-python")


@router.get("/datasources/{dataset_id}/file")
async def dataset_file(facade: FacadeDep, session: SessionDep, dataset_id: IdPath) -> StreamingResponse:
    dataset = await catalog.get_dataset(session, dataset_id)
    if dataset is None:
        raise ApiError(404, f"data source {dataset_id} not found")
    return StreamingResponse(facade.files.stream(dataset.file_ref), media_type="application/octet-stream")
