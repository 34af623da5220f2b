"""The model-author protocol and the wire schemas between flow and facade.

Model authors: every line printed is a log line. stdout is INFO and stderr is
ERROR unless the line names its own level ("WARNING: ...", "ERROR ...", or
Python logging's "2024-01-01 10:00:00,000 - name - WARNING - ..."). A line
starting with `::optbox ` followed by a JSON object is a *report*:

    ::optbox {"progress": 40, "objective_value": 1234.5, "results_count": 96,
              "solver_time_ms": 12.5, "metrics": {"mip_gap": 0.0}}

All keys are optional; later reports override earlier ones and metrics merge.
The seed's plain lines "Objective value: N" and "Results written: N" count as
reports too. This module is the only place that parses levels and reports.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

REPORT_PREFIX = "::optbox "

# ----- the flow <-> facade contract's numbers and names, in one place ------------------------
MIB = 1024 * 1024
FLOW_BODY_LIMIT_BYTES = 64 * MIB  # the most the facade reads of one request body from a flow
# A result file or log file a flow uploads: under FLOW_BODY_LIMIT_BYTES with room for the multipart envelope.
MAX_ARTIFACT_BYTES = 48 * MIB
MAX_RESULT_FILES = 100  # result files kept per run; later ones are left out with a warning
# A deployment's job env (prefect.yaml) carries its retry policy; the facade sets retries per run the same way.
FLOW_RETRIES_ENV = "OPTBOX_FLOW_RETRIES"
FLOW_RETRY_DELAY_ENV = "OPTBOX_FLOW_RETRY_DELAY_S"
FLOW_ENTRY_ENV = "OPTBOX_FLOW_ENTRY"  # which of the project's flows a deployment runs (`module:attribute`)


def flow_retry_policy(env: Mapping[str, str | None]) -> tuple[int, int]:
    """(retries, delay in seconds) a flow run's job env asks for; none unless its deployment says so."""
    return int(env.get(FLOW_RETRIES_ENV) or 0), int(env.get(FLOW_RETRY_DELAY_ENV) or 60)


MAX_DB_INT = 2**63 - 1  # what BIGINT and SQLite INTEGER hold; larger ids and seqs are refused, not overflowed
DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]
FLOW_NAME = "optbox-model-run"


class ModelType(str, enum.Enum):
    DMO = "DMO"
    RMO = "RMO"
    SO = "SO"


def deployment_name(model_type: ModelType) -> str:
    """The deployment (in prefect.yaml) that runs models of this type."""
    return model_type.value.lower()


def deployment_path(model_type: ModelType) -> str:
    """`<flow>/<deployment>`, as Prefect names it."""
    return f"{FLOW_NAME}/{deployment_name(model_type)}"


class LogLevel(str, enum.Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class Stream(str, enum.Enum):
    stdout = "stdout"
    stderr = "stderr"
    system = "system"


class JobStatus(str, enum.Enum):
    pending = "pending"
    running = "running"
    success = "success"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.success, JobStatus.failed, JobStatus.cancelled)


class TriggeredBy(str, enum.Enum):
    manual = "manual"
    scheduled = "scheduled"
    retry = "retry"
    api = "api"


_LEVEL_ALIASES = {
    "DEBUG": LogLevel.DEBUG,
    "INFO": LogLevel.INFO,
    "WARN": LogLevel.WARNING,
    "WARNING": LogLevel.WARNING,
    "ERROR": LogLevel.ERROR,
    "CRITICAL": LogLevel.ERROR,
    "FATAL": LogLevel.ERROR,
}
# "WARNING: x", "ERROR x", "[WARN] x" at the start of a line.
_LEADING_LEVEL = re.compile(r"^\s*\[?(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\]?(?=[\s:\]-]|$)")
# Python logging's default and common formats: "<asctime> - name - LEVEL - msg", "LEVEL:name:msg".
_LOGGING_LEVEL = re.compile(r"(?:^|\s[-|]\s|^\S+\s\S+\s)(DEBUG|INFO|WARNING|ERROR|CRITICAL)(?:\s[-|]\s|:)")
_OBJECTIVE = re.compile(r"^\s*Objective value:\s*([-+0-9.eE]+)")
_RESULTS = re.compile(r"^\s*Results written:\s*(\d+)")


def parse_level(message: str, stream: Stream) -> LogLevel:
    """The level a line carries itself, else its stream's default."""
    match = _LEADING_LEVEL.match(message) or _LOGGING_LEVEL.search(message[:200])
    if match:
        return _LEVEL_ALIASES[match.group(1)]
    return LogLevel.ERROR if stream == Stream.stderr else LogLevel.INFO


class Report(BaseModel):
    """What a model reports about its run; every field optional."""

    progress: float | None = Field(None, ge=0, le=100)
    objective_value: float | None = None
    results_count: int | None = Field(None, ge=0)
    solver_time_ms: float | None = Field(None, ge=0)
    metrics: dict[str, Any] | None = None

    def merged_into(self, earlier: Report) -> Report:
        data = earlier.model_dump()
        for key, value in self.model_dump(exclude_none=True).items():
            data[key] = {**(data.get("metrics") or {}), **value} if key == "metrics" else value
        return Report(**data)


