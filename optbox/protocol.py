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
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, field_validator

REPORT_PREFIX = "::optbox "
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
    """What one run may use; the facade resolves them (server defaults, lowered per run) and records them."""

    timeout_s: float = Field(gt=0)
    memory_mb: int = Field(gt=0)
    max_procs: int = Field(gt=0)
    max_log_mb: float = Field(gt=0)
    network: bool = False


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


class RunOutcome(BaseModel):
    """The flow's final word on an attempt."""

    attempt: int = Field(1, ge=1, le=10_000)
    status: JobStatus
    exit_code: int | None = None
    error_message: str | None = None
    report: Report = Field(default_factory=Report)
    last_seq: int = Field(0, ge=0, le=MAX_DB_INT)

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
