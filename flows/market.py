"""The one flow behind every DMO/RMO/SO run: claim -> validate -> run -> collect.

Failure contract:
- The facade refuses the claim (no active model of the type, unknown model)
  or the model fails validation: the run fails at once with the facade's or
  the validator's message, and is not retried (retrying cannot help).
- The model's own environment cannot be built on this worker (uv fails: the
  index unreachable, a package gone): the run fails with uv's reason, not
  retried; nothing half-built stays for a later run (optbox/environments.py).
- The model exits non-zero: the run fails with the tail of its stderr; the
  deployment's retry policy applies (OPTBOX_FLOW_RETRIES, set per deployment
  in prefect.yaml, read when the flow run starts).
- The facade is unreachable: every call retries with backoff, so a facade
  restart mid-run loses no line; the flow gives up after flow_finish_grace_s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path, PurePath
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRunPolicy
from prefect.context import get_run_context
from prefect.states import Failed

from flows import prefect_views
from flows.facade import FacadeClient, FacadeRefused
from flows.lines import LineSequencer, PrefectRunLog
from flows.model_process import Bulk, ModelExit, run_model_process
from flows.shipper import LineShipper
from optbox import environments, model_files, sandbox
from optbox.protocol import (
    FLOW_NAME,
    MAX_ARTIFACT_BYTES,
    MAX_RESULT_FILES,
    ClaimedRun,
    JobStatus,
    LogLevel,
    ModelType,
    Report,
    RunClaim,
    RunOutcome,
    flow_retry_policy,
)
from optbox.settings import get_settings

PASSED_THROUGH_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SAMPLE_EVERY_S = 0.2  # psutil samples of a model's tree where no cgroup counts what it uses
MAX_SHIPPING_BACKLOG = 20_000  # lines waiting for the facade before the model's output is held


class ModelInvalid(Exception):
    """The fetched model cannot run: missing, tampered with, or does not compile."""


async def _forbid_retries(flow_run_id: str) -> None:
    """Make this attempt the last: Prefect retries a failed run while retries remain."""
    async with get_client() as client:
        await client.update_flow_run(flow_run_id=flow_run_id, empirical_policy=FlowRunPolicy(retries=0, retry_delay=0))


def compile_model(source: bytes, filename: str) -> None:
    """CPython's compile of a model's bytes, as every run does before it starts; ModelInvalid with the line if it fails."""
    try:
        compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise ModelInvalid(f"model does not compile: {exc.msg} (line {exc.lineno})") from exc


@task(name="validate-model", cache_policy=NO_CACHE, persist_result=False)
async def validate_model(facade: FacadeClient, claimed: ClaimedRun, scratch: Path) -> tuple[Path, Path | None]:
    """Fetch model (and dataset) over HTTP, check their sha256, compile the model."""
    source = await facade.download(claimed.model.download_path)
    if hashlib.sha256(source).hexdigest() != claimed.model.sha256:
        raise ModelInvalid(f"model file sha256 does not match the registered {claimed.model.sha256[:12]}…")
    if claimed.entry is not None:  # an archive: its files under model/, the entry among them
        try:
            files = await asyncio.to_thread(model_files.unpack, claimed.model.filename, source)
        except model_files.ModelFileError as exc:
            raise ModelInvalid(f"model archive cannot be unpacked: {exc}") from exc
        if claimed.entry not in files:
            raise ModelInvalid(f"model archive has no entry file {claimed.entry!r}")
        try:
            model_files.write_files(files, scratch / "model")
        except OSError as exc:
            raise ModelInvalid(f"model archive cannot be unpacked: {exc}") from exc
        source, model_path = files[claimed.entry], scratch / "model" / claimed.entry
    else:
        model_path = scratch / PurePath(claimed.model.filename).name
        model_path.write_bytes(source)
    compile_model(source, model_path.name)
    data_path = None
    if claimed.dataset is not None:
        data = await facade.download(claimed.dataset.download_path)
        if hashlib.sha256(data).hexdigest() != claimed.dataset.sha256:
            raise ModelInvalid("dataset sha256 does not match the registered one")
        data_path = scratch / "input" / PurePath(claimed.dataset.filename).name
        data_path.parent.mkdir()
        data_path.write_bytes(data)
    return model_path, data_path


def _model_env(claimed: ClaimedRun, home: str, output_dir: str, data_path: str | None) -> dict[str, str]:
    """Only what the protocol documents, plus what Python needs to start."""
    env = {name: os.environ[name] for name in PASSED_THROUGH_ENV if name in os.environ}
    env.update(
        HOME=home, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8",
        JOB_ID=claimed.job_id, MODEL_TYPE=claimed.model_type.value,
        CONFIG=json.dumps(claimed.config), OUTPUT_DIR=output_dir,
    )
    if data_path is not None:
        env["DATA_PATH"] = data_path
    return env


def _exit_error(exit_code: int, stderr_tail: list[str]) -> str:
    if exit_code < 0:
        reason = f"model was killed by {signal.Signals(-exit_code).name}"
    else:
        reason = f"model exited with code {exit_code}"
    tail = "\n".join(stderr_tail[-15:])
    return f"{reason}\n{tail}"[:4000] if tail else reason


class SandboxUnavailable(Exception):
    """OPTBOX_RUN_SANDBOX=required and the host lacks a mechanism, or the run's cgroups cannot be made."""


