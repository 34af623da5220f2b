"""The facade's side of Prefect: create, cancel and read flow runs of our deployments.

Creating a flow run costs Prefect a few SQLite writes (160 ms idle, seconds under load),
so POST /execute does not wait for it: `launch` runs the creation in the background,
idempotent on the job id (a repeat after a lost answer returns the same run). Creations
of one deployment asked for while one request is under way go together in the next
(`optbox.batching`, Prefect's bulk endpoint): a burst of executes costs Prefect a few
requests and transactions, not one each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterId,
)
from prefect.client.schemas.objects import DeploymentSchedule, DeploymentStatus, StateType
from prefect.client.schemas.schedules import CronSchedule
from prefect.client.schemas.sorting import FlowRunSort
from prefect.context import SettingsContext, get_settings_context
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES
from prefect.states import Cancelled, Cancelling
from pydantic import BaseModel, TypeAdapter

from optbox.batching import Batches, Hold
from optbox.protocol import FLOW_NAME, FLOW_RETRIES_ENV, ModelType, deployment_name, deployment_path

log = logging.getLogger(__name__)
READ_LIMIT = 200  # the most runs Prefect's API returns per read (PREFECT_API_DEFAULT_LIMIT)
BULK_LIMIT = 100  # the most runs Prefect creates per bulk request
# Prefect spends ~50 ms of CPU per run it creates (on SQLite): creating a burst's runs while its requests still
# come took a core from them (20 clients' executes: p50 45 ms, 25 with the creations after the burst). A burst's
# runs wait in line anyway; a lone click's run is created at once.
CREATION_HOLD = Hold(quiet_s=0.1, at_most_s=2.0)


class StateSnapshot(BaseModel):
    type: StateType
    name: str
    timestamp: datetime
    message: str | None = None


class RunSnapshot(BaseModel):
    """What the mirror needs of a flow run. Validating Prefect's whole FlowRun (dozens of fields,
    nested models) for the 200 runs of each pass held the facade's event loop ~20 ms a second,
    which every request in flight waited out; this takes the same JSON in well under 1 ms."""

    id: UUID
    deployment_id: UUID | None = None
    parameters: dict[str, Any] = {}
    run_count: int = 0
    auto_scheduled: bool = False
    state: StateSnapshot | None = None
    expected_start_time: datetime | None = None  # when it was due: how late a run that has not started is


_RUN_SNAPSHOTS = TypeAdapter(list[RunSnapshot])


class DeploymentMissing(Exception):
    """Prefect has no deployment for this model type (prefect.yaml not applied yet)."""


class ScheduleMissing(Exception):
    """The type's deployment has no cron schedule (prefect.yaml gives each DMO/RMO/SO deployment one)."""


class PrefectBusy(Exception):
    """Prefect could not write this run just now (its SQLite locked by another writer): worth another try."""


class RunRefused(Exception):
    """Prefect will not create this run (a parameter or job variable it refuses, say)."""


@dataclass(frozen=True)
class RunCreation:
    parameters: dict[str, Any]
    tags: Sequence[str]
    job_variables: dict[str, Any] | None
    idempotency_key: str | None
    name: str | None = None  # None: Prefect picks a random one

    def body(self) -> dict[str, Any]:
        """The run's `DeploymentFlowRunCreate` JSON, written out: built through Prefect's models (a State, its details,
        the request) it cost ~160 µs a run, the most of any step of a launch on the facade. tests/api/test_bulk_creations.py
        holds it equal to Prefect's own."""
        return {"state": {"type": "SCHEDULED", "name": "Scheduled", "message": None, "data": None,
                          "state_details": {"scheduled_time": datetime.now(UTC).isoformat(), "traceparent": None}},
                "parameters": self.parameters, "tags": list(self.tags), "job_variables": self.job_variables,
                "idempotency_key": self.idempotency_key, **({"name": self.name} if self.name else {})}


def _refusal(error: str) -> Exception:
    # the bulk endpoint answers 200 with a row's error as text: SQLite's lock is the one that passes
    return PrefectBusy(error) if "database is locked" in error else RunRefused(error)


