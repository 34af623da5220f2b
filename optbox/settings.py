"""The one settings object. Every field is reachable from `OPTBOX_<FIELD>`.

Roles (api, worker, flow) read the same environment; defaults give the
embedded single-machine setup (SQLite + local Prefect server) under ./.data.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from optbox.protocol import RunLimits

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPTBOX_", extra="ignore")

    data_dir: Path = Field(Path(".data"), description="Where the embedded database, stored files and Prefect home live.")
    database_url: str | None = Field(None, description="SQLAlchemy async URL; default SQLite (WAL) in data_dir.")

    api_host: str = Field("127.0.0.1", description="Facade bind address. Loopback by default.")
    api_port: int = 8000
    api_url: str | None = Field(None, description="How flows reach the facade; default http://api_host:api_port.")

    prefect_host: str = "127.0.0.1"
    prefect_port: int = 4200
    prefect_api_url: str | None = Field(None, description="Default http://prefect_host:prefect_port/api.")
    prefect_database_url: str | None = Field(None, description="Handed to the Prefect server; default SQLite in data_dir/prefect.")

    work_pool: str = "optbox-process"
    timezone: str = Field("Asia/Kolkata", description="Timezone of the DMO/RMO/SO schedules.")
    schedules_active: bool = Field(True, description="Deploy the DMO/RMO/SO schedules active (tests turn them off).")
    worker_poll_s: float = Field(1.0, description="How often the worker asks Prefect for runs to start.")
    mirror_interval_s: float = Field(1.0, description="How often the facade reconciles JobRun with Prefect.")
    mirror_lookback_h: float = Field(24.0, description="How far back the mirror looks for runs it has not seen.")

    auth: Literal["on", "off"] = Field("on", description="off: no credentials asked (refused unless the API binds to loopback).")
    admin_token: str | None = Field(None, description="The bootstrap admin key; generated into data_dir/admin_token when unset.")
    worker_token: str | None = Field(None, description="What flows present to the facade; generated into data_dir/worker_token when unset.")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed to call the API from a browser.")
    upload_rate: str = Field("30/minute", description="Uploads per key (limits syntax).")
    execute_rate: str = Field("60/minute", description="Executions per key (limits syntax).")
    max_upload_mb: float = 10.0
    bootstrap_samples: bool = Field(True, description="Register the shipped samples as active models on first start.")
    upload_activates: bool = Field(True, description=(
        "Whether an upload (model or dataset) that does not say `activate` becomes its type's active one; "
        "false: uploads are candidates until activated."))
    flow_finish_grace_s: float = Field(600.0, description="How long a finished flow waits for an unreachable facade to take its lines.")

    # --- the request path under load (POST /execute from many clients at once) ---
    auth_cache_s: float = Field(5.0, ge=0, description=(
        "How long a verified API key is trusted without asking the database again (0: every request asks). "
        "A key revoked through this replica stops at once; on other replicas within this many seconds."))

    # --- scale-out: several API replicas, workers on other machines, HA Prefect ---
    redis_url: str | None = Field(None, description="Redis for Socket.IO across API replicas and shared rate limits, e.g. redis://host:6379/0.")
    redis_channel: str = Field("optbox-socketio", description="Redis pub/sub channel of the Socket.IO replicas; one per deployment sharing a Redis.")
    file_store: Literal["local", "database"] = Field("local", description="Where stored bytes live: data_dir/files, or the database (no shared filesystem).")
    file_store_url: str | None = Field(None, description="SQLAlchemy async URL of the database file store; default database_url.")
    prefect_redis_url: str | None = Field(None, description="Redis for Prefect's messaging (HA Prefect servers); handed to the Prefect server.")
    run_heartbeat_s: int = Field(30, ge=30, description="Seconds between a flow run's heartbeats (Prefect's minimum is 30).")
    run_heartbeat_grace_s: int = Field(10, ge=5, description="A run whose heartbeat is this late past run_heartbeat_s is marked crashed.")

    # --- execution sandbox: each value is a run's default and the most a run may ask for ---
    run_timeout_s: float = Field(3600.0, gt=0, description="Wall-clock limit of one run; past it the model is killed.")
    run_memory_mb: int = Field(4096, gt=0, description="Memory limit of a run's whole process tree (cgroup).")
    run_max_procs: int = Field(256, gt=0, description="Processes and threads a run may hold at once (pids cgroup; binds root too).")
    run_max_log_mb: float = Field(200.0, gt=0, description="Log bytes a run may store; later lines are dropped with one notice.")
    run_network: bool = Field(False, description="Whether models may use the network at all (off: an empty network namespace).")
    run_sandbox: Literal["auto", "required", "off"] = Field(
        "auto", description="auto: isolate with what the host offers, warn loudly about the rest; required: refuse to run without bubblewrap and cgroups.")
    # A host lacking a mechanism, on purpose: to test the fallbacks, or where one misbehaves (a broken bwrap, a
    # cgroup tree another manager fights over). Withheld ones are reported missing as if the host had none.
    run_sandbox_without: Annotated[set[Literal["bwrap", "system-bwrap", "cgroups"]], NoDecode] = Field(
        default_factory=set, description="Mechanisms not to use even if the host has them: comma-separated bwrap, cgroups, "
        "or system-bwrap (use the bundled bwrap even where the system has one).")
    run_concurrency: int = Field(2, ge=1, description="Runs of one model type at once; more wait queued (Prefect work-queue limits).")
    retention_days: float = Field(30.0, gt=0, description="Logs and result files of runs finished longer ago are pruned by the maintenance flow.")

    # --- tuning of other libraries (optbox/patches.py) ---
    patches_off: Annotated[set[str], NoDecode] = Field(
        default_factory=set, description="Patches of other libraries not to apply, comma-separated names from optbox/patches.py, or all.")

    # --- models' own Python packages (optbox/environments.py) ---
    package_index_url: str = Field("https://pypi.org/simple", description=(
        "The package index models' dependencies resolve and install from (a private mirror on air-gapped floors); empty: no index."))
    package_find_links: str | None = Field(None, description="A directory (or URL) of wheels used besides the index, e.g. a local wheelhouse.")
    deps_allow_sdist: bool = Field(False, description="Let a dependency install from a source distribution (runs its build code); off: wheels only.")
    deps_cache_gb: float = Field(10.0, gt=0, description="Built environments kept per worker; past it the least recently used are removed.")
    deps_python_version: str | None = Field(None, description="The Python models' environments are resolved for; default this interpreter's (the worker's).")
    deps_python_platform: str | None = Field(None, description="uv's --python-platform for resolving; default this machine's (e.g. x86_64-manylinux_2_36).")

    @field_validator("run_sandbox_without", "patches_off", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return {part.strip() for part in value.split(",") if part.strip()} if isinstance(value, str) else value

    def run_limits(self) -> RunLimits:
        """The server's run limits: defaults and ceilings at once."""
        return RunLimits(timeout_s=self.run_timeout_s, memory_mb=self.run_memory_mb, max_procs=self.run_max_procs,
                         max_log_mb=self.run_max_log_mb, network=self.run_network)

    # --- the `optbox` client commands (cli/client.py): a terminal or a script talking to a running facade ---
    url: str = Field("http://127.0.0.1:8000", description="The facade client commands talk to (its public HTTP API and Socket.IO).")
    token: str | None = Field(None, description="The API key client commands present; else the one `optbox login` stored.")
    # --- alerts (api/alerts.py): failed, crashed and late runs, and recoveries, to a webhook and by email ---
    # Kept as plain strings: a malformed value is reported at start and in /api/health, never stops a role.
    alert_webhook_url: str | None = Field(None, description="POST a JSON alert here (Slack-compatible `text` included). A secret: shown masked.")
    alert_email_to: str | None = Field(None, description="Comma-separated addresses that get alerts by email (needs smtp_url).")
    alert_email_from: str = Field("optbox@localhost", description="The From address of alert emails.")
    smtp_url: str | None = Field(None, description="smtp://user:pass@host:587?starttls=true, smtps://host:465, or smtp://host:25 without auth. A secret: shown masked.")
    alert_types: str | None = Field(None, description="Comma-separated model types alerted on (DMO,RMO,SO); unset: all.")
    alert_late_after_s: float = Field(300.0, gt=0, description="A run not started this long after its scheduled time alerts as late.")
    public_url: str | None = Field(None, description="Where people open the page, for links in alerts; default api_url.")

    # --- the sandbox page (web/) ---
    web_dir: Path = Field(PROJECT_DIR / "web" / "dist", description="The built front end served at /sandbox (make install builds it).")

    @property
    def resolved_web_dir(self) -> Path:
        return self.web_dir.expanduser().resolve()

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.resolved_data_dir / 'optbox.db'}"

    @property
    def resolved_api_url(self) -> str:
        if self.api_url:
            return self.api_url.rstrip("/")
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"

    @property
    def resolved_prefect_api_url(self) -> str:
        return (self.prefect_api_url or f"http://{self.prefect_host}:{self.prefect_port}/api").rstrip("/")

    @property
    def resolved_file_store_url(self) -> str:
        return self.file_store_url or self.resolved_database_url

    @property
    def prefect_home(self) -> Path:
        return self.resolved_data_dir / "prefect"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def binds_loopback(self) -> bool:
        return self.api_host in ("127.0.0.1", "localhost", "::1") or self.api_host.startswith("127.")

    def secret(self, name: Literal["admin_token", "worker_token"]) -> str:
        """The configured secret, else the one kept in the data directory (created once, mode 0600)."""
        if value := getattr(self, name):
            return value
        path = self.resolved_data_dir / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            draft = path.with_name(f".{name}.{os.getpid()}")
            draft.write_text(secrets.token_urlsafe(32))
            draft.chmod(0o600)
            try:
                os.link(draft, path)  # atomic: of the roles starting together, the first one's secret wins
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
