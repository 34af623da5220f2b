"""The one flow behind every DMO/RMO/SO run: claim -> validate -> run -> collect.

Failure contract:
- The facade refuses the claim (no active model of the type, unknown model)
  or the model fails validation: the run fails at once with the facade's or
  the validator's message, and is not retried (retrying cannot help).
- The model exits non-zero: the run fails with the tail of its stderr; the
  deployment's retry policy applies (OPTBOX_FLOW_RETRIES, set per deployment
  in prefect.yaml, read when the flow run starts).
- The facade is unreachable: every call retries with backoff, so a facade
  restart mid-run loses no line; the flow gives up after flow_finish_grace_s.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path, PurePath
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRunPolicy
from prefect.context import get_run_context
from prefect.states import Failed

from flows.facade import FacadeClient, FacadeRefused
from flows.lines import LineSequencer, PrefectRunLog
from flows.model_process import run_model_process
from flows.shipper import LineShipper
from optbox.protocol import FLOW_NAME, ClaimedRun, JobStatus, LogLevel, ModelType, Report, RunClaim, RunOutcome
from optbox.settings import get_settings

PASSED_THROUGH_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MAX_RESULT_FILES = 100


class ModelInvalid(Exception):
    """The fetched model cannot run: missing, tampered with, or does not compile."""


async def _forbid_retries(flow_run_id: str) -> None:
    """Make this attempt the last: Prefect retries a failed run while retries remain."""
    async with get_client() as client:
        await client.update_flow_run(flow_run_id=flow_run_id, empirical_policy=FlowRunPolicy(retries=0, retry_delay=0))


@task(name="validate-model", cache_policy=NO_CACHE, persist_result=False)
async def validate_model(facade: FacadeClient, claimed: ClaimedRun, scratch: Path) -> tuple[Path, Path | None]:
    """Fetch model (and dataset) over HTTP, check their sha256, compile the model."""
    source = await facade.download(claimed.model.download_path)
    if hashlib.sha256(source).hexdigest() != claimed.model.sha256:
        raise ModelInvalid(f"model file sha256 does not match the registered {claimed.model.sha256[:12]}…")
    try:
        compile(source, claimed.model.filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise ModelInvalid(f"model does not compile: {exc.msg} (line {exc.lineno})") from exc
    model_path = scratch / PurePath(claimed.model.filename).name
    model_path.write_bytes(source)
    data_path = None
    if claimed.dataset is not None:
        data = await facade.download(claimed.dataset.download_path)
        if hashlib.sha256(data).hexdigest() != claimed.dataset.sha256:
            raise ModelInvalid("dataset sha256 does not match the registered one")
        data_path = scratch / "input" / PurePath(claimed.dataset.filename).name
        data_path.parent.mkdir()
        data_path.write_bytes(data)
    return model_path, data_path


def _model_env(claimed: ClaimedRun, scratch: Path, output_dir: Path, data_path: Path | None) -> dict[str, str]:
    """Only what the protocol documents, plus what Python needs to start."""
    env = {name: os.environ[name] for name in PASSED_THROUGH_ENV if name in os.environ}
    env.update(
        HOME=str(scratch), PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8",
        JOB_ID=claimed.job_id, MODEL_TYPE=claimed.model_type.value,
        CONFIG=json.dumps(claimed.config), OUTPUT_DIR=str(output_dir),
    )
    if data_path is not None:
        env["DATA_PATH"] = str(data_path)
    return env


def _exit_error(exit_code: int, stderr_tail: list[str]) -> str:
    if exit_code < 0:
        reason = f"model was killed by {signal.Signals(-exit_code).name}"
    else:
        reason = f"model exited with code {exit_code}"
    tail = "\n".join(stderr_tail[-15:])
    return f"{reason}\n{tail}"[:4000] if tail else reason


@task(name="run-model", cache_policy=NO_CACHE, persist_result=False)
async def execute_model(lines: LineSequencer, model_path: Path, env: dict[str, str], scratch: Path) -> int:
    started = time.perf_counter()
    lines.system(f"starting {model_path.name}")
    exit_code = await run_model_process([sys.executable, "-u", model_path.name], env=env, cwd=scratch, on_line=lines.emit)
    lines.system(
        f"model exited with code {exit_code} after {time.perf_counter() - started:.2f} s",
        LogLevel.INFO if exit_code == 0 else LogLevel.ERROR,
    )
    return exit_code


@task(name="collect-results", cache_policy=NO_CACHE, persist_result=False)
async def collect_results(facade: FacadeClient, lines: LineSequencer, job_id: str, output_dir: Path) -> int:
    """Upload what the model wrote to OUTPUT_DIR; names are relative to it."""
    files = sorted(path for path in output_dir.rglob("*") if path.is_file())
    if len(files) > MAX_RESULT_FILES:
        lines.system(f"{len(files)} result files; keeping the first {MAX_RESULT_FILES}", LogLevel.WARNING)
    for path in files[:MAX_RESULT_FILES]:
        await facade.upload_artifact(job_id, "result", path.relative_to(output_dir).as_posix(), path.read_bytes())
    if files:
        lines.system(f"uploaded {min(len(files), MAX_RESULT_FILES)} result file(s)")
    return len(files)


async def _claim(facade: FacadeClient, model_type: ModelType, job_id: str | None, model_id: int | None,
                 config: dict[str, Any] | None, data_source_id: int | None) -> ClaimedRun:
    context = get_run_context()
    flow_run = context.flow_run
    deployment_name = None
    if job_id is None and flow_run.deployment_id is not None:  # a job of the facade's knows its deployment; spare the lookup
        from prefect.runtime import deployment

        deployment_name = f"{FLOW_NAME}/{deployment.name}"
    return await facade.claim(RunClaim(
        flow_run_id=str(flow_run.id), deployment_name=deployment_name, model_type=model_type,
        attempt=max(flow_run.run_count, 1), job_id=job_id, model_id=model_id, config=config,
        data_source_id=data_source_id, auto_scheduled=bool(flow_run.auto_scheduled),
    ))


@flow(
    name=FLOW_NAME,
    retries=int(os.environ.get("OPTBOX_FLOW_RETRIES", "0")),
    retry_delay_seconds=int(os.environ.get("OPTBOX_FLOW_RETRY_DELAY_S", "60")),
    persist_result=False,
    validate_parameters=True,
)
async def run_optimization_model(
    model_type: ModelType,
    job_id: str | None = None,
    model_id: int | None = None,
    config: dict[str, Any] | None = None,
    data_source_id: int | None = None,
):
    """Run the given (or the active) model of `model_type` and report every line to the facade."""
    settings = get_settings()
    flow_run_id = str(get_run_context().flow_run.id)
    logger = get_run_logger()
    facade = FacadeClient(settings.resolved_api_url, token=settings.secret("worker_token"), give_up_after_s=settings.flow_finish_grace_s)
    try:
        try:
            claimed = await _claim(facade, model_type, job_id, model_id, config, data_source_id)
        except FacadeRefused as exc:
            await _forbid_retries(flow_run_id)
            return Failed(message=str(exc))
        logger.info("job %s: %s model %s v%s", claimed.job_id, claimed.model_type.value, claimed.model_name, claimed.model_version)
        return await _run_claimed(facade, claimed, flow_run_id, settings.resolved_data_dir / "runs")
    finally:
        await facade.aclose()


async def _run_claimed(facade: FacadeClient, claimed: ClaimedRun, flow_run_id: str, runs_dir: Path):
    attempt = max(get_run_context().flow_run.run_count, 1)
    runs_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{claimed.job_id}-", dir=runs_dir))
    output_dir = scratch / "output"
    output_dir.mkdir()
    log_path = scratch.parent / f"{scratch.name}.log"
    shipper = LineShipper(facade, claimed.job_id, attempt)
    shipper.start()
    outcome: RunOutcome | None = None
    prefect_log = PrefectRunLog(flow_run_id)
    try:
        with log_path.open("w", encoding="utf-8") as log_file:
            lines = LineSequencer(first_seq=claimed.next_seq, log_file=log_file, prefect_log=prefect_log.send, ship=shipper.put)
            lines.system(f"attempt {attempt}: {claimed.model_type.value} model {claimed.model_name} v{claimed.model_version} (sha256 {claimed.model.sha256[:12]})")
            try:
                model_path, data_path = await validate_model(facade, claimed, scratch)
            except ModelInvalid as exc:
                lines.system(str(exc), LogLevel.ERROR)
                outcome = RunOutcome(attempt=attempt, status=JobStatus.failed, error_message=str(exc))
                await _forbid_retries(flow_run_id)
            else:
                exit_code = await execute_model(lines, model_path, _model_env(claimed, scratch, output_dir, data_path), scratch)
                await collect_results(facade, lines, claimed.job_id, output_dir)
                outcome = _outcome(attempt, exit_code, lines)
            outcome.last_seq = lines.last_seq
        await shipper.drain()
        await facade.upload_artifact(claimed.job_id, "log", f"attempt-{attempt}.log", log_path.read_bytes())
        await facade.finish(claimed.job_id, outcome)
    finally:
        prefect_log.flush()
        if outcome is None:  # cancelled or crashed: still hand over what was printed
            await asyncio.shield(_drain_quietly(shipper))
        shutil.rmtree(scratch, ignore_errors=True)
        log_path.unlink(missing_ok=True)
    if outcome.status != JobStatus.success:
        return Failed(message=outcome.error_message)
    return outcome.report.model_dump(exclude_none=True)


async def _drain_quietly(shipper: LineShipper) -> None:
    try:
        await asyncio.wait_for(shipper.drain(), timeout=10)
    except Exception:  # noqa: BLE001 - best effort on the way out; the mirror settles the state
        pass


def _outcome(attempt: int, exit_code: int, lines: LineSequencer) -> RunOutcome:
    report: Report = lines.report
    if exit_code == 0:
        return RunOutcome(attempt=attempt, status=JobStatus.success, exit_code=0, report=report)
    return RunOutcome(attempt=attempt, status=JobStatus.failed, exit_code=exit_code, report=report, error_message=_exit_error(exit_code, lines.stderr_tail))
