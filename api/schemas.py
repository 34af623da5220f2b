"""Request and response bodies. Field names follow the original dashboard's contract:
records in snake_case, request bodies and top-level envelope keys in camelCase."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.config_schema import check_bounds
from optbox.protocol import DbId, ModelType, RunLimits
from optbox.sandbox import Protections


class ORMModel(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())


class ModelOut(ORMModel):
    id: int
    model_name: str
    original_filename: str
    model_type: str
    sha256: str
    file_size: int
    status: str
    syntax_valid: bool
    validation_message: str | None
    description: str | None
    version: int
    uploaded_by: str
    uploaded_at: datetime
    last_used_at: datetime | None
    metadata: dict[str, Any] | None = Field(None, validation_alias="metadata_")
    entry: str | None = None
    lock_sha256: str | None = None


class LockDiff(BaseModel):
    from_: str | None = Field(None, serialization_alias="from")
    to: str | None = None


class ModelLockResponse(BaseModel):
    """A model version's dependency lock (empty: the base environment), and what changed against another version."""

    success: bool = True
    model_id: int
    lock_sha256: str | None
    lock: str
    packages: dict[str, str]
    against: int | None = None
    changes: dict[str, LockDiff] | None = None


class JobSummary(ORMModel):
    job_id: str
    model_id: int | None
    model_name: str | None
    model_version: int | None
    model_sha256: str | None
    model_type: str
    flow_run_id: str | None
    deployment_name: str | None
    status: str
    prefect_state: str | None
    progress: float
    attempt: int
    triggered_by: str
    model_config_: dict[str, Any] | None = Field(None, validation_alias="model_config", serialization_alias="model_config")
    data_source_id: int | None
    data_source_sha256: str | None
    log_file_path: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    error_message: str | None
    exit_code: int | None
    results_count: int | None
    objective_value: float | None
    solver_time_ms: float | None
    metrics: dict[str, Any] | None
    last_seq: int
    limits: RunLimits | None = None
    lock_sha256: str | None = None
    duration_ms: float | None = None
    queue_position: int | None = None
    peak_memory_mb: float | None = None
    cpu_seconds: float | None = None
    queued_s: float | None = None
    settings_version: int | None = None


class ModelWithRuns(ModelOut):
    last_run: JobSummary | None = None


class ModelsResponse(BaseModel):
    success: bool = True
    models: list[ModelWithRuns]
    counts: dict[str, int]


class UploadResponse(BaseModel):
    success: bool = True
    model: ModelOut
    active: bool = Field(description="whether this version is now its type's active model (false: a candidate, run it by modelId)")
    message: str


class LogOut(ORMModel):
    seq: int
    level: str
    stream: str
    message: str
    timestamp: datetime
    metadata: dict[str, Any] | None = Field(None, validation_alias="metadata_")


class ArtifactOut(ORMModel):
    name: str
    kind: str
    size: int
    sha256: str
    created_at: datetime
    url: str = ""


class JobDetail(JobSummary):
    logs: list[LogOut] = []
    results: list[ArtifactOut] = []
    prefect_url: str | None = None


class JobResponse(BaseModel):
    success: bool = True
    job: JobDetail


class JobsResponse(BaseModel):
    success: bool = True
    jobs: list[JobSummary]
    total: int
    limit: int
    offset: int


class LogsResponse(BaseModel):
    success: bool = True
    jobId: str
    logs: list[LogOut]
    nextAfterSeq: int
    hasMore: bool


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    modelType: ModelType
    modelId: DbId | None = None
    config: dict[str, Any] | None = None
    dataSourceId: DbId | None = None
    triggeredBy: Literal["manual", "api"] = "manual"
    limits: RunLimits | None = Field(None, description="each may only lower the server's (OPTBOX_RUN_*), never raise it")

    @field_validator("config")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_bounds(value)


class ExecuteResponse(BaseModel):
    success: bool = True
    jobId: str
    status: str
    flowRunId: str | None = Field(None, description="The Prefect flow run; created just after the answer, so null here and set on the job (GET /jobs/{jobId}, optimization:started).")
    modelId: int
    modelVersion: int


class CancelResponse(BaseModel):
    success: bool = True
    jobId: str
    status: str
    prefectState: str | None