class ModelLaunch:
    """How one attempt's model starts: inside bubblewrap and its cgroups where the host has them."""

    def __init__(self, claimed: ClaimedRun, scratch: Path, model_path: Path, data_path: Path | None, attempt: int,
                 env_dir: Path | None = None) -> None:
        self.limits = claimed.limits
        self.protections = sandbox.probe()
        if get_settings().run_sandbox == "required" and self.protections.missing:
            raise SandboxUnavailable("sandbox required but unavailable: " + "; ".join(self.protections.missing))
        sandbox.sweep_stale_groups()
        try:
            self.cgroup = sandbox.RunCgroup(f"{claimed.job_id}-{attempt}-{os.getpid()}", memory_mb=self.limits.memory_mb,
                                            max_procs=self.limits.max_procs)
        except OSError as exc:
            raise SandboxUnavailable(f"could not set up the run's cgroups: {exc}") from exc
        self.scratch = scratch
        self.sampler: sandbox.TreeSampler | None = None
        # the model's own environment's interpreter, else the worker's (the base environment)
        python = str(env_dir / "bin" / "python") if env_dir else sys.executable
        script = model_path.relative_to(scratch).as_posix()
        # read-only in the sandbox: the model (an archive's whole folder) and its input
        mounted = [model_path.relative_to(scratch).parts[0]] + ([data_path.relative_to(scratch).as_posix()] if data_path else [])
        if self.protections.bubblewrap:
            inside = lambda name: f"{sandbox.JOB_DIR}/{name}"  # noqa: E731 - paths as the model sees them
            env = _model_env(claimed, sandbox.JOB_DIR, inside("output"), inside(mounted[1]) if data_path else None)
            command = sandbox.bwrap_command([python, "-u", script], job_dir=scratch, read_only=mounted, env=env,
                                            network=self.limits.network, host_read_only=(env_dir,) if env_dir else ())
            self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            self.env = _model_env(claimed, str(scratch), str(scratch / "output"), str(data_path) if data_path else None)
            command = [python, "-u", script]
        rlimits = sandbox.fallback_rlimits(self.cgroup.layout, memory_mb=self.limits.memory_mb, max_procs=self.limits.max_procs)
        self.argv = sandbox.launcher(command, procs_files=self.cgroup.procs_files, rlimits=rlimits)
        self.reaping = self.protections.tree_kill == sandbox.TREE_KILL_REAPER
        if self.reaping:  # nothing else holds the tree together: orphans would go to init and outlive the run
            self.argv = sandbox.reaped(self.argv)

    def started(self, pid: int) -> None:
        """The model's tree runs under `pid`: sample it with psutil where no cgroup counts all of it."""
        if not self.cgroup.usage().complete:
            self.sampler = sandbox.TreeSampler(pid)

    def usage(self) -> sandbox.ResourceUsage:
        """What the run used: the cgroup's counters, the samples where a counter is missing (read before close)."""
        counted = self.cgroup.usage()
        if self.sampler is None:
            return counted
        sampled = self.sampler.usage()
        return sandbox.ResourceUsage(
            peak_memory_mb=counted.peak_memory_mb if counted.peak_memory_mb is not None else sampled.peak_memory_mb,
            cpu_seconds=counted.cpu_seconds if counted.cpu_seconds is not None else sampled.cpu_seconds)

    def kill_tree(self) -> None:
        """End every process of the run (the model's own process is killed by its caller)."""
        self.cgroup.kill()
        if self.reaping:
            sandbox.end_reaped_trees()

    def describe(self) -> list[tuple[str, LogLevel]]:
        """The run's log says what protected it, and loudly what did not."""
        p, limits = self.protections, self.limits
        isolation = (f"bubblewrap (read-only system, own files only, uid {sandbox.SANDBOX_UID}, "
                     f"{'network allowed' if limits.network else 'no network'})") if p.bubblewrap else "none"
        weight = self.cgroup.cpu_weight()
        cpu = f"nice {sandbox.MODEL_NICENESS}" + (f", {weight}" if weight else "")
        said = [(f"sandbox: {isolation}; limits: {limits.timeout_s:g} s, {limits.memory_mb} MB ({p.memory_limit}), "
                 f"{limits.max_procs} processes ({p.process_limit or 'not enforced'}), log {limits.max_log_mb:g} MB; "
                 f"CPU below the service ({cpu})", LogLevel.INFO)]
        said += [(f"WARNING: sandbox degraded: {gap}", LogLevel.WARNING) for gap in p.missing]
        return said

    def verdict(self, exited: ModelExit, stderr_tail: list[str]) -> tuple[int, str | None]:
        """The model's exit code and, when it failed, why (timeout and memory named as such)."""
        code = exited.exit_code
        if self.protections.bubblewrap and code > 128:
            code = 128 - code  # bwrap reports a signal death as 128 + signal
        if exited.timed_out:
            return code, f"timed out after {self.limits.timeout_s:g} s"
        if code == 0:
            return 0, None
        if self.cgroup.out_of_memory():
            return code, f"out of memory: the run passed its memory limit of {self.limits.memory_mb} MB and the kernel killed the model"
        message = _exit_error(code, stderr_tail)
        if any("MemoryError" in line for line in stderr_tail[-3:]):
            message = f"out of memory (limit {self.limits.memory_mb} MB): {message}"
        if self.cgroup.hit_process_limit():
            message += f"\n(the run reached its limit of {self.limits.max_procs} processes; forks were refused)"
        return code, message

    def close(self) -> None:
        self.cgroup.remove()