class Orchestrator:
    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.client = PrefectClient(api=api_url)
        self._deployment_ids: dict[ModelType, UUID] = {}
        self.deployment_types: dict[UUID, tuple[str, ModelType]] = {}
        self._launches: set[asyncio.Task[None]] = set()
        self._launching: set[str] = set()
        # Prefect's SQLite takes one write at a time: one bulk request per deployment in flight, the rest wait for the next
        self._bulk: dict[UUID, Batches[RunCreation, UUID]] = {}
        # Creating a run on Prefect's SQLite meets "database is locked" (503) now and then: a read-then-write
        # transaction lost its snapshot to another writer, gone milliseconds later. Prefect's client waits 2 s
        # before its first retry (its backoff is 2**n s); the launch retries sooner itself (api.runs.launch_run).
        self._without_client_retries = get_settings_context().settings.copy_with_update(updates={PREFECT_CLIENT_MAX_RETRIES: 0})

    async def __aenter__(self) -> Orchestrator:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._launches:  # let creations already asked for land; the mirror relaunches any that do not
            await asyncio.wait(self._launches, timeout=5)
        await self.client.__aexit__(*exc_info)

    def launch(self, name: str, creation: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run a flow-run creation off the request path, once per `name` at a time."""
        if name in self._launching:
            return
        task = asyncio.create_task(creation(), name=name)
        self._launches.add(task)
        self._launching.add(name)
        task.add_done_callback(self._launch_done)

    def _launch_done(self, task: asyncio.Task[None]) -> None:
        self._launches.discard(task)
        self._launching.discard(task.get_name())
        if not task.cancelled() and task.exception() is not None:
            log.error("launching %s failed", task.get_name(), exc_info=task.exception())

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")

    async def healthy(self) -> bool:
        return (await self.client.api_healthcheck()) is None

    async def waiting_for(self) -> list[str]:
        """What keeps a run of some type from starting now: a deployment not applied yet, or one no
        worker has polled lately (Prefect marks a deployment READY when a worker polls its queue)."""
        by_name = await self._our_deployments()
        waiting = []
        for model_type in ModelType:
            deployment = by_name.get(deployment_name(model_type))
            if deployment is None:
                waiting.append(f"deployment {deployment_path(model_type)} (the worker applies prefect.yaml)")
            elif deployment.status != DeploymentStatus.READY:
                waiting.append(f"a worker polling {deployment_path(model_type)}")
        return waiting

    async def refresh_deployments(self) -> None:
        await self._our_deployments()

    async def _our_deployments(self) -> dict[str, Any]:
        """Our flow's deployments by name as Prefect has them now; their ids are remembered on the way."""
        deployments = await self.client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])))
        by_name = {deployment.name: deployment for deployment in deployments}
        for model_type in ModelType:
            if deployment := by_name.get(deployment_name(model_type)):
                self._deployment_ids[model_type] = deployment.id
                self.deployment_types[deployment.id] = (deployment_path(model_type), model_type)
        return by_name

    async def deployment_id(self, model_type: ModelType) -> UUID:
        if model_type not in self._deployment_ids:
            await self.refresh_deployments()
        if model_type not in self._deployment_ids:
            raise DeploymentMissing(f"no Prefect deployment {deployment_path(model_type)}; is the worker up (it applies prefect.yaml)?")
        return self._deployment_ids[model_type]

    async def read_schedule(self, model_type: ModelType) -> DeploymentSchedule:
        """The type's deployment schedule as Prefect has it now (the one cron schedule prefect.yaml gives it)."""
        for schedule in await self.client.read_deployment_schedules(await self.deployment_id(model_type)):
            if isinstance(schedule.schedule, CronSchedule):
                return schedule
        raise ScheduleMissing(f"deployment {deployment_path(model_type)} has no cron schedule")

    async def update_schedule(self, model_type: ModelType, *, active: bool | None = None, cron: CronSchedule | None = None) -> DeploymentSchedule:
        """Pause/resume and/or re-cron the type's schedule through Prefect's deployment schedule API, so
        Prefect's scheduler and its UI see the same; the schedule as it is afterwards."""
        current = await self.read_schedule(model_type)
        await self.client.update_deployment_schedule(current.deployment_id or await self.deployment_id(model_type), current.id,
                                                     active=active, schedule=cron)
        return await self.read_schedule(model_type)

    async def create_run(self, model_type: ModelType, parameters: dict[str, Any], *, tags: Sequence[str], retries: int | None,
                         idempotency_key: str | None = None, name: str | None = None) -> UUID:
        """The new run's id; PrefectBusy, RunRefused or the request's own error when it was not created."""
        job_variables = None if retries is None else {"env": {FLOW_RETRIES_ENV: str(retries)}}
        creation = RunCreation(parameters, tags, job_variables, idempotency_key, name)
        try:
            return await self._bulk_creations(await self.deployment_id(model_type)).submit(creation)
        except ObjectNotFound:  # the deployment was deleted and applied again under a new id: look it up once more
            self._deployment_ids.pop(model_type, None)
            return await self._bulk_creations(await self.deployment_id(model_type)).submit(creation)

    def _bulk_creations(self, deployment: UUID) -> Batches[RunCreation, UUID]:
        if deployment not in self._bulk:
            self._bulk[deployment] = Batches(lambda creations: self._create_bulk(deployment, creations), BULK_LIMIT, "bulk-creations",
                                             hold=CREATION_HOLD)
        return self._bulk[deployment]

    async def _create_bulk(self, deployment: UUID, creations: Sequence[RunCreation]) -> list[UUID | Exception]:
        try:
            with SettingsContext(profile=get_settings_context().profile, settings=self._without_client_retries):
                response = await self.client.request("POST", "/deployments/{id}/create_flow_run/bulk", path_params={"id": deployment},
                                                     json=[creation.body() for creation in creations])
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 404:
                raise ObjectNotFound(http_exc=exc) from exc
            raise
        return [UUID(result["flow_run_id"]) if result["status"] == "CREATED" else _refusal(result.get("error") or "")
                for result in response.json()["results"]]

    async def cancel(self, flow_run_id: str) -> str:
        """Cancel a run: not yet started → Cancelled at once; running → Cancelling (the worker kills it)."""
        flow_run = await self.client.read_flow_run(UUID(flow_run_id))
        if flow_run.state is None or flow_run.state.is_final():
            return flow_run.state.name if flow_run.state else "unknown"
        started = flow_run.state.type in (StateType.RUNNING, StateType.CANCELLING)
        state = Cancelling(message="cancelled by user") if started else Cancelled(message="cancelled by user before it started")
        await self.client.set_flow_run_state(UUID(flow_run_id), state, force=True)
        return state.name

    async def read_runs(self, flow_run_ids: Sequence[str]) -> list[RunSnapshot]:
        runs = []
        for first in range(0, len(flow_run_ids), READ_LIMIT):  # Prefect refuses a larger page (422)
            page = flow_run_ids[first:first + READ_LIMIT]
            runs += await self._snapshots(FlowRunFilter(id=FlowRunFilterId(any_=[UUID(i) for i in page])), limit=len(page))
        return runs

    async def recent_runs(self, lookback: timedelta, limit: int = READ_LIMIT) -> list[RunSnapshot]:
        """Runs of our deployments that were due within `lookback` (future schedules excluded)."""
        if not self.deployment_types:
            await self.refresh_deployments()
        if not self.deployment_types:
            return []
        now = datetime.now(UTC)
        return await self._snapshots(FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=list(self.deployment_types)),
            expected_start_time=FlowRunFilterExpectedStartTime(after_=now - lookback, before_=now + timedelta(seconds=2)),
        ), sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit)

    async def _snapshots(self, runs: FlowRunFilter, *, limit: int, sort: FlowRunSort | None = None) -> list[RunSnapshot]:
        """`read_flow_runs`, validated into RunSnapshot instead of FlowRun (same request body)."""
        body = {"flow_runs": runs.model_dump(mode="json", exclude_unset=True), "sort": sort, "limit": limit, "offset": 0}
        response = await self.client.request("POST", "/flow_runs/filter", json=body)
        return _RUN_SNAPSHOTS.validate_json(response.content)
