"""`optbox up` (what `make run` calls): brings everything up in the foreground and
takes every process it started down on SIGTERM or SIGINT."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import psutil
import pytest

from harness.stack import PROJECT_DIR, free_port, wait_until


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_up_starts_every_role_and_stops_them_all(tmp_path, stop_signal):
    api_port, prefect_port = free_port(), free_port()
    env = {**os.environ, "OPTBOX_DATA_DIR": str(tmp_path / "data"), "OPTBOX_API_PORT": str(api_port),
           "OPTBOX_PREFECT_PORT": str(prefect_port), "OPTBOX_SCHEDULES_ACTIVE": "false"}
    env.pop("PREFECT_API_URL", None)
    env.pop("OPTBOX_ADMIN_TOKEN", None)
    log = open(tmp_path / "up.log", "wb")
    up = subprocess.Popen([sys.executable, "-m", "cli", "up"], cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def healthy():
            try:
                return httpx.get(f"http://127.0.0.1:{api_port}/api/health", timeout=2).json()["status"] == "ok"
            except (httpx.HTTPError, ValueError, KeyError):
                return False

        wait_until(healthy, 180, "the API to be healthy", interval=1)
        wait_until(lambda: "optbox: ready" in (tmp_path / "up.log").read_text(), 180, "optbox up to say ready", interval=0.5)
        health = httpx.get(f"http://127.0.0.1:{api_port}/api/health").json()
        assert health["ready"] is True and health["waiting_for"] == []
        # isolated from the first start, with no system package: the system's bwrap if it works, else the bundled one
        assert health["sandbox"]["bubblewrap"] and health["sandbox"]["network_isolation"], health["sandbox"]
        deployments = {d["name"] for d in httpx.post(f"http://127.0.0.1:{prefect_port}/api/deployments/filter", json={}).json()}
        assert deployments == {"dmo", "rmo", "so", "retention"}
        output = (tmp_path / "up.log").read_text()
        assert output.count("optbox: ready") == 1 and "RuntimeWarning" not in output
        assert f"http://127.0.0.1:{api_port}" in output and f"http://127.0.0.1:{prefect_port}" in output
        # the printed sign-in link carries the generated admin key, and it works
        sign_in = re.search(rf"sign in at (http://127\.0\.0\.1:{api_port}/sandbox\?token=(\S+))", output)
        assert sign_in and sign_in.group(2) == (tmp_path / "data" / "admin_token").read_text().strip()
        models_url = f"http://127.0.0.1:{api_port}/api/optimization/models"
        assert httpx.get(models_url).status_code == 401
        models = httpx.get(models_url, params={"status": "active"}, headers={"Authorization": f"Bearer {sign_in.group(2)}"}).json()["models"]
        assert sorted(m["model_type"] for m in models) == ["DMO", "RMO", "SO"]
        with httpx.Client(follow_redirects=True) as browser:
            landed = browser.get(sign_in.group(1))
            assert landed.status_code == 200 and str(landed.url).endswith("/sandbox")
            assert browser.get(models_url).status_code == 200  # the session cookie signs the page in

        started = psutil.Process(up.pid).children(recursive=True)
        assert len(started) >= 3
        up.send_signal(stop_signal)
        up.wait(timeout=30)
        gone, alive = psutil.wait_procs(started, timeout=15)
        assert not alive, f"still running after {stop_signal.name}: {[p.cmdline() for p in alive]}"
    finally:
        if up.poll() is None:
            up.kill()
