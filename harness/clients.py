"""Clients of a running stack, as a user's scripts would be: an admin httpx client, upload/execute/wait
helpers over the public API, and a real Socket.IO client that records every event it gets."""

from __future__ import annotations

import asyncio
import time

import httpx
import socketio

from harness.stack import ADMIN_TOKEN, PROJECT_DIR, Stack, wait_until

SAMPLES = PROJECT_DIR / "samples"
TERMINAL = {"success", "failed", "cancelled"}


def admin_client(system: Stack) -> httpx.Client:
    return httpx.Client(base_url=system.api_url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


def upload(api: httpx.Client, filename: str, content: bytes, model_type: str, description: str = "test") -> httpx.Response:
    return api.post("/api/optimization/upload", files={"file": (filename, content, "text/x-python")},
                    data={"modelType": model_type, "description": description})


def execute(api: httpx.Client, model_type: str, **body) -> dict:
    response = api.post("/api/optimization/execute", json={"modelType": model_type, **body})
    assert response.status_code == 202, response.text
    started = response.json()
    # the Prefect flow run is created just after the answer; tests that talk to Prefect need its id
    started["flowRunId"] = started["flowRunId"] or wait_until(lambda: job(api, started["jobId"])["flow_run_id"], 60, "the job's Prefect flow run")
    return started


def job(api: httpx.Client, job_id: str) -> dict:
    response = api.get(f"/api/optimization/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()["job"]


def wait_for_job(api: httpx.Client, job_id: str, statuses=TERMINAL, timeout: float = 120) -> dict:
    return wait_until(lambda: (j := job(api, job_id))["status"] in statuses and j, timeout, f"job {job_id} to reach {statuses}", 0.3)


def all_lines(api: httpx.Client, job_id: str) -> list[dict]:
    lines, after = [], 0
    while True:
        page = api.get(f"/api/optimization/jobs/{job_id}/logs", params={"after_seq": after, "limit": 5000}).json()
        lines += page["logs"]
        after = page["nextAfterSeq"]
        if not page["hasMore"]:
            return lines


class EventRecorder:
    """A real Socket.IO client that records every optimization:* event it gets."""

    def __init__(self, url: str, token: str | None = ADMIN_TOKEN, batch: bool = False) -> None:
        self.url = url
        self.token = token
        self.batch = batch  # ask for optimization:logs batches instead of one optimization:log per line
        self.client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1)
        self.events: list[tuple[str, dict]] = []
        self.client.on("*", self._record)

    async def _record(self, event, data=None):
        self.events.append((event, data))

    async def __aenter__(self) -> EventRecorder:
        auth = {"token": self.token, **({"batch": True} if self.batch else {})}
        await self.client.connect(self.url, transports=["websocket"], wait_timeout=10, auth=auth)
        await self.wait_for(lambda: any(e == "connected" for e, _ in self.events), 10, "connected")
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.disconnect()

    def of(self, event: str, job_id: str | None = None) -> list[dict]:
        return [d for e, d in self.events if e == event and (job_id is None or d.get("jobId") == job_id)]

    def lines_of(self, job_id: str) -> list[dict]:
        """Every live line of `job_id` in the order it arrived, per-line events and batches alike."""
        found = []
        for event, data in self.events:
            if data and data.get("jobId") == job_id:
                if event == "optimization:log":
                    found.append(data)
                elif event == "optimization:logs":
                    found += data["lines"]
        return found

    async def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)
        return result


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()
