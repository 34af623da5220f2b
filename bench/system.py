"""Start the system as `make run` does (`optbox up`: Prefect server, warm worker, facade),
on free ports with a fresh data directory, and stop every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from tests.stack import free_port, wait_until  # the suite's stack helpers: one way to find a port and to wait

PROJECT_DIR = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "bench-admin-" + "b" * 24


@dataclass
class System:
    data_dir: Path
    api_port: int = field(default_factory=free_port)
    prefect_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def prefect_api_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    def env(self) -> dict[str, str]:
        # `make run`'s settings, except: own ports and data dir, a known admin key, and no schedules
        # (a scheduled run landing mid-measurement would be noise, not signal).
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OPTBOX_", "PREFECT_"))},
            "OPTBOX_DATA_DIR": str(self.data_dir), "OPTBOX_API_PORT": str(self.api_port),
            "OPTBOX_PREFECT_PORT": str(self.prefect_port), "OPTBOX_ADMIN_TOKEN": ADMIN_TOKEN,
            "OPTBOX_SCHEDULES_ACTIVE": "false",
            **self.overrides,
        }

    def start(self) -> System:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "up.log", "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "optbox.cli", "up"], cwd=PROJECT_DIR, env=self.env(),
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._ready, 300, "optbox up to serve the API and apply prefect.yaml", interval=0.5)
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"optbox up exited ({self.process.returncode}); see {self.data_dir / 'up.log'}")
        try:
            if httpx.get(f"{self.api_url}/api/health", timeout=2).json().get("status") != "ok":
                return False
            names = {d["name"] for d in httpx.post(f"{self.prefect_api_url}/deployments/filter", json={"limit": 50}, timeout=5).json()}
        except (httpx.HTTPError, ValueError):
            return False
        return {"dmo", "rmo", "so"} <= names

    def role_process(self, role: str) -> psutil.Process:
        """The process serving `role` (api, worker, prefect) under optbox up."""
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                argv = child.cmdline()
            except psutil.Error:
                continue
            if "optbox.cli" in argv and argv[-1] == role or argv[-2:] == [role, "--deploy"]:
                return child
        raise LookupError(f"no {role} process under optbox up")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
