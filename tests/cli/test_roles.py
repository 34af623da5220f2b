"""What each role hands Prefect is what Prefect's own settings then read."""

from __future__ import annotations

import json
import subprocess
import sys

from cli.roles import prefect_server_env
from optbox.prefect_env import prefect_env
from optbox.settings import Settings

READ_PREFECT_SETTINGS = """
import json
from prefect.settings import get_current_settings
s = get_current_settings()
print(json.dumps({
    "database": s.server.database.connection_url.get_secret_value(),
    "broker": s.server.events.messaging_broker,
    "cache": s.server.events.messaging_cache,
    "ordering": s.server.events.causal_ordering,
    "leases": s.server.concurrency.lease_storage,
    "docket": s.server.docket.url,
    "heartbeat": s.flows.heartbeat_frequency,
}))
"""


def prefect_reads(env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", READ_PREFECT_SETTINGS], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_prefect_server_gets_the_postgresql_database_and_redis_messaging(tmp_path):
    settings = Settings(data_dir=tmp_path, prefect_database_url="postgresql+asyncpg://postgres@db.example/prefect",
                        prefect_redis_url="redis://redis.example:6379/2", run_heartbeat_s=45)
    seen = prefect_reads({"PATH": "/usr/bin:/bin", **prefect_env(settings)})
    assert seen == {
        "database": "postgresql+asyncpg://postgres@db.example/prefect",
        "broker": "prefect_redis.messaging", "cache": "prefect_redis.messaging", "ordering": "prefect_redis.ordering",
        "leases": "prefect_redis.lease_storage", "docket": "redis://redis.example:6379/2", "heartbeat": 45,
    }


def test_without_scale_out_settings_prefect_keeps_its_embedded_defaults(tmp_path):
    env = prefect_env(Settings(data_dir=tmp_path))
    assert not any(name.startswith(("PREFECT_SERVER_DATABASE", "PREFECT_MESSAGING", "PREFECT_REDIS")) for name in env)
    assert prefect_reads({"PATH": "/usr/bin:/bin", **env})["broker"] == "prefect.server.utilities.messaging.memory"


def test_extra_prefect_api_replicas_leave_the_services_to_one_process(tmp_path):
    settings = Settings(data_dir=tmp_path)
    # their task queue is their own: on the services' one they would take and drop the services' tasks
    assert prefect_server_env(settings, services=False)["PREFECT_SERVER_DOCKET_NAME"] != prefect_server_env(settings).get(
        "PREFECT_SERVER_DOCKET_NAME", "prefect-server")
