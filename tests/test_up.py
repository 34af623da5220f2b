"""`optbox up` (what `make run` calls): brings everything up in the foreground and
takes every process it started down on SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import psutil
import pytest

from tests.stack import PROJECT_DIR, free_port, wait_until


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM])
def test_up_starts_every_role_and_stops_them_all(tmp_path, stop_signal):
    api_port, prefect_port = free_port(), free_port()
    env = {**os.environ, "OPTBOX_DATA_DIR": str(tmp_path / "data"), "OPTBOX_API_PORT": str(api_port),
           "OPTBOX_PREFECT_PORT": str(prefect_port), "OPTBOX_SCHEDULES_ACTIVE": "false"}
    env.pop("PREFECT_API_URL", None)
    log = open(tmp_path / "up.log", "wb")
    up = subprocess.Popen([sys.executable, "-m", "optbox.cli", "up"], cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def healthy():
            try:
                return httpx.get(f"http://127.0.0.1:{api_port}/api/health", timeout=2).json()["status"] == "ok"
            except (httpx.HTTPError, ValueError, KeyError):
                return False

        wait_until(healthy, 180, "the API to be healthy", interval=1)
        wait_until(lambda: len(httpx.post(f"http://127.0.0.1:{prefect_port}/api/deployments/filter", json={}).json()) == 3,
                   180, "the three deployments", interval=1)
        models = httpx.get(f"http://127.0.0.1:{api_port}/api/optimization/models", params={"status": "active"}).json()["models"]
        assert sorted(m["model_type"] for m in models) == ["DMO", "RMO", "SO"]
        output = (tmp_path / "up.log").read_text()
        assert f"http://127.0.0.1:{api_port}" in output and f"http://127.0.0.1:{prefect_port}" in output

        started = psutil.Process(up.pid).children(recursive=True)
        assert len(started) >= 3
        up.send_signal(stop_signal)
        up.wait(timeout=30)
        gone, alive = psutil.wait_procs(started, timeout=15)
        assert not alive, f"still running after {stop_signal.name}: {[p.cmdline() for p in alive]}"
    finally:
        if up.poll() is None:
            up.kill()