def _backpressure(shipper: LineShipper):
    """Hold the model's output while too many lines wait for the facade: a flood then goes at
    the facade's pace (and the timeout bounds it) instead of piling up in this process."""
    async def room() -> None:
        while shipper.backlog > MAX_SHIPPING_BACKLOG:
            await asyncio.sleep(0.05)

    return room


async def _sample(launch: ModelLaunch) -> None:
    """Sample the model's tree while it runs, when `launch.started` chose psutil (no cgroup counts it)."""
    while True:
        if launch.sampler is not None:
            launch.sampler.sample()
        await asyncio.sleep(SAMPLE_EVERY_S)


@task(name="run-model", cache_policy=NO_CACHE, persist_result=False)
async def execute_model(lines: LineSequencer, launch: ModelLaunch, shipper: LineShipper) -> tuple[int, str | None]:
    started = time.perf_counter()
    for message, level in launch.describe():
        lines.system(message, level)
    lines.system(f"starting {launch.argv[-1]}")
    sampling = asyncio.create_task(_sample(launch))
    try:
        exited = await run_model_process(launch.argv, env=launch.env, cwd=launch.scratch, on_line=lines.emit,
                                         timeout_s=launch.limits.timeout_s, kill_tree=launch.kill_tree,
                                         bulk=Bulk(dropping=lambda: lines.capped, dropped=lines.count_dropped),
                                         room=_backpressure(shipper), on_start=launch.started)
    finally:
        sampling.cancel()
    exit_code, error = launch.verdict(exited, lines.stderr_tail)
    ended = error.splitlines()[0] if error else f"model exited with code {exit_code}"
    dropped = f"; {lines.dropped_lines} lines over the cap were not stored" if lines.dropped_lines else ""
    used = launch.usage()
    resources = "".join([f"; peak memory {used.peak_memory_mb:.0f} MB" if used.peak_memory_mb is not None else "",
                         f"; {used.cpu_seconds:.2f} s CPU" if used.cpu_seconds is not None else ""])
    lines.system(f"{ended} after {time.perf_counter() - started:.2f} s{resources}{dropped}", LogLevel.ERROR if error else LogLevel.INFO)
    return exit_code, error