class DatasetOut(ORMModel):
    id: int
    name: str
    model_type: str
    sha256: str
    file_size: int
    content_type: str
    description: str | None
    uploaded_by: str
    uploaded_at: datetime
    is_active: bool = False


class DatasetResponse(BaseModel):
    success: bool = True
    dataSource: DatasetOut


class DatasetsResponse(BaseModel):
    success: bool = True
    dataSources: list[DatasetOut]


class NotificationOut(ORMModel):
    id: int
    title: str
    message: str
    severity: str
    category: str
    is_read: bool
    created_at: datetime


class NotificationsResponse(BaseModel):
    success: bool = True
    notifications: list[NotificationOut]
    unread: int


class ActivityOut(ORMModel):
    id: int
    action: str
    entity_type: str
    entity_id: str | None
    actor: str
    actor_role: str | None
    description: str
    created_at: datetime


class ActivitiesResponse(BaseModel):
    success: bool = True
    activities: list[ActivityOut]


class AlertsHealth(BaseModel):
    enabled: bool = Field(description="whether any alert destination is configured and valid")
    destinations: list[str]
    problems: list[str] = Field(description="what is wrong with the alert configuration (secrets masked)")


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    prefect: bool
    ready: bool = Field(description="a run of every type can start now: deployments applied and a worker polling them")
    waiting_for: list[str] = Field(default_factory=list, description="what keeps `ready` false")
    version: str
    sandbox: Protections | None = Field(None, description="protections a model run gets on this host")
    alerts: AlertsHealth | None = None


class AlertOut(BaseModel):
    id: int
    event: str = Field(description="failed | crashed | late | recovered | test")
    jobId: str | None
    modelType: str | None
    headline: str
    createdAt: datetime
    done: bool = Field(description="nothing left to send (every destination sent, given up or skipped)")
    deliveries: dict[str, Any] = Field(description="per destination: status (pending | retrying | sent | failed | skipped), attempts, error, at")


class AlertDestinations(BaseModel):
    webhook: str | None = Field(description="the webhook URL, path and query masked")
    email: dict[str, Any] | None = Field(description="to, from and the SMTP server (password masked)")
    types: list[str]
    lateAfterS: float
    problems: list[str]


class AlertsResponse(BaseModel):
    success: bool = True
    destinations: AlertDestinations
    alerts: list[AlertOut] = Field(description="the last alerts, newest first")


class AlertTestResponse(BaseModel):
    success: bool
    alert: AlertOut


class NextRun(BaseModel):
    utc: datetime
    local: datetime  # the same instant in the schedule's timezone


class NextRunUses(BaseModel):
    """What the type's next scheduled run will use (nulls where there is none)."""

    modelId: int | None = None
    modelName: str | None = None
    modelVersion: int | None = None
    dataSourceId: int | None = None
    dataSourceName: str | None = None
    settingsVersion: int | None = Field(None, description="the saved settings version; null: none saved")
    settingsValid: bool | None = Field(None, description="the settings satisfy the active model's CONFIG_SCHEMA; null: no active model")


class ScheduleOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    modelType: ModelType
    cron: str
    timezone: str
    active: bool
    nextRuns: list[NextRun]
    nextRunUses: NextRunUses | None = None


class SchedulesResponse(BaseModel):
    schedules: list[ScheduleOut]


class ScheduleChange(BaseModel):
    """Pause/resume (`active`, operator) and/or a new cron (`cron`, admin); at least one."""
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    cron: str | None = None


class SettingsProblem(BaseModel):
    path: str = Field(description="where in the config, e.g. units/0/p_max ('' for the config itself)")
    message: str


class ModelRef(BaseModel):
    id: int
    name: str
    version: int


class SettingsOut(BaseModel):
    """A type's saved default run config, and whether its active model's CONFIG_SCHEMA accepts it."""
    model_config = ConfigDict(protected_namespaces=())

    modelType: ModelType
    config: dict[str, Any]
    version: int = Field(description="0: never saved")
    updatedBy: str | None
    updatedAt: datetime | None
    activeModel: ModelRef | None
    valid: bool
    problems: list[SettingsProblem]


class SettingsChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any]

    @field_validator("config")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_bounds(value)
