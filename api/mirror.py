"""Keeps JobRun true to Prefect, for every run of our deployments.

Flows report their own progress, but a flow can die, be cancelled from the
Prefect UI, be retried there, or never reach the facade (a scheduled run of
a type with no active model fails before it claims). So every
`mirror_interval_s` the mirror reads (a) runs of our deployments that were due
within `mirror_lookback_h` and (b) every run a non-final JobRun points at,
and moves JobRun forward. It polls instead of subscribing to Prefect's event
stream on purpose: a missed message cannot leave a run stuck, and after a
facade restart the first pass settles whatever moved while it was down.
With several API replicas only the one holding the leadership lease mirrors.
Alerts ride on this: a run's alert is recorded with the status move that
causes it, and a scheduled run not started in time is recorded late here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
from prefect.client.schemas.objects import StateType

from api.alerts import late_key, record_late, record_outcome
from api.context import Facade
from api.leadership import Leadership
from api.orchestrator import RunSnapshot
from api.runs import job_for_flow_run, launch
from optbox.protocol import JobStatus, ModelType, TriggeredBy
from storage import alerts, jobs
from storage.models import utcnow

log = logging.getLogger(__name__)
UNLAUNCHED_AFTER = timedelta(seconds=30)  # a pending job this old without a flow run lost its launch

_STATUS_FOR_STATE = {
    StateType.SCHEDULED: JobStatus.pending,
    StateType.PENDING: JobStatus.pending,
    StateType.PAUSED: JobStatus.pending,
    StateType.RUNNING: JobStatus.running,
    StateType.CANCELLING: JobStatus.running,
    StateType.COMPLETED: JobStatus.success,
    StateType.FAILED: JobStatus.failed,
    StateType.CRASHED: JobStatus.failed,
    StateType.CANCELLED: JobStatus.cancelled,
}


def job_status_for(flow_run: RunSnapshot) -> JobStatus:
    """The one mapping from a Prefect state to a job status."""
    return _STATUS_FOR_STATE[flow_run.state.type]


def attempt_of(flow_run: RunSnapshot) -> int:
    """Which attempt the flow run is on; an AwaitingRetry run is about to start run_count + 1."""
    if flow_run.state.name == "AwaitingRetry":
        return flow_run.run_count + 1
    return max(flow_run.run_count, 1)


class Mirror:
    def __init__(self, facade: Facade) -> None:
        self.facade = facade
        self.settings = facade.settings
        self._task: asyncio.Task[None] | None = None
        self.leadership = Leadership(self.settings.redis_url, f"{self.settings.redis_channel}:mirror",
                                     ttl_s=max(10.0, 10 * self.settings.mirror_interval_s))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="prefect-mirror")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.leadership.close()

    async def _loop(self) -> None:
        while True:
            try:
                if await self.leadership.held():
                    await self.reconcile_once()
            except asyncio.CancelledError:
                raise
            except httpx.TransportError as exc:
                log.warning("mirror: Prefect API unreachable (%s); retrying", exc)
            except Exception:  # noqa: BLE001 - Prefect or the database briefly away; try again next pass
                log.warning("mirror pass failed; retrying", exc_info=True)
            await asyncio.sleep(self.settings.mirror_interval_s)

    async def reconcile_once(self) -> int:
        """One pass; returns how many JobRuns changed."""
        orchestrator = self.facade.orchestrator
        async with self.facade.db.session() as session:
            unfinished = [job.flow_run_id for job in await jobs.unfinished_jobs(session)]
            unlaunched = [job.job_id for job in await jobs.unlaunched_jobs(session, utcnow() - UNLAUNCHED_AFTER)]
        for job_id in unlaunched:  # asked for before a facade restart: create the run now (idempotent on the job id)
            launch(self.facade, job_id)
        runs = {run.id: run for run in await orchestrator.recent_runs(timedelta(hours=self.settings.mirror_lookback_h))}
        known = set(map(str, runs))
        for run in await orchestrator.read_runs([i for i in unfinished if i not in known]):
            runs[run.id] = run
        async with self.facade.db.session() as session:
            seen = {flow_run_id: (job.prefect_state, job.attempt) for flow_run_id, job in (await jobs.jobs_by_flow_run(session, list(map(str, runs)))).items()}
        changed = 0
        for flow_run in runs.values():
            if flow_run.state is None or flow_run.deployment_id not in orchestrator.deployment_types:
                continue
            if seen.get(str(flow_run.id)) == (flow_run.state.name, attempt_of(flow_run)):
                continue  # nothing moved since the last pass
            changed += await self._reconcile_run(flow_run)
        await self._alert_late(runs.values())
        return changed

    async def _alert_late(self, runs) -> None:
        """Record a late alert for each run still not started `late_after_s` after it was due (once per run)."""
        config = self.facade.alerts
        if not config.destinations:
            return
        cutoff = utcnow() - timedelta(seconds=config.late_after_s)
        late = {late_key(str(run.id)): run for run in runs
                if run.state is not None and run.state.type == StateType.SCHEDULED and run.expected_start_time is not None
                and run.expected_start_time < cutoff and run.deployment_id in self.facade.orchestrator.deployment_types}
        if not late:
            return
        async with self.facade.db.session() as session:
            known = await alerts.known_keys(session, list(late))
            fresh = [run for key, run in late.items() if key not in known]
            if not fresh:
                return
            found = await jobs.jobs_by_flow_run(session, [str(run.id) for run in fresh])
            for run in fresh:
                if (job := found.get(str(run.id))) is not None:  # else: the next pass, once the run has its JobRun
                    active = None if job.model_name else await self.facade.catalog.active_model(job.model_type)
                    await record_late(session, config, job, run.expected_start_time, active)
            await session.commit()

    async def _reconcile_run(self, flow_run: RunSnapshot) -> int:
        deployment_name, model_type = self.facade.orchestrator.deployment_types[flow_run.deployment_id]
        status, attempt = job_status_for(flow_run), attempt_of(flow_run)
        async with self.facade.db.session() as session:
            job, created = await job_for_flow_run(
                session, flow_run_id=str(flow_run.id), model_type=ModelType(flow_run.parameters.get("model_type", model_type.value)),
                deployment_name=deployment_name, triggered_by=TriggeredBy.scheduled if flow_run.auto_scheduled else TriggeredBy.api,
                attempt=attempt, job_id=flow_run.parameters.get("job_id"),
            )
            moved = jobs.move_status(job, status, attempt, when=flow_run.state.timestamp)
            state_changed = job.prefect_state != flow_run.state.name
            job.prefect_state = flow_run.state.name
            if moved and status in (JobStatus.failed, JobStatus.cancelled) and not job.error_message:
                job.error_message = _state_message(flow_run, status)
            if not (created or moved or state_changed):
                return 0
            if moved and JobStatus(job.status).is_terminal:
                await record_outcome(session, self.facade.alerts, job, scheduled_at=flow_run.expected_start_time)
            await session.commit()
            if moved or created:
                await self.facade.realtime.job_changed(job)
                self.facade.queue.changed(job.model_type)
        return 1


def _state_message(flow_run: RunSnapshot, status: JobStatus) -> str:
    message = (flow_run.state.message or "").strip()
    if flow_run.state.type == StateType.CRASHED:
        return f"crashed: {message}" if message else "crashed"
    return message or ("cancelled" if status == JobStatus.cancelled else "failed")
