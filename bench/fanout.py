"""Case (i): many viewers of one run. Viewers are websocket clients that speak Socket.IO's wire protocol
themselves (Engine.IO 4, Socket.IO 5, as the browser's socket.io-client does on a websocket), spread over
separate processes so the bench's own event loop is not what falls behind. Each records, per ticker line,
the delay print → arrival and whether its lines came in seq order, without a gap, once each.

Why not python-socketio's AsyncClient here: on a 2-core machine its per-event Python (a task per event,
packet objects, handler dispatch) for 300 viewers costs more CPU than the server it measures, so the figure
was the clients'. A viewer here costs one `orjson.loads` per frame, as close to a browser on another machine
as one machine allows. The contract itself (auth, rooms, order, replay) is tested with python-socketio
clients in tests/api/test_realtime_batches.py.

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

import aiohttp
import orjson
import uvloop

PROCESSES = 4
SAMPLE_EVERY = 10  # latencies kept per client: every tenth line (300 viewers × 5,000 lines would be 1.5 M numbers)
ENDS = ("optimization:completed", "optimization:failed")


class Viewer:
    """One Socket.IO client on a raw websocket: Engine.IO open, Socket.IO connect with `auth`, pongs, events."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.latencies_ns: list[int] = []
        self.replays = 0
        self.connected = False
        self.ended = asyncio.Event()
        self.joined = asyncio.Event()

    def take(self, lines: list[dict], now: int) -> None:
        """Lines that arrived at `now`: their seqs kept whole, the delay of every SAMPLE_EVERY-th."""
        start = len(self.seqs)
        self.seqs += [line["seq"] for line in lines]
        for index in range(-start % SAMPLE_EVERY, len(lines), SAMPLE_EVERY):
            message = lines[index]["message"]
            if message.startswith("tick "):
                self.latencies_ns.append(now - int(message.split(" ")[2]))

    def on_event(self, event: str, data: dict, now: int) -> None:
        if event == "optimization:logs":
            self.take(data["lines"], now)
        elif event == "optimization:log":
            self.take([data], now)
        elif event == "optimization:replay":
            self.replays += 1
        elif event in ENDS:
            self.ended.set()

    async def watch(self, session: aiohttp.ClientSession, url: str, auth: dict) -> None:
        ws_url = url.replace("http", "ws", 1).rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        async with session.ws_connect(ws_url, autoping=False, max_msg_size=0) as ws:
            opened = await ws.receive_str()
            if not opened.startswith("0"):
                raise RuntimeError(f"no Engine.IO open packet: {opened[:80]}")
            await ws.send_str("40" + json.dumps(auth))
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                text = message.data
                if text == "2":  # Engine.IO ping
                    await ws.send_str("3")
                elif text.startswith("42"):
                    now = time.time_ns()
                    event, data = orjson.loads(text[2:])
                    self.on_event(event, data, now)
                elif text.startswith("40"):
                    self.connected = True
                    self.joined.set()
                elif text.startswith("44"):
                    raise RuntimeError(f"connection refused: {text[2:]}")
        self.connected = False
        self.ended.set()  # closed by the server (a missed ping, say): what it got is its result, reported as dropped

    def report(self) -> dict:
        return {"lines": len(self.seqs), "in_order": self.seqs == list(range(1, len(self.seqs) + 1)),
                "connected": self.connected, "replays": self.replays, "latencies_ns": self.latencies_ns}


async def _probe_loop_lag(lags: list[float]) -> None:
    """How late a 10 ms sleep wakes this process's loop: a viewer process that cannot keep up shows here, so
    the table says when the clients, not the server, were what fell behind."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - started - 0.01)


async def viewer_process(url: str, token: str, count: int, batch: bool, out: Path) -> None:
    viewers = [Viewer() for _ in range(count)]
    auth = {"token": token, **({"batch": True} if batch else {})}
    async with aiohttp.ClientSession() as session:
        watching = [asyncio.create_task(viewer.watch(session, url, auth)) for viewer in viewers]
        joined = asyncio.gather(*(viewer.joined.wait() for viewer in viewers))
        done, _ = await asyncio.wait([joined, *watching], timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if joined not in done:
            raise RuntimeError(f"{sum(v.connected for v in viewers)} of {count} viewers connected")
        print("ready", flush=True)
        lags: list[float] = []
        lag_probe = asyncio.create_task(_probe_loop_lag(lags))
        cpu_before = time.process_time()
        await asyncio.wait_for(asyncio.gather(*(viewer.ended.wait() for viewer in viewers)), 600)
        cpu_s = time.process_time() - cpu_before
        lag_probe.cancel()
        await asyncio.sleep(1)  # lines that were still in flight when the end event came
        out.write_text(json.dumps({"viewers": [viewer.report() for viewer in viewers],
                                   "process": {"cpu_s": cpu_s, "lag_max_ms": max(lags, default=0) * 1000}}))
        for task in watching:
            task.cancel()


async def fan_out(bench, viewers: int, batch: bool, rate: float, seconds: float) -> dict:
    """`viewers` clients in PROCESSES processes watch one ticker run of `rate` lines/s for `seconds`."""
    # imported here, not at the top: a viewer process imports only what it runs (300 viewers start in 4 processes)
    from bench.cases import settled
    from bench.stats import summary_ms
    from harness.stack import ADMIN_TOKEN

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
        await settled(bench.system)  # the run starts once the system has handled the viewers' connections
        count = int(rate * seconds)
        await bench.execute(count, rate)
        for process in processes:
            await asyncio.to_thread(process.wait, 900)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    written = [json.loads(out.read_text()) for out in outs]
    reports = [report for one in written for report in one["viewers"]]
    latencies = [ns for report in reports for ns in report["latencies_ns"]]
    expected = count + 1  # the ticker's lines and its ::optbox report line
    return {"viewers": viewers, "batch": batch, "rate": rate, "lines": count,
            "all_lines": sum(report["lines"] >= count for report in reports), "in_order": all(report["in_order"] for report in reports),
            "disconnected": sum(not report["connected"] for report in reports), "replays": sum(report["replays"] for report in reports),
            "min_lines": min(report["lines"] for report in reports), "expected_lines": expected,
            "viewer_cpu_s": round(sum(one["process"]["cpu_s"] for one in written), 2),
            "viewer_lag_max_ms": round(max(one["process"]["lag_max_ms"] for one in written)), **summary_ms(latencies)}


if __name__ == "__main__":
    url, token, count, batch, out = sys.argv[1:6]
    uvloop.run(viewer_process(url, token, int(count), batch == "1", Path(out)))
