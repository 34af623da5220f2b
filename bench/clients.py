"""Real clients the bench drives the system with: httpx for HTTP, a python-socketio
AsyncClient that timestamps every `optimization:*` event as it arrives."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field

import socketio


@dataclass
class JobStream:
    """What one client saw of one job: (seq, receive ns, message) per line, and its end."""

    lines: list[tuple[int, int, str]] = field(default_factory=list)
    ended: str | None = None
    ended_ns: int = 0

    def ticks(self) -> list[tuple[int, int, int, int]]:
        """(seq, tick number, print ns, receive ns) of each ticker line."""
        out = []
        for seq, received, message in self.lines:
            if message.startswith("tick "):
                _, number, printed = message.split(" ")
                out.append((seq, int(number), int(printed), received))
        return out


class Listener:
    """One Socket.IO client in the lobby (it gets every job's events)."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.client = socketio.AsyncClient(reconnection=False)
        self.jobs: dict[str, JobStream] = defaultdict(JobStream)
        self.first_log_ns: dict[str, int] = {}
        self.client.on("optimization:log", self._on_log)
        for event in ("optimization:completed", "optimization:failed", "optimization:cancelled"):
            self.client.on(event, self._ender(event))

    async def _on_log(self, data: dict) -> None:
        now = time.time_ns()
        job_id = data["jobId"]
        self.first_log_ns.setdefault(job_id, now)
        self.jobs[job_id].lines.append((data["seq"], now, data["message"]))

    def _ender(self, event: str):
        async def on_end(data: dict) -> None:
            stream = self.jobs[data["jobId"]]
            stream.ended, stream.ended_ns = event.split(":")[1], time.time_ns()
        return on_end

    async def __aenter__(self) -> Listener:
        await self.client.connect(self.url, transports=["websocket"], auth={"token": self.token}, wait_timeout=20)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.disconnect()

    async def ended(self, job_id: str, timeout: float) -> JobStream:
        deadline = time.monotonic() + timeout
        while self.jobs[job_id].ended is None:
            if not self.client.connected:  # what it missed is gone: fail the case now, not at the timeout
                raise ConnectionError(f"the Socket.IO client was disconnected while waiting for job {job_id}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} did not end within {timeout:.0f} s")
            await asyncio.sleep(0.02)
        return self.jobs[job_id]

    async def ensure_connected(self) -> None:
        if not self.client.connected:
            await self.client.connect(self.url, transports=["websocket"], auth={"token": self.token}, wait_timeout=20)
