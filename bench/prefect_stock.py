"""Prefect's stock log path: a flow's run logger → Prefect's logs API → its logs subscriber.

`python -m bench.prefect_stock TOKEN COUNT RATE` runs one flow (against PREFECT_API_URL,
with Prefect's default log batching) that starts the ticker and logs each of its lines with
`get_run_logger()`, prefixed with TOKEN so the bench's `PrefectLogsSubscriber` can pick them out.
`StockServer` is the Prefect server it runs against: a stock one of its own, with the logs
websocket on (off by default), so the system under test keeps `make run`'s server untouched.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import httpx
from prefect import flow, get_run_logger

from bench import TICKER


class StockServer:
    """`prefect server start` on a free port with its own home; started on first use."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.process: asyncio.subprocess.Process | None = None
        self.api_url = ""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "OPTBOX_"))}
        env.update(PREFECT_HOME=str(self.home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", PREFECT_UI_ENABLED="false",
                   PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED="true", PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED="true")
        if self.api_url:
            env["PREFECT_API_URL"] = self.api_url
        return env

    async def start(self) -> str:
        if self.process is not None:
            return self.api_url
        from harness.stack import free_port

        self.home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        with open(self.home / "server.log", "ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
                env=self.env(), stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 180
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                try:
                    if (await client.get(f"{url}/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or self.process.returncode is not None:
                    raise RuntimeError(f"the reference Prefect server did not start; see {self.home / 'server.log'}")
                await asyncio.sleep(0.5)
        self.api_url = url
        return url

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()


@flow(name="bench-prefect-stock-logs", persist_result=False)
async def log_ticker_lines(token: str, count: int, rate: float) -> None:
    logger = get_run_logger()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-u", str(TICKER), env={"CONFIG": json.dumps({"count": count, "rate": rate})},
        stdout=asyncio.subprocess.PIPE,
    )
    while line := await process.stdout.readline():
        logger.info("%s %s", token, line.decode().rstrip("\n"))
    await process.wait()


if __name__ == "__main__":
    asyncio.run(log_ticker_lines(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
