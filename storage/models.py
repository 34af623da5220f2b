"""ORM tables. Enum-valued columns hold the string values of optbox.protocol enums."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime()}


class OptimizationModel(Base):
    __tablename__ = "optimization_models"
    __table_args__ = (UniqueConstraint("model_name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(200), index=True)
    original_filename: Mapped[str] = mapped_column(String(255))
    model_type: Mapped[str] = mapped_column(String(8), index=True)
    file_ref: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    file_size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="inactive", index=True)
    syntax_valid: Mapped[bool] = mapped_column(Boolean, default=True)
    validation_message: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    uploaded_by: Mapped[str] = mapped_column(String(200), default="anonymous")
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    # a multi-file model (an archive): the file that runs; None for a single .py
    entry: Mapped[str | None] = mapped_column(String(255))
    # its declared packages resolved at upload (uv pip compile, with hashes); None: the base environment
    dependency_lock: Mapped[str | None] = mapped_column(Text)
    lock_sha256: Mapped[str | None] = mapped_column(String(64))


class DataSource(Base):
    __tablename__ = "data_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    model_type: Mapped[str] = mapped_column(String(8), index=True)
    file_ref: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    file_size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    uploaded_by: Mapped[str] = mapped_column(String(200), default="anonymous")
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the one dataset of its type a run without dataSourceId reads (scheduled runs included)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class TypeSettings(Base):
    """One saved version of a model type's default run config; the highest version is the one in use."""

    __tablename__ = "type_settings"
    __table_args__ = (UniqueConstraint("model_type", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_type: Mapped[str] = mapped_column(String(8), index=True)
    version: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), unique=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("optimization_models.id", ondelete="SET NULL"), index=True)
    model_name: Mapped[str | None] = mapped_column(String(200))
    model_version: Mapped[int | None]
    model_sha256: Mapped[str | None] = mapped_column(String(64))
    model_type: Mapped[str] = mapped_column(String(8), index=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    deployment_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    prefect_state: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    triggered_by: Mapped[str] = mapped_column(String(16), default="manual")
    model_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    data_source_id: Mapped[int | None] = mapped_column(ForeignKey("data_sources.id", ondelete="SET NULL"))
    data_source_sha256: Mapped[str | None] = mapped_column(String(64))
    log_file_path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None]
    results_count: Mapped[int | None]
    objective_value: Mapped[float | None] = mapped_column(Float)
    solver_time_ms: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the RunLimits it ran under, and its sandbox
    lock_sha256: Mapped[str | None] = mapped_column(String(64))  # the dependency lock it ran with (provenance)
    # resources: the latest attempt's peak memory and CPU time (its cgroup, else psutil samples); how long the
    # run waited in line, from created_at until its first attempt ran
    peak_memory_mb: Mapped[float | None] = mapped_column(Float)
    cpu_seconds: Mapped[float | None] = mapped_column(Float)
    queued_s: Mapped[float | None] = mapped_column(Float)
    settings_version: Mapped[int | None]  # the TypeSettings version its config was merged over (None: none saved)

    @property
    def duration_ms(self) -> float | None:
        if self.started_at and self.completed_at:
            return (self.completed_at - self.started_at).total_seconds() * 1000
        return None


class JobLog(Base):
    __tablename__ = "job_logs"
    __table_args__ = (UniqueConstraint("job_id", "seq", name="uq_job_logs_job_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    level: Mapped[str] = mapped_column(String(8))
    stream: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime]
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)


class JobArtifact(Base):
    """A file a run produced (OUTPUT_DIR results, the run's log file)."""

    __tablename__ = "job_artifacts"
    __table_args__ = (UniqueConstraint("job_id", "kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # result | log
    name: Mapped[str] = mapped_column(String(255))
    file_ref: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Activity(Base):
    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(32), index=True)  # upload, execute, archive, delete, ...
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200), default="anonymous")
    actor_role: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16), default="info")  # info | success | warning | error
    category: Mapped[str] = mapped_column(String(32), default="system")  # upload | execution | system
    is_read: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)


class ApiKey(Base):
    """A credential. Only the sha256 of the key is kept; the key is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # viewer | operator | admin
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(12))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Alert(Base):
    """One alert event (a run failed, crashed, went late or recovered; or a test), recorded in the same
    transaction as what caused it. `key` names the event: whichever replica or mirror pass sees it
    again inserts nothing. `deliveries` holds each destination's {status, attempts, error, at}."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(16))  # failed | crashed | late | recovered | test
    job_id: Mapped[str | None] = mapped_column(String(64), index=True)
    model_type: Mapped[str | None] = mapped_column(String(8), index=True)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    deliveries: Mapped[dict[str, Any]] = mapped_column(JSON)
    done: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
