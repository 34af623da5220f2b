"""What one facade process holds for its lifetime, built in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from api.orchestrator import Orchestrator
from api.realtime import Realtime
from optbox.settings import Settings
from storage.db import Database
from storage.files import FileStore


@dataclass
class Facade:
    settings: Settings
    db: Database
    files: FileStore
    realtime: Realtime
    orchestrator: Orchestrator
    admin_token: str
    worker_token: str