@task(name="collect-results", cache_policy=NO_CACHE, persist_result=False)
async def collect_results(facade: FacadeClient, lines: LineSequencer, job_id: str, output_dir: Path) -> int:
    """Upload what the model wrote to OUTPUT_DIR; names are relative to it.

    Only regular files: a symlink the model planted would make this (unsandboxed)
    process read a file of the host. Files over MAX_ARTIFACT_BYTES are left out.
    """
    files = []
    for root, _, names in os.walk(output_dir):  # does not follow symlinked directories
        for name in names:
            path = Path(root, name)
            if path.is_symlink() or not path.is_file():
                lines.system(f"result {path.relative_to(output_dir)} is not a regular file; not uploaded", LogLevel.WARNING)
            elif path.stat().st_size > MAX_ARTIFACT_BYTES:
                lines.system(f"result {path.relative_to(output_dir)} is over {MAX_ARTIFACT_BYTES >> 20} MB; not uploaded", LogLevel.WARNING)
            else:
                files.append(path)
    files.sort()
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
    retries=flow_retry_policy(os.environ)[0],
    retry_delay_seconds=flow_retry_policy(os.environ)[1],
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
    flow_run = get_run_context().flow_run
    flow_run_id = str(flow_run.id)
    logger = get_run_logger()
    facade = FacadeClient(settings.resolved_api_url, token=settings.secret("worker_token"), give_up_after_s=settings.flow_finish_grace_s)
    attempt = max(flow_run.run_count, 1)
    # A run the facade created knows its job before the claim: its line stream opens during the claim,
    # so the run's first line does not wait for a socket to the facade.
    early = LineShipper(facade, job_id, attempt) if job_id is not None else None
    if early is not None:
        early.start()
    try:
        try:
            claimed = await _claim(facade, model_type, job_id, model_id, config, data_source_id)
        except FacadeRefused as exc:
            await _forbid_retries(flow_run_id)
            return Failed(message=str(exc))
        logger.info("job %s: %s model %s v%s", claimed.job_id, claimed.model_type.value, claimed.model_name, claimed.model_version)
        await _quietly(prefect_views.name_flow_run(flow_run_id, flow_run.name, claimed), "name the flow run")
        shipper = early or LineShipper(facade, claimed.job_id, attempt)  # a claim with job_id answers with that job
        early = None  # handed over
        return await _run_claimed(facade, claimed, flow_run_id, settings.resolved_data_dir / "runs", shipper, attempt)
    finally:
        if early is not None:  # not handed over: nothing was put on it
            await early.abandon()
        await facade.aclose()


async def _run_claimed(facade: FacadeClient, claimed: ClaimedRun, flow_run_id: str, runs_dir: Path, shipper: LineShipper, attempt: int):
    runs_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{claimed.job_id}-", dir=runs_dir))
    output_dir = scratch / "output"
    output_dir.mkdir()
    log_path = scratch.parent / f"{scratch.name}.log"
    shipper.start()
    outcome: RunOutcome | None = None
    prefect_log = PrefectRunLog(flow_run_id)
    held = contextlib.ExitStack()  # the model's own environment, kept from pruning while the run uses it
    try:
        with log_path.open("w", encoding="utf-8") as log_file:
            lines = LineSequencer(first_seq=claimed.next_seq, log_file=log_file, prefect_log=prefect_log.send,
                                  ship=shipper.put, max_log_bytes=int(claimed.limits.max_log_mb * 1024 * 1024))
            lines.system(f"attempt {attempt}: {claimed.model_type.value} model {claimed.model_name} v{claimed.model_version} (sha256 {claimed.model.sha256[:12]})")
            launch = None
            try:
                model_path, data_path = await validate_model(facade, claimed, scratch)
                env_dir = await _model_environment(claimed, lines, held)
                launch = ModelLaunch(claimed, scratch, model_path, data_path, attempt, env_dir)
            except (ModelInvalid, SandboxUnavailable, environments.EnvironmentBuildError) as exc:
                held.close()
                lines.system(str(exc), LogLevel.ERROR)
                outcome = RunOutcome(attempt=attempt, status=JobStatus.failed, error_message=str(exc))
                await _forbid_retries(flow_run_id)
            else:
                try:
                    exit_code, error = await execute_model(lines, launch, shipper)
                    usage = launch.usage()
                finally:
                    launch.close()
                    held.close()
                await collect_results(facade, lines, claimed.job_id, output_dir)
                outcome = _outcome(attempt, exit_code, error, lines)
                outcome.peak_memory_mb, outcome.cpu_seconds = usage.peak_memory_mb, usage.cpu_seconds
            outcome.last_seq = lines.last_seq
        await shipper.drain()
        await facade.upload_artifact(claimed.job_id, "log", f"attempt-{attempt}.log", log_artifact(log_path))
        await _quietly(prefect_views.publish_artifacts(claimed, outcome, output_dir, _page_url(claimed.job_id)), "publish artifacts")
        await facade.finish(claimed.job_id, outcome)
    finally:
        held.close()
        prefect_log.flush()
        if outcome is None:  # cancelled or crashed: still hand over what was printed
            await asyncio.shield(_drain_quietly(shipper))
        shutil.rmtree(scratch, ignore_errors=True)
        log_path.unlink(missing_ok=True)
    if outcome.status != JobStatus.success:
        return Failed(message=outcome.error_message)
    return outcome.report.model_dump(exclude_none=True)


