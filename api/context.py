"""What one facade process holds for its lifetime, built in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from cachetools import TTLCache

from api.alerts import AlertConfig, AlertSender
from api.orchestrator import Orchestrator
from api.queue import QueueAnnouncer
from api.realtime import Realtime
from api.results import ResultViews
from optbox.settings import Settings
from storage.catalog_cache import CatalogCache
from storage.db import Database
from storage.files import FileStore
from storage.group_commit import GroupCommit
from storage.launches import LaunchLedger

KNOWN_KEYS_MAX = 10_000  # verified keys remembered at once; past it the least recently verified go first


@dataclass
class Facade:
    settings: Settings
    db: Database
    files: FileStore
    realtime: Realtime
    orchestrator: Orchestrator
    admin_token: str
    worker_token: str
    queue: QueueAnnouncer = field(init=False)
    known_keys: TTLCache = field(init=False)  # key hash -> Identity, for api.auth.identify
    new_jobs: GroupCommit = field(init=False)  # concurrent executes' rows, one transaction per burst
    launches: LaunchLedger = field(init=False)  # created flow runs recorded on their jobs, one transaction per burst
    catalog: CatalogCache = field(init=False)  # the models and datasets runs start with; read through with replicas
    alerts: AlertConfig = field(init=False)  # where alerts go, and what is wrong with their configuration
    alert_sender: AlertSender = field(init=False)  # sends the alert outbox (started in the app's lifespan)
    results: ResultViews = field(init=False)  # result previews' worker threads and cache

    def __post_init__(self) -> None:
        self.new_jobs = GroupCommit(self.db)
        self.launches = LaunchLedger(self.db)
        self.catalog = CatalogCache(self.db, enabled=not self.settings.redis_url)
        self.queue = QueueAnnouncer(self.db, self.realtime, whole_line=bool(self.settings.redis_url))
        self.alerts = AlertConfig.from_settings(self.settings, self.orchestrator.ui_url)
        self.alert_sender = AlertSender(self.db, self.alerts)
        self.results = ResultViews()
        self.known_keys = TTLCache(maxsize=KNOWN_KEYS_MAX, ttl=self.settings.auth_cache_s)