def parse_report(message: str) -> Report | None:
    """The report a line carries, or None. A malformed report line is a plain line."""
    if message.startswith(REPORT_PREFIX):
        try:
            payload = json.loads(message[len(REPORT_PREFIX):])
            return Report.model_validate(payload) if isinstance(payload, dict) else None
        except (ValueError, ValidationError):
            return None
    if match := _OBJECTIVE.match(message):
        try:
            return Report(objective_value=float(match.group(1)))
        except ValueError:
            return None
    if match := _RESULTS.match(message):
        return Report(results_count=int(match.group(1)))
    return None


def format_log_line(timestamp: datetime, seq: int, level: str, stream: str, message: str) -> str:
    """One line of a run's log file (the worker's copy and the facade's /logfile alike)."""
    return f"{timestamp.isoformat()} {seq:>7} {level:<7} [{stream}] {message}\n"


# ----- wire schemas: flow -> facade -------------------------------------------------


class LogLine(BaseModel):
    seq: DbId
    timestamp: datetime
    level: LogLevel
    stream: Stream
    message: str
    report: Report | None = None


class LogBatch(BaseModel):
    attempt: int = Field(1, ge=1, le=10_000)
    lines: list[LogLine]


class LogBatchAck(BaseModel):
    stored: int
    max_seq: int


class RunClaim(BaseModel):
    """A flow run announcing itself; the facade answers with what to run."""

    flow_run_id: str
    deployment_name: str | None = None
    model_type: ModelType
    attempt: int = Field(1, ge=1, le=10_000)
    job_id: str | None = None
    model_id: DbId | None = None
    data_source_id: DbId | None = None
    config: dict[str, Any] | None = None
    auto_scheduled: bool = False


class RunLimits(BaseModel):
    """What one run may use: the one limits type from the execute body to the flow and back on retry.

    Fields are snake_case, read from camelCase too (`timeoutS`, as the execute body sends them) and written
    snake_case, as job records are. In an execute body every field is optional (absent: the server's);
    `Settings.run_limits()` gives the server's, every field set, and `within(server)` what a run gets."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=AliasGenerator(validation_alias=to_camel))

    timeout_s: float | None = Field(None, gt=0, description="wall-clock seconds")
    memory_mb: int | None = Field(None, gt=0, description="memory of the run's whole process tree")
    max_procs: int | None = Field(None, gt=0, description="processes and threads at once")
    max_log_mb: float | None = Field(None, gt=0, description="log a run may store")
    network: bool | None = None

    def within(self, server: RunLimits) -> RunLimits:
        """The server's limits, lowered where these ask; asking above the server's raises LimitAboveServer."""
        resolved = server.model_dump()
        for name, asked in self.model_dump(exclude_none=True).items():
            if asked > resolved[name]:
                raise LimitAboveServer(to_camel(name), asked, resolved[name])
            resolved[name] = asked
        return RunLimits(**resolved)


class LimitAboveServer(ValueError):
    """A run asked for more than the server allows."""

    def __init__(self, field: str, asked: float | bool, ceiling: float | bool) -> None:
        what = "the network is off on this server" if field == "network" else f"the server allows at most {ceiling:g}"
        super().__init__(f"limits.{field}: {asked} is above this server's limit ({what})")
        self.field, self.ceiling = f"limits.{field}", ceiling


class FileRef(BaseModel):
    id: int
    filename: str
    sha256: str
    size: int
    download_path: str


class ClaimedRun(BaseModel):
    job_id: str
    model_type: ModelType
    model_name: str
    model_version: int
    model: FileRef
    dataset: FileRef | None = None
    config: dict[str, Any]
    next_seq: int
    limits: RunLimits
    entry: str | None = None  # the model is an archive: unpack it and run this file of it
    lock: str | None = None  # the model's dependency lock: run it in that environment (None: the base one)
    triggered_by: str = "manual"  # manual | schedule | api ...: names the flow run in Prefect's UI


def flow_run_name(model_type: str, model_name: str | None, model_version: int | None, triggered_by: str) -> str:
    """How a run's Prefect flow run is named, so Prefect's runs list reads at a glance: `SO · so_battery v3 · manual`.
    The facade names the runs it creates; the flow names every run (a schedule's too) once its claim says the model."""
    model = f"{model_name} v{model_version}" if model_name else "active model"
    return f"{model_type} · {model} · {triggered_by}"


class RunOutcome(BaseModel):
    """The flow's final word on an attempt."""

    attempt: int = Field(1, ge=1, le=10_000)
    status: JobStatus
    exit_code: int | None = None
    error_message: str | None = None
    report: Report = Field(default_factory=Report)
    last_seq: int = Field(0, ge=0, le=MAX_DB_INT)
    # what the model's process tree used (its cgroup's counters, or psutil samples without one); None: not measured
    peak_memory_mb: float | None = Field(None, ge=0, le=MAX_DB_INT)
    cpu_seconds: float | None = Field(None, ge=0, le=MAX_DB_INT)

    @field_validator("status")
    @classmethod
    def _terminal_only(cls, value: JobStatus) -> JobStatus:
        if not value.is_terminal:
            raise ValueError("an outcome is success, failed or cancelled")
        return value


class PruneRequest(BaseModel):
    """The maintenance flow asks the facade to apply retention."""

    older_than_days: float = Field(ge=0, le=36_500)


class PruneReport(BaseModel):
    """What retention removed (JobRun rows are kept)."""

    cutoff: datetime
    runs: int
    log_rows: int
    log_files: int
    result_files: int
    bytes: int
