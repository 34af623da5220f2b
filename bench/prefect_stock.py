"""Prefect's stock log path: a flow's run logger → Prefect's logs API → its logs subscriber.

`python -m bench.prefect_stock TOKEN COUNT RATE` runs one flow (against PREFECT_API_URL,
with Prefect's default log batching) that starts the ticker and logs each of its lines with
`get_run_logger()`, prefixed with TOKEN so the bench's `PrefectLogsSubscriber` can pick them out.
"""

from __future__ import annotations

import asyncio
import json
import sys

from prefect import flow, get_run_logger

from bench import TICKER


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
