"""Case (i): many viewers of one run. Viewers are real python-socketio clients spread over separate
processes (so the bench's own event loop is not what falls behind); each records, per ticker line, the
delay print → arrival and whether its lines came in seq order, without a gap, once each.

`python -m bench.fanout URL TOKEN VIEWERS BATCH OUT` is one viewer process: it connects VIEWERS clients
(BATCH=1: `batch: true`, `optimization:logs`; 0: per-line `optimization:log`), prints `ready`, and writes
its statistics to OUT when the first run it sees ends.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import socketio

from bench.stats import summary_ms
from harness.stack import ADMIN_TOKEN

PROCESSES = 4
SAMPLE_EVERY = 10  # latencies kept per client: every tenth line (300 viewers × 5,000 lines would be 1.5 M numbers)


class Viewer:
    def __init__(self, batch: bool) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.batch = batch
        self.seqs: list[int] = []
        self.latencies_ns: list[int] = []
        self.replays = 0
        self.ended = asyncio.Event()
        if batch:
            self.client.on("optimization:logs", self.on_batch)
            self.client.on("optimization:replay", self.on_replay)
        else:
            self.client.on("optimization:log", self.on_line)
        self.client.on("optimization:completed", self.on_end)
        self.client.on("optimization:failed", self.on_end)

    def take(self, line: dict, now: int) -> None:
        self.seqs.append(line["seq"])
        message = line["message"]
        if message.startswith("tick ") and len(self.seqs) % SAMPLE_EVERY == 0:
            self.latencies_ns.append(now - int(message.split(" ")[2]))

    async def on_line(self, data: dict) -> None:
        self.take(data, time.time_ns())

    async def on_batch(self, data: dict) -> None:
        now = time.time_ns()
        for line in data["lines"]:
            self.take(line, now)

    async def on_replay(self, data: dict) -> None:
        self.replays += 1

    async def on_end(self, data: dict) -> None:
        self.ended.set()

    def report(self) -> dict:
        return {"lines": len(self.seqs), "in_order": self.seqs == list(range(1, len(self.seqs) + 1)),
                "connected": self.client.connected, "replays": self.replays, "latencies_ns": self.latencies_ns}


async def viewer_process(url: str, token: str, count: int, batch: bool, out: Path) -> None:
    viewers = [Viewer(batch) for _ in range(count)]
    auth = {"token": token, **({"batch": True} if batch else {})}
    for viewer in viewers:
        await viewer.client.connect(url, transports=["websocket"], auth=auth, wait_timeout=30)
    print("ready", flush=True)
    await asyncio.wait_for(asyncio.gather(*(viewer.ended.wait() for viewer in viewers)), 600)
    await asyncio.sleep(1)  # lines that were still in flight when the end event came
    out.write_text(json.dumps([viewer.report() for viewer in viewers]))
    for viewer in viewers:
        await viewer.client.disconnect()


async def fan_out(bench, viewers: int, batch: bool, rate: float, seconds: float) -> dict:
    """`viewers` clients in PROCESSES processes watch one ticker run of `rate` lines/s for `seconds`."""
    folder = bench.system.data_dir / "fanout"
    folder.mkdir(exist_ok=True)
    per_process = [viewers // PROCESSES + (1 if i < viewers % PROCESSES else 0) for i in range(PROCESSES)]
    outs, processes = [], []
    for index, count in enumerate(c for c in per_process if c):
        out = folder / f"{'batch' if batch else 'line'}-{viewers}-{index}.json"
        out.unlink(missing_ok=True)
        outs.append(out)
        processes.append(subprocess.Popen([sys.executable, "-m", "bench.fanout", bench.system.api_url, ADMIN_TOKEN, str(count), str(int(batch)),
                                           str(out)], stdout=subprocess.PIPE, text=True))
    try:
        for process in processes:
            ready = await asyncio.to_thread(process.stdout.readline)
            if ready.strip() != "ready":
                raise RuntimeError(f"a viewer process did not connect its clients (exit {process.poll()})")
        count = int(rate * seconds)
        await bench.execute(count, rate)
        for process in processes:
            await asyncio.to_thread(process.wait, 900)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    reports = [report for out in outs for report in json.loads(out.read_text())]
    latencies = [ns for report in reports for ns in report["latencies_ns"]]
    expected = count + 1  # the ticker's lines and its ::optbox report line
    return {"viewers": viewers, "batch": batch, "rate": rate, "lines": count,
            "all_lines": sum(report["lines"] >= count for report in reports), "in_order": all(report["in_order"] for report in reports),
            "disconnected": sum(not report["connected"] for report in reports), "replays": sum(report["replays"] for report in reports),
            "min_lines": min(report["lines"] for report in reports), "expected_lines": expected, **summary_ms(latencies)}


if __name__ == "__main__":
    url, token, count, batch, out = sys.argv[1:6]
    asyncio.run(viewer_process(url, token, int(count), batch == "1", Path(out)))
