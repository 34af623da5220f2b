"""The real system on free ports with a fresh data directory: the one harness of the tests, the bench
and the scale-out deployment (harness/scale_out.py).

Two shapes: `start()` runs the Prefect server, a worker and the facade as separate processes (so a test
can kill and restart one); `start_up()` runs them as `make run` does, under one `optbox up`.
`for_tests=False` keeps `make run`'s settings (the bench's), except ports, data dir, a known admin key and
schedules off (a scheduled run landing mid-measurement would be noise)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PROJECT_DIR = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "test-admin-" + "k" * 24


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Stack:
    data_dir: Path
    api_port: int = field(default_factory=free_port)
    prefect_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    for_tests: bool = True
    admin_token: str = ADMIN_TOKEN

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def prefect_api_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    def env(self) -> dict[str, str]:
        own = {
            "OPTBOX_DATA_DIR": str(self.data_dir),
            "OPTBOX_API_PORT": str(self.api_port),
            "OPTBOX_PREFECT_PORT": str(self.prefect_port),
            "OPTBOX_SCHEDULES_ACTIVE": "false",
            "OPTBOX_ADMIN_TOKEN": self.admin_token,
        }
        if not self.for_tests:
            inherited = {k: v for k, v in os.environ.items() if not k.startswith(("OPTBOX_", "PREFECT_"))}
            return {**inherited, **own, **self.extra_env}
        return {
            **os.environ,
            **own,
            "OPTBOX_MIRROR_INTERVAL_S": "0.5",
            "OPTBOX_WORKER_POLL_S": "0.5",
            # room for the upload fuzzing; the rate-limit test reads this number
            "OPTBOX_UPLOAD_RATE": "200/minute",
            "PREFECT_API_URL": self.prefect_api_url,
            # so a schedule a test adds gets its runs within seconds, not the stock minute
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
            **self.extra_env,
        }

    def start_role(self, name: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
        """Start `optbox <args>` as role `name`; `env` overrides this stack's environment for it alone,
        `cwd` starts it elsewhere than the checkout (a worker on another machine)."""
        log = open(self.data_dir / f"{name}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", *args], cwd=cwd or PROJECT_DIR, env={**self.env(), **(env or {})},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes[name] = process
        return process

    def kill_role_tree(self, name: str) -> None:
        """SIGKILL a role and every process it started, as if its machine died (flow runs included:
        the warm worker forks them into sessions of their own)."""
        import psutil

        process = self.processes.pop(name)
        try:
            tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for member in tree:
            try:
                member.kill()
            except psutil.NoSuchProcess:
                pass
        process.wait()

    def stop_role(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def start(self, before_worker: Callable[[Stack], None] | None = None) -> Stack:
        """Start Prefect, the API and a worker that applies prefect.yaml; return once health says ready.
        `before_worker` runs once the API is healthy and before the worker starts: the window in which a
        freshly started system is up but cannot start runs yet (what tests of start-up look into)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.start_role("prefect", "prefect")
        if before_worker is None:
            self.start_role("worker", "worker", "--deploy")
            self.start_api()
        else:
            self.start_api()
            before_worker(self)
            self.start_role("worker", "worker", "--deploy")
        wait_until(self.ready, 240, "health to say ready (deployments applied, the worker polling)", interval=0.5)
        return self

    def start_up(self) -> Stack:
        """Start every role as `make run` does, under one `optbox up` (role "up")."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        up = self.start_role("up", "up")

        def ready() -> bool:
            if up.poll() is not None:
                raise RuntimeError(f"optbox up exited ({up.returncode}); see {self.data_dir / 'up.log'}")
            return self.ready()

        wait_until(ready, 300, "optbox up to say ready (API up, deployments applied, the worker polling)", interval=0.5)
        return self

    def role_process(self, role: str):
        """The process serving `role` (api, worker, prefect): started alone, or as a child of `optbox up`."""
        import psutil

        if role in self.processes:
            return psutil.Process(self.processes[role].pid)
        for child in psutil.Process(self.processes["up"].pid).children(recursive=True):
            try:
                argv = child.cmdline()
            except psutil.Error:
                continue
            if argv[1:3] == ["-m", "cli"] and argv[3:4] == [role]:
                return child
        raise LookupError(f"no {role} process under optbox up")

    def start_api(self) -> None:
        self.start_role("api", "api")
        wait_until(self.api_healthy, 120, "the API to be healthy", interval=0.3)

    def api_healthy(self) -> bool:
        return self._health().get("status") == "ok"

    def ready(self) -> bool:
        """Health's `ready`: a run of every type can start now."""
        return self._health().get("ready") is True

    def _health(self) -> dict:
        try:
            return httpx.get(f"{self.api_url}/api/health", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return {}

    def deployments_ready(self) -> bool:
        try:
            response = httpx.post(f"{self.prefect_api_url}/deployments/filter", json={"limit": 50}, timeout=5)
            names = {d["name"] for d in response.json()}
        except (httpx.HTTPError, ValueError):
            return False
        return {"dmo", "rmo", "so"} <= names

    def stop(self) -> None:
        for name in ("up", "api", "worker", "prefect"):
            self.stop_role(name)
        for name in list(self.processes):  # roles a test added under other names
            self.stop_role(name)

    def logs(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def processes_of(job_id: str) -> list[int]:
    """Pids of every process that carries the run's JOB_ID in its environment (the model and all it started)."""
    marker = f"JOB_ID={job_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found
