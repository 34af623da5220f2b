"""The facade's side of Prefect: create, cancel and read flow runs of our deployments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterId,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.states import Cancelled, Cancelling

from optbox.protocol import FLOW_NAME, ModelType, deployment_name, deployment_path


class DeploymentMissing(Exception):
    """Prefect has no deployment for this model type (prefect.yaml not applied yet)."""


class Orchestrator:
    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.client = PrefectClient(api=api_url)
        self._deployment_ids: dict[ModelType, UUID] = {}
        self.deployment_types: dict[UUID, tuple[str, ModelType]] = {}

    async def __aenter__(self) -> Orchestrator:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.client.__aexit__(*exc_info)

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")

    async def healthy(self) -> bool:
        return (await self.client.api_healthcheck()) is None

    async def refresh_deployments(self) -> None:
        deployments = await self.client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])))
        by_name = {deployment.name: deployment for deployment in deployments}
        for model_type in ModelType:
            if deployment := by_name.get(deployment_name(model_type)):
                self._deployment_ids[model_type] = deployment.id
                self.deployment_types[deployment.id] = (deployment_path(model_type), model_type)

    async def deployment_id(self, model_type: ModelType) -> UUID:
        if model_type not in self._deployment_ids:
            await self.refresh_deployments()
        if model_type not in self._deployment_ids:
            raise DeploymentMissing(f"no Prefect deployment {deployment_path(model_type)}; is the worker up (it applies prefect.yaml)?")
        return self._deployment_ids[model_type]

    async def create_run(self, model_type: ModelType, parameters: dict[str, Any], *, tags: Sequence[str], retries: int | None) -> FlowRun:
        job_variables = None if retries is None else {"env": {"OPTBOX_FLOW_RETRIES": str(retries)}}
        return await self.client.create_flow_run_from_deployment(
            await self.deployment_id(model_type), parameters=parameters, tags=list(tags), job_variables=job_variables,
        )

    async def cancel(self, flow_run_id: str) -> str:
        """Cancel a run: not yet started → Cancelled at once; running → Cancelling (the worker kills it)."""
        flow_run = await self.client.read_flow_run(UUID(flow_run_id))
        if flow_run.state is None or flow_run.state.is_final():
            return flow_run.state.name if flow_run.state else "unknown"
        started = flow_run.state.type in (StateType.RUNNING, StateType.CANCELLING)
        state = Cancelling(message="cancelled by user") if started else Cancelled(message="cancelled by user before it started")
        await self.client.set_flow_run_state(UUID(flow_run_id), state, force=True)
        return state.name

    async def read_runs(self, flow_run_ids: Sequence[str]) -> list[FlowRun]:
        if not flow_run_ids:
            return []
        return await self.client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(i) for i in flow_run_ids])))

    async def recent_runs(self, lookback: timedelta, limit: int = 200) -> list[FlowRun]:
        """Runs of our deployments that were due within `lookback` (future schedules excluded)."""
        if not self.deployment_types:
            await self.refresh_deployments()
        if not self.deployment_types:
            return []
        now = datetime.now(UTC)
        return await self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=list(self.deployment_types)),
                expected_start_time=FlowRunFilterExpectedStartTime(after_=now - lookback, before_=now + timedelta(seconds=2)),
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=limit,
        )
