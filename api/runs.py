"""Run lifecycle on the facade: start, claim, lines, artifacts, finish, cancel.

Every status change goes through `storage.jobs.move_status` and is announced
by `Realtime.job_changed`, whichever path (flow report or mirror) saw it first;
a terminal one records its alert (api/alerts.py) in the same transaction.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

from api.alerts import record_outcome
from api.auth import Identity
from api.context import Facade
from api.errors import ApiError
from api.orchestrator import DeploymentMissing, PrefectBusy
from api.registry import refuse_if_it_does_not_compile
from api.schemas import ExecuteRequest
from api.type_settings import merged_config, settings_refusal
from optbox.protocol import (
    ClaimedRun,
    FileRef,
    JobStatus,
    LimitAboveServer,
    LogLine,
    ModelType,
    RunClaim,
    RunLimits,
    RunOutcome,
    TriggeredBy,
    deployment_path,
    flow_run_name,
)
from storage import audit, catalog, jobs, retention
from storage.catalog_cache import CatalogCache
from storage.files import new_key, sha256_hex
from storage.models import DataSource, JobRun, OptimizationModel
from storage.retention import PruneResult

CANCEL_STATES = ("Cancelling", "Cancelled")


_JOB_ID_BITS = random.Random()  # seeded from os.urandom once; ids need to be unique, not secret: no getrandom syscall per id (~30 µs here)


def new_job_id(model_type: ModelType | str) -> str:
    """`so-20261129-101500-1a2b3c4d`. 32 random bits: 500 executes within one second share its stamp, and
    with 24 bits two of them would share an id (and one request fail) about once in 130 such seconds (birthday bound)."""
    kind = model_type.value if isinstance(model_type, ModelType) else model_type
    return f"{kind.lower()}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{_JOB_ID_BITS.getrandbits(32):08x}"


async def require_job(session: AsyncSession, job_id: str) -> JobRun:
    """The job, or a 404 that names it."""
    job = await jobs.get_job(session, job_id)
    if job is None:
        raise ApiError(404, f"job {job_id} not found")
    return job


async def _resolve_model(cache: CatalogCache, model_type: ModelType, model_id: int | None) -> OptimizationModel:
    if model_id is not None:
        model = await cache.model(model_id)
        if model is None:
            raise ApiError(404, f"model {model_id} not found")
        if model.model_type != model_type.value:
            raise ApiError(400, f"model {model_id} is a {model.model_type} model, not {model_type.value}")
        if model.status == "archived":
            raise ApiError(409, f"model {model.model_name} v{model.version} is archived; activate or upload a version to run it")
        refuse_if_it_does_not_compile(model)
        return model
    model = await cache.active_model(model_type.value)
    if model is None:
        raise ApiError(409, f"no active {model_type.value} model: upload one or activate a version first")
    return model


async def _resolve_dataset(cache: CatalogCache, model_type: ModelType, dataset_id: int | None) -> DataSource | None:
    if dataset_id is None:
        return await cache.active_dataset(model_type.value)
    dataset = await cache.dataset(dataset_id)
    if dataset is None:
        raise ApiError(404, f"data source {dataset_id} not found")
    if dataset.model_type != model_type.value:
        raise ApiError(400, f"data source {dataset_id} is for {dataset.model_type}, not {model_type.value}")
    return dataset


def _bind_model(job: JobRun, model: OptimizationModel, dataset: DataSource | None) -> None:
    job.model_id, job.model_name, job.model_version, job.model_sha256 = model.id, model.model_name, model.version, model.sha256
    job.lock_sha256 = model.lock_sha256
    if dataset is not None:
        job.data_source_id, job.data_source_sha256 = dataset.id, dataset.sha256


def resolve_limits(server: RunLimits, asked: RunLimits | None) -> RunLimits:
    """The server's limits, lowered where the run asks; asking above the server's is a 422 naming the field."""
    try:
        return (asked or RunLimits()).within(server)
    except LimitAboveServer as exc:
        raise ApiError(422, str(exc), {"field": exc.field, "max": exc.ceiling}) from exc


async def start_run(facade: Facade, request: ExecuteRequest, actor: Identity, triggered_by: TriggeredBy | None = None,
                    as_ran: JobRun | None = None) -> JobRun:
    """Create the JobRun and answer: its Prefect flow run is created right after, off the
    request path (`launch_run`); the job says `flow_run_id` once it exists.

    The run's config is its type's saved settings with its own config over them (api/type_settings.py);
    `as_ran`: a job run again as it ran (its config already merged, its settings version kept)."""
    limits = resolve_limits(facade.settings.run_limits(), request.limits)
    model = await _resolve_model(facade.catalog, request.modelType, request.modelId)
    if as_ran is None:
        saved = await facade.catalog.settings(request.modelType.value)
        config, settings_version = merged_config(saved, request.config), saved.version if saved else None
    else:
        saved, config, settings_version = None, request.config or {}, as_ran.settings_version
    if (refusal := settings_refusal(request.modelType.value, saved, config, model)) is not None:
        raise refusal
    dataset = await _resolve_dataset(facade.catalog, request.modelType, request.dataSourceId)
    # Prefect's readiness is not asked here: a run asked for while the system starts (deployments not yet
    # applied, Prefect not yet answering) is accepted and created once it can be, within LAUNCH_PATIENCE_S.
    job = JobRun(
        job_id=new_job_id(request.modelType), model_type=request.modelType.value, status=JobStatus.pending.value,
        triggered_by=(triggered_by.value if triggered_by else request.triggeredBy), model_config=config,
        settings_version=settings_version, limits=limits.model_dump(), deployment_name=deployment_path(request.modelType),
    )
    _bind_model(job, model, dataset)
    await facade.new_jobs.add(job, audit.activity(
        "execute", "job", job.job_id, f"started {request.modelType.value} run of {model.model_name} v{model.version}", actor.name, actor.role.value))
    launch(facade, job.job_id, job)
    await facade.realtime.progress(job)
    facade.queue.changed(job.model_type)
    return job


def flow_parameters(job: JobRun) -> dict[str, Any]:
    return {"model_type": job.model_type, "job_id": job.job_id, "model_id": job.model_id,
            "config": job.model_config or {}, "data_source_id": job.data_source_id}


# Prefect on SQLite under load answers 503 or slowly for a while, and at start-up the worker has not applied the
# deployments yet: a job waits this long for its flow run
LAUNCH_PATIENCE_S = 120


def _prefect_busy(exc: BaseException) -> bool:
    """Worth another try: Prefect unreachable, too slow, answering 5xx (its SQLite busy), or its deployments
    not applied yet (the system is starting)."""
    if isinstance(exc, httpx.TransportError | PrefectBusy | DeploymentMissing):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500


def launch(facade: Facade, job_id: str, fresh: JobRun | None = None) -> None:
    """Start creating the job's flow run in the background (see `launch_run`). `fresh`: the job
    as its request just committed it (pending, no run yet), so the launch need not read it back."""
    facade.orchestrator.launch(f"launch-{job_id}", lambda: launch_run(facade, job_id, fresh))


async def launch_run(facade: Facade, job_id: str, fresh: JobRun | None = None) -> None:
    """Create the job's Prefect flow run (idempotent on the job id) and record it on the job.

    No database connection is held while Prefect works. A job cancelled before its run
    exists gets its run cancelled at once; a run Prefect will not create fails the job with the reason."""
    job = fresh
    if job is None:
        async with facade.db.session() as session:
            job = await require_job(session, job_id)
        if job.flow_run_id is not None or job.status != JobStatus.pending.value:
            return
    model_type, parameters, tags = ModelType(job.model_type), flow_parameters(job), ["optbox", job.model_type, job.triggered_by]
    name = flow_run_name(job.model_type, job.model_name, job.model_version, job.triggered_by)
    try:
        # a 503 (Prefect's SQLite briefly locked) clears in milliseconds: retry at 50 ms, then back off
        async for attempt in AsyncRetrying(retry=retry_if_exception(_prefect_busy), wait=wait_exponential(multiplier=0.05, max=5),
                                           stop=stop_after_delay(LAUNCH_PATIENCE_S), reraise=True):
            with attempt:  # the idempotency key makes a repeat after a lost answer return the same run
                flow_run_id = await facade.orchestrator.create_run(model_type, parameters, tags=tags, retries=0, idempotency_key=job_id,
                                                                   name=name)
    except Exception as exc:  # noqa: BLE001 - a refusal, or an outage that outlasted our patience: the job says why
        reason = str(exc) if isinstance(exc, DeploymentMissing) else f"could not create the Prefect flow run: {type(exc).__name__}: {exc}"
        await _fail_unlaunched(facade, job_id, reason)
        return
    # runs are created Scheduled; a repeat that found its run further on is put right by the mirror (the state is set only if none yet)
    cancelled_run = await facade.launches.record(job_id, str(flow_run_id), "Scheduled")
    if cancelled_run is not None:
        state = await facade.orchestrator.cancel(cancelled_run)
        async with facade.db.session() as session:
            (await require_job(session, job_id)).prefect_state = state
            await session.commit()


async def _fail_unlaunched(facade: Facade, job_id: str, reason: str) -> None:
    async with facade.db.session() as session:
        job = await require_job(session, job_id)
        if job.flow_run_id is None and jobs.move_status(job, JobStatus.failed, job.attempt):
            job.error_message = reason[:4000]
            _notify_outcome(session, job)
            await record_outcome(session, facade.alerts, job)
            await session.commit()
            await facade.realtime.job_changed(job)


async def job_for_flow_run(
    session: AsyncSession, *, flow_run_id: str, model_type: ModelType, deployment_name: str | None,
    triggered_by: TriggeredBy, attempt: int, job_id: str | None = None,
) -> tuple[JobRun, bool]:
    """The JobRun mirroring `flow_run_id`, created on first sight. True when created.

    `job_id` (the run's parameter) finds a job whose run was created but not yet recorded on it."""
    job = await jobs.get_job_by_flow_run(session, flow_run_id)
    if job is not None:
        return job, False
    if job_id and (job := await jobs.get_job(session, job_id)) is not None and job.flow_run_id is None:
        job.flow_run_id = flow_run_id
        return job, False
    job = JobRun(
        job_id=new_job_id(model_type), model_type=model_type.value, flow_run_id=flow_run_id, deployment_name=deployment_name,
        triggered_by=triggered_by.value, attempt=attempt, status=JobStatus.pending.value, model_config={},
    )
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:  # the mirror and the flow met it at the same moment
        return await jobs.get_job_by_flow_run(session, flow_run_id), False
    return job, True


async def claim_run(facade: Facade, session: AsyncSession, claim: RunClaim) -> ClaimedRun:
    """A flow run starts an attempt: bind it to its JobRun and say what to run."""
    if claim.job_id:
        job = await require_job(session, claim.job_id)
        if job.status == JobStatus.cancelled.value and claim.attempt <= job.attempt:
            raise ApiError(409, f"job {job.job_id} was cancelled before it started")
    else:
        trigger = TriggeredBy.scheduled if claim.auto_scheduled else TriggeredBy.api
        job, _ = await job_for_flow_run(
            session, flow_run_id=claim.flow_run_id, model_type=claim.model_type, deployment_name=claim.deployment_name,
            triggered_by=trigger, attempt=claim.attempt,
        )
        job.model_config = claim.config or {}
    try:
        model = await _resolve_model(facade.catalog, claim.model_type, job.model_id or claim.model_id)
        if not claim.job_id:  # a run the facade did not start (a scheduled one): its type's settings, under its own config
            saved = await facade.catalog.settings(claim.model_type.value)
            job.model_config, job.settings_version = merged_config(saved, claim.config), saved.version if saved else None
            if (refusal := settings_refusal(claim.model_type.value, saved, job.model_config, model)) is not None:
                raise refusal
        dataset = await _resolve_dataset(facade.catalog, claim.model_type, job.data_source_id or claim.data_source_id)
    except ApiError as exc:
        if jobs.move_status(job, JobStatus.failed, claim.attempt):
            job.error_message = exc.error
            await record_outcome(session, facade.alerts, job)
            await session.commit()
            await facade.realtime.job_changed(job)
        raise
    _bind_model(job, model, dataset)
    job.limits = job.limits or facade.settings.run_limits().model_dump()
    job.flow_run_id = job.flow_run_id or claim.flow_run_id
    changed = jobs.move_status(job, JobStatus.running, claim.attempt)
    await catalog.touch_model(session, model.id)
    next_seq = max(job.last_seq, await jobs.max_seq(session, job.job_id)) + 1
    await session.commit()
    if changed:
        await facade.realtime.job_changed(job)
        facade.queue.changed(job.model_type)
    return ClaimedRun(
        job_id=job.job_id, model_type=claim.model_type, model_name=model.model_name, model_version=model.version,
        model=FileRef(id=model.id, filename=model.original_filename, sha256=model.sha256, size=model.file_size,
                      download_path=f"/api/internal/models/{model.id}/file"),
        dataset=None if dataset is None else FileRef(
            id=dataset.id, filename=dataset.name, sha256=dataset.sha256, size=dataset.file_size,
            download_path=f"/api/internal/datasources/{dataset.id}/file"),
        config=job.model_config or {}, next_seq=next_seq, limits=RunLimits.model_validate(job.limits),
        entry=model.entry, lock=model.dependency_lock, triggered_by=job.triggered_by,
    )


async def store_then_broadcast(facade: Facade, session: AsyncSession, job: JobRun, lines: Sequence[LogLine]) -> None:
    """Store lines (idempotently), then broadcast them: a client that replays after_seq finds no hole."""
    progress_before = job.progress
    await jobs.store_lines(session, job, lines)
    await session.commit()
    await facade.realtime.lines(job.job_id, job.model_type, lines)
    if job.progress != progress_before:
        await facade.realtime.progress(job)


async def store_artifact(facade: Facade, session: AsyncSession, job_id: str, kind: str, name: str, data: bytes) -> None:
    job = await require_job(session, job_id)
    key = new_key(f"runs/{job_id}/{kind}", "")
    await facade.files.put(key, data)
    previous = await jobs.get_artifact(session, job_id, kind, name)
    old_key = previous.file_ref if previous else None
    await jobs.upsert_artifact(session, job_id, kind, name, file_ref=key, sha256=sha256_hex(data), size=len(data))
    if kind == "log":
        job.log_file_path = key
    await session.commit()
    if old_key:
        await facade.files.delete(old_key)


async def finish_run(facade: Facade, session: AsyncSession, job_id: str, outcome: RunOutcome) -> JobRun:
    job = await require_job(session, job_id)
    if outcome.attempt < job.attempt:
        return job
    status = outcome.status
    if status == JobStatus.failed and job.prefect_state in CANCEL_STATES:
        status = JobStatus.cancelled  # the model died of the cancellation's signal before its flow did
    jobs.apply_report(job, outcome.report)
    changed = jobs.move_status(job, status, outcome.attempt)
    if outcome.attempt == job.attempt:
        job.peak_memory_mb, job.cpu_seconds = outcome.peak_memory_mb, outcome.cpu_seconds
    if changed:
        job.exit_code = outcome.exit_code
        job.error_message = outcome.error_message
        _notify_outcome(session, job)
        await record_outcome(session, facade.alerts, job)
    await session.commit()
    if changed:
        await facade.realtime.job_changed(job)
    return job


def _notify_outcome(session: AsyncSession, job: JobRun) -> None:
    label = f"{job.model_type} run {job.job_id}"
    if job.status == JobStatus.success.value:
        audit.notify(session, "Run succeeded", f"{label}: objective {job.objective_value}", "success", "execution", {"jobId": job.job_id})
    elif job.status == JobStatus.failed.value:
        audit.notify(session, "Run failed", f"{label}: {(job.error_message or '').splitlines()[0] if job.error_message else 'failed'}", "error", "execution", {"jobId": job.job_id})
    elif job.status == JobStatus.cancelled.value:
        audit.notify(session, "Run cancelled", label, "warning", "execution", {"jobId": job.job_id})


async def cancel_run(facade: Facade, session: AsyncSession, job_id: str, actor: Identity) -> tuple[JobRun, str | None]:
    job = await require_job(session, job_id)
    if JobStatus(job.status).is_terminal:
        raise ApiError(409, f"job {job_id} already ended ({job.status})")
    prefect_state = None
    if job.flow_run_id:
        prefect_state = job.prefect_state = await facade.orchestrator.cancel(job.flow_run_id)
    if job.flow_run_id is None or prefect_state == "Cancelled":
        jobs.move_status(job, JobStatus.cancelled, job.attempt)
        job.error_message = "cancelled by user"
        _notify_outcome(session, job)
    audit.record_activity(session, "cancel", "job", job_id, f"cancelled {job.model_type} run {job_id}", actor.name, actor.role.value)
    await session.commit()
    if job.status == JobStatus.cancelled.value:
        await facade.realtime.job_changed(job)
        facade.queue.changed(job.model_type)
    return job, prefect_state


async def retry_run(facade: Facade, session: AsyncSession, job_id: str, actor: Identity) -> JobRun:
    """Run a finished job again as a new job with the same model, config and dataset."""
    job = await require_job(session, job_id)
    if job.model_id is None:
        raise ApiError(409, f"job {job_id} has no model to re-run (it was deleted)")
    request = ExecuteRequest(modelType=ModelType(job.model_type), modelId=job.model_id, config=job.model_config,
                             dataSourceId=job.data_source_id, limits=RunLimits.model_validate(job.limits) if job.limits else None)
    return await start_run(facade, request, actor, triggered_by=TriggeredBy.retry, as_ran=job)


async def prune_old_runs(facade: Facade, session: AsyncSession, older_than_days: float) -> PruneResult:
    """Retention: drop logs and files of runs finished more than `older_than_days` ago; keep their JobRun rows."""
    result = await retention.prune_finished_before(session, datetime.now(UTC) - timedelta(days=older_than_days))
    for key in result.file_keys:
        await facade.files.delete(key)
    audit.record_activity(session, "prune", "job", None,
                          f"retention: pruned {result.log_rows} log lines, {result.log_files} log files and {result.result_files} "
                          f"result files of {result.runs} runs finished before {result.cutoff:%Y-%m-%d %H:%M} UTC", "maintenance", "worker")
    await session.commit()
    return result