async def _quietly(view: Coroutine[Any, Any, None], what: str) -> None:
    """Prefect UI views (flows/prefect_views.py) never fail a run: a failure is a warning in the flow's log."""
    try:
        await view
    except Exception as exc:  # noqa: BLE001 - any failure of a view leaves the run as it is
        get_run_logger().warning("could not %s in Prefect: %s", what, exc)


def _page_url(job_id: str) -> str:
    settings = get_settings()
    return f"{(settings.public_url or settings.resolved_api_url).rstrip('/')}/sandbox?job={job_id}"


async def _model_environment(claimed: ClaimedRun, lines: LineSequencer, held: contextlib.ExitStack) -> Path | None:
    """The directory of the model's own environment (built on this worker first if it has none, with uv's
    output in the run's log), entered into `held`; None for a model without dependencies."""
    if not claimed.lock:
        return None
    loop = asyncio.get_running_loop()
    say = lambda line: loop.call_soon_threadsafe(lines.system, line)  # noqa: E731 - uv's output from the builder's thread
    started = time.perf_counter()
    env_dir = await asyncio.to_thread(held.enter_context, environments.environment(claimed.lock, say))
    await asyncio.sleep(0)  # the builder's last lines land before the next
    packages = environments.pinned(claimed.lock)
    lines.system(f"environment {env_dir.name[:12]}: {len(packages)} packages "
                 f"({', '.join(f'{name}=={version}' for name, version in list(packages.items())[:8])}"
                 f"{', ...' if len(packages) > 8 else ''}), ready in {time.perf_counter() - started:.2f} s")
    return env_dir


def log_artifact(log_path: Path, limit: int = MAX_ARTIFACT_BYTES) -> bytes:
    """The run's log file as uploaded: whole up to `limit`, else cut at a line end with a last line that says so
    (JobLog keeps every line up to the run's cap either way). Reads at most `limit` bytes. At the default 200 MB
    log cap a run's log file, each line with its stamp, seq and level, is larger than a flow may upload."""
    with log_path.open("rb") as log_file:
        data = log_file.read(limit + 1)
    if len(data) <= limit:
        return data
    return data[: data.rfind(b"\n", 0, limit) + 1] + (
        f"[optbox: this file is cut at {limit / 1024 / 1024:g} MB; the run's stored log "
        "(GET /api/optimization/jobs/{jobId}/logs) has every line up to its log cap]\n").encode()


async def _drain_quietly(shipper: LineShipper) -> None:
    try:
        await asyncio.wait_for(shipper.drain(), timeout=10)
    except Exception:  # noqa: BLE001 - best effort on the way out; the mirror settles the state
        pass


def _outcome(attempt: int, exit_code: int, error: str | None, lines: LineSequencer) -> RunOutcome:
    report: Report = lines.report
    if error is None:
        return RunOutcome(attempt=attempt, status=JobStatus.success, exit_code=0, report=report)
    return RunOutcome(attempt=attempt, status=JobStatus.failed, exit_code=exit_code, report=report, error_message=error)
