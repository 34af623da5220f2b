"""The measured cases (a)–(f) against the running system, and the two references."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import psutil
import socketio

from bench import FLOOD, TICKER
from bench.clients import JobStream, Listener
from bench.prefect_stock import StockServer
from bench.stats import summary_ms
from harness.stack import PROJECT_DIR, Stack, free_port

MODEL_TYPE = "SO"
RUN_TIMEOUT_S = 600
CLICK_SETTLE_S = 3.0


@dataclass
class Bench:
    system: Stack
    http: httpx.AsyncClient
    listener: Listener
    stock_prefect: StockServer
    model_id: int = 0

    async def setup(self) -> None:
        response = await self.http.post("/api/optimization/upload", files={"file": ("bench_ticker.py", TICKER.read_bytes(), "text/x-python")},
                                         data={"modelType": MODEL_TYPE, "description": "bench ticker"})
        response.raise_for_status()
        self.model_id = response.json()["model"]["id"]

    async def execute(self, count: int, rate: float, http: httpx.AsyncClient | None = None) -> str:
        response = await (http or self.http).post("/api/optimization/execute", json={
            "modelType": MODEL_TYPE, "modelId": self.model_id, "config": {"count": count, "rate": rate}})
        response.raise_for_status()
        return response.json()["jobId"]

    async def stored_lines(self, job_id: str) -> list[tuple[int, str]]:
        lines, after = [], 0
        while True:
            page = (await self.http.get(f"/api/optimization/jobs/{job_id}/logs", params={"after_seq": after, "limit": 10000})).json()
            lines += [(row["seq"], row["message"]) for row in page["logs"]]
            after = page["nextAfterSeq"]
            if not page["hasMore"]:
                return lines

    async def run_to_end(self, job_id: str, count: int) -> JobStream:
        stream = await self.listener.ended(job_id, RUN_TIMEOUT_S)
        deadline = time.monotonic() + 10  # the end event follows the last line; allow for a client that lags
        while len(stream.ticks()) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return stream


def check_lines(live: list[tuple[int, int, str]] | None, stored: list[tuple[int, str]] | None, count: int) -> dict:
    """Every tick once and in order, live and stored; seq contiguous from 1."""
    out = {}
    for name, pairs in (("live", [(s, m) for s, _, m in live] if live is not None else None), ("stored", stored)):
        if pairs is None:
            continue
        ticks = [int(m.split(" ")[1]) for _, m in pairs if m.startswith("tick ")]
        seqs = [s for s, _ in pairs]
        out[f"{name}_lines"] = len(ticks)
        out[f"{name}_lost"] = count - len(set(ticks))
        out[f"{name}_in_order"] = ticks == list(range(1, count + 1)) and seqs == list(range(1, len(seqs) + 1))
    return out


async def latency(bench: Bench, rate: float, count: int) -> dict:
    """(a) print → Socket.IO client latency at `rate` lines/s."""
    job_id = await bench.execute(count, rate)
    stream = await bench.run_to_end(job_id, count)
    ticks = stream.ticks()
    result = {"rate": rate, "count": count, "status": stream.ended, **summary_ms([r - p for _, _, p, r in ticks])}
    result.update(check_lines(stream.lines, None, count))
    return result


async def burst(bench: Bench, count: int) -> dict:
    """(b) `count` lines printed at once: until the client has all, until JobLog has all; order checked."""
    job_id = await bench.execute(count, 0)
    stored_ns = await _poll_stored_tail(bench, job_id, f"tick {count} ")
    stream = await bench.run_to_end(job_id, count)
    ticks = stream.ticks()
    printed_end = max(p for _, _, p, _ in ticks) if ticks else 0
    delivered_end = max(r for _, _, _, r in ticks) if ticks else 0
    printed_first = min(p for _, _, p, _ in ticks) if ticks else 0
    stored = await bench.stored_lines(job_id)
    return {
        "count": count, "status": stream.ended, "model_print_s": (printed_end - printed_first) / 1e9,
        "delivered_after_end_s": (delivered_end - printed_end) / 1e9, "stored_after_end_s": (stored_ns - printed_end) / 1e9 if stored_ns else None,
        **check_lines(stream.lines, stored, count),
    }


async def _poll_stored_tail(bench: Bench, job_id: str, last_line: str) -> int:
    """Wall-clock ns at which the job's stored tail first holds `last_line` (lines are stored in seq order)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        response = await bench.http.get(f"/api/optimization/jobs/{job_id}")
        now = time.time_ns()
        if response.status_code == 200:
            job = response.json()["job"]
            if any(line["message"].startswith(last_line) for line in job["logs"]):
                return now
            if job["status"] in ("failed", "cancelled"):
                return 0
        await asyncio.sleep(0.05)
    return 0


async def click_to_first_line(bench: Bench, runs: int) -> dict:
    """(c) POST /execute until the first optimization:log of that job, one run at a time;
    with where the time went (Prefect's state timestamps, the line's own stamp)."""
    firsts, posts, phases = [], [], []
    for _ in range(runs):
        # a click meets a settled system, as a user's would: Prefect records the previous run's
        # task runs and events for a second or two after it ends, and a create waits for its SQLite
        await asyncio.sleep(CLICK_SETTLE_S)
        started = time.time_ns()
        job_id = await bench.execute(1, 0)
        posts.append(time.time_ns() - started)
        await bench.listener.ended(job_id, RUN_TIMEOUT_S)
        firsts.append(bench.listener.first_log_ns[job_id] - started)
        phases.append(await _phases(bench, job_id, started))
    return {"runs": runs, **summary_ms(firsts), "median_ms": sorted(firsts)[len(firsts) // 2] / 1e6,
            "samples_ms": [round(v / 1e6) for v in firsts], "post_ms": [round(v / 1e6, 1) for v in posts], "phases_ms": phases}


async def _phases(bench: Bench, job_id: str, clicked_ns: int) -> dict:
    """ms after the click at which: the flow run was created, went Pending, Running; the first line was stamped, received."""
    from datetime import datetime

    def ms(stamp: str) -> float:
        return round((datetime.fromisoformat(stamp).timestamp() * 1e9 - clicked_ns) / 1e6, 1)

    job = (await bench.http.get(f"/api/optimization/jobs/{job_id}")).json()["job"]
    async with httpx.AsyncClient(base_url=bench.system.prefect_api_url, timeout=30) as prefect:
        run = (await prefect.get(f"/flow_runs/{job['flow_run_id']}")).json()
        states = (await prefect.get("/flow_run_states/", params={"flow_run_id": job["flow_run_id"]})).json()
    out = {"created": ms(run["created"])}
    for state in states:
        out.setdefault(state["type"].lower(), ms(state["timestamp"]))
    if job["logs"]:
        out["first_line_stamped"] = ms(job["logs"][0]["timestamp"])
    out["first_line_received"] = round((bench.listener.first_log_ns[job_id] - clicked_ns) / 1e6, 1)
    return out


async def execute_concurrency(bench: Bench, clients: int, per_client: int) -> dict:
    """(d) POST /execute latency with `clients` concurrent clients (each its own operator key).
    The work pool is paused meanwhile: this measures the request, not the runs it starts."""
    pool = f"{bench.system.prefect_api_url}/work_pools/optbox-process"
    async with httpx.AsyncClient(timeout=30) as prefect:
        await _patch_until_done(prefect, pool, {"is_paused": True})
        keys = []
        for i in range(clients):
            response = await bench.http.post("/api/auth/keys", json={"name": f"bench-{i}-{os.getpid()}-{time.time_ns()}", "role": "operator"})
            response.raise_for_status()
            keys.append(response.json()["key"])
        latencies, job_ids = [], []

        body = {"modelType": MODEL_TYPE, "modelId": bench.model_id, "config": {"count": 1, "rate": 0}}

        async def client(key: str) -> None:
            # aiohttp (C-parsed HTTP): twenty httpx clients in this one loop added their own Python per request
            # to every latency here (p50 ~10 ms higher against the same server)
            async with aiohttp.ClientSession(bench.system.api_url, headers={"Authorization": f"Bearer {key}"}) as http:
                for i in range(per_client + 1):  # the first is a warm-up, not counted
                    started = time.perf_counter_ns()
                    async with http.post("/api/optimization/execute", json=body) as response:
                        response.raise_for_status()
                        job_ids.append((await response.json())["jobId"])
                    if i:
                        latencies.append(time.perf_counter_ns() - started)

        try:
            with client_gc_paused():
                await asyncio.gather(*(client(key) for key in keys))
        finally:
            for job_id in job_ids:
                await bench.http.post(f"/api/optimization/jobs/{job_id}/cancel")
            await _patch_until_done(prefect, pool, {"is_paused": False})
    return {"clients": clients, "requests": len(latencies), **summary_ms(latencies)}


@contextmanager
def client_gc_paused():
    """No garbage collection in this (the client's) process during a short timed window: a collection
    here stalls every client at once (gen0 took up to 30 ms in this process), and that is the
    harness's pause, not the server's latency."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _patch_until_done(prefect: httpx.AsyncClient, url: str, body: dict, tries: int = 240) -> None:
    """Prefect's SQLite answers 503 while busy; its own client retries, and so does the bench. After (d), Prefect's
    late-runs service marks the 500 waiting runs Late, and the unpause met 503s for over 30 s on a slow day."""
    for _ in range(tries - 1):
        try:
            response = await prefect.patch(url, json=body)
            if response.status_code < 500:
                response.raise_for_status()
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5)
    (await prefect.patch(url, json=body)).raise_for_status()


def big_model(size: int) -> bytes:
    """A model carrying its data as a literal table, `size` bytes at most."""
    lines, total, i = ['"""Bench upload: a model with its data embedded as a table."""', "TABLE = ["], 40, 0
    while True:
        line = f"    ({i}, {i * 0.25:.2f}, {i % 96}, 'block-{i % 96:02d}'),"
        if total + len(line) + 1 > size - 100:
            break
        lines.append(line)
        total += len(line) + 1
        i += 1
    lines += ["]", "print(len(TABLE))", ""]
    return "\n".join(lines).encode()


async def upload(bench: Bench, size: int, repeats: int) -> dict:
    """(e) an upload of `size` bytes, validation included (the 201 comes after it)."""
    data = big_model(size)
    times = []
    for i in range(repeats):
        started = time.perf_counter_ns()
        response = await bench.http.post("/api/optimization/upload", files={"file": (f"bench_big_{i}.py", data, "text/x-python")},
                                         data={"modelType": "DMO", "description": "bench upload"})
        times.append(time.perf_counter_ns() - started)
        response.raise_for_status()
    return {"bytes": len(data), "repeats": repeats, **summary_ms(times), "compile_alone_ms": await _compile_alone(data)}


async def _compile_alone(data: bytes) -> float:
    """The floor of (e): CPython compiling the same bytes, which any syntax check that agrees with
    the flow's must do. In a subprocess: compile() holds the GIL throughout, and this process's
    Socket.IO client must keep answering pings meanwhile."""
    script = ("import sys, time; data = sys.stdin.buffer.read(); started = time.perf_counter();"
              " compile(data, 'bench_big.py', 'exec', dont_inherit=True); print(time.perf_counter() - started)")
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate(data)
    return float(out) * 1000


async def fan_in(bench: Bench, models: int, rate: float, count: int) -> dict:
    """(f) `models` runs at `rate` lines/s each: the facade's CPU and RSS, and whether anything was lost."""
    api = bench.system.role_process("api")
    api.cpu_percent()
    samples: list[tuple[float, int]] = []
    job_ids = await asyncio.gather(*(bench.execute(count, rate) for _ in range(models)))
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.5)
            samples.append((api.cpu_percent(), api.memory_info().rss))

    sampler = asyncio.create_task(sample())
    streams = [await bench.run_to_end(job_id, count) for job_id in job_ids]
    stop.set()
    await sampler
    # lines are lost only if a model printed them: a run Prefect never started (Crashed) printed none
    ran = [(job_id, stream) for job_id, stream in zip(job_ids, streams, strict=True) if stream.ended == "completed"]
    checks = [check_lines(stream.lines, await bench.stored_lines(job_id), count) for job_id, stream in ran]
    lat = summary_ms([r - p for _, stream in ran for _, _, p, r in stream.ticks()])
    return {
        "models": models, "rate": rate, "count": count, "statuses": [s.ended for s in streams], "completed": len(ran),
        "errors": [(await bench.http.get(f"/api/optimization/jobs/{job_id}")).json()["job"]["error_message"]
                   for job_id, stream in zip(job_ids, streams, strict=True) if stream.ended != "completed"],
        "rss_max_mb": max(rss for _, rss in samples) / 2**20 if samples else None,
        "cpu_mean_pct": sum(c for c, _ in samples) / len(samples) if samples else None,
        "cpu_max_pct": max(c for c, _ in samples) if samples else None,
        "lost_live": sum(c["live_lost"] for c in checks), "lost_stored": sum(c["stored_lost"] for c in checks),
        "all_in_order": all(c["live_in_order"] and c["stored_in_order"] for c in checks),
        "latency": lat,
    }


async def floor(rate: float, count: int) -> dict:
    """The raw floor at `rate`: ticker → one asyncio reader → python-socketio → one client."""
    port = free_port()
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.floor", str(port), cwd=PROJECT_DIR)
    try:
        client = socketio.AsyncClient(reconnection=False)
        received: list[tuple[int, str]] = []
        done = asyncio.Event()
        client.on("line", lambda data: received.append((time.time_ns(), data["message"])))
        client.on("done", lambda data: done.set())
        deadline = time.monotonic() + 60
        while True:
            try:
                await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
                break
            except socketio.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        await client.emit("start", {"count": count, "rate": rate})
        await asyncio.wait_for(done.wait(), RUN_TIMEOUT_S)
        await client.disconnect()
    finally:
        server.terminate()
        await server.wait()
    ticks = [(int(m.split(" ")[2]), r) for r, m in received]
    result = {"rate": rate, "count": count, "received": len(ticks), **summary_ms([r - p for p, r in ticks])}
    if ticks:
        result["delivered_after_end_s"] = (max(r for _, r in ticks) - max(p for p, _ in ticks)) / 1e9
    return result


async def prefect_stock(server: StockServer, rate: float, count: int, settle_s: float = 15.0) -> dict:
    """Prefect's stock path at `rate`: a flow's run logger (default batching) → Prefect → its logs subscriber."""
    from prefect.client.schemas.filters import LogFilter, LogFilterLevel
    from prefect.logging.clients import PrefectLogsSubscriber

    token = f"bench-{time.time_ns()}"
    received: list[tuple[int, str]] = []
    api_url = await server.start()
    env = server.env()
    async with PrefectLogsSubscriber(api_url=api_url, filter=LogFilter(level=LogFilterLevel(ge_=20))) as subscriber:

        async def collect() -> None:
            async for log in subscriber:
                if log.message.startswith(token):
                    received.append((time.time_ns(), log.message))

        collector = asyncio.create_task(collect())
        flow = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.prefect_stock", token, str(count), str(rate),
                                                    cwd=PROJECT_DIR, env=env, stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.DEVNULL)
        await asyncio.wait_for(flow.wait(), RUN_TIMEOUT_S)
        deadline = time.monotonic() + settle_s
        while len(received) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
    ticks = [(int(m.split(" ")[3]), r) for r, m in received]
    return {"rate": rate, "count": count, "received": len(ticks), "exit_code": flow.returncode, **summary_ms([r - p for p, r in ticks])}


FLOOD_LINE_BYTES = 128  # bench/flood.py's line length, newline included
DEFAULT_LOG_CAP_MB = 200.0  # OPTBOX_RUN_MAX_LOG_MB's default, which the system under test keeps
FLOOD_TIMEOUT_S = 1800  # the cap's 1.6 million lines took 10+ minutes through the facade on a loaded 2-core machine


async def flood(bench: Bench, megabytes: float, cap_mb: float | None, poll_s: float) -> dict:
    """(g) a model printing `megabytes` of output at once, the log cap at `cap_mb` (None: the server's
    default): /api/health's latency polled every `poll_s` from a process of its own all through the run,
    and what was kept — the cap's worth of lines, live and stored, in order, with one notice."""
    response = await bench.http.post("/api/optimization/upload", files={"file": ("bench_flood.py", FLOOD.read_bytes(), "text/x-python")},
                                     data={"modelType": MODEL_TYPE, "description": "bench flood"})
    response.raise_for_status()
    body = {"modelType": MODEL_TYPE, "modelId": response.json()["model"]["id"], "config": {"mb": megabytes}}
    if cap_mb is not None:
        body["limits"] = {"maxLogMb": cap_mb}
    pulse = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.pulse", f"{bench.system.api_url}/api/health", str(poll_s),
                                                 cwd=PROJECT_DIR, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    await asyncio.sleep(1)  # a few answers from the quiet system first: the baseline
    started = time.monotonic()
    response = await bench.http.post("/api/optimization/execute", json=body)
    response.raise_for_status()
    job_id = response.json()["jobId"]
    try:
        stream = await bench.listener.ended(job_id, FLOOD_TIMEOUT_S)
    except TimeoutError:  # still report what health did meanwhile; the lines check then says what was missing
        stream = bench.listener.jobs[job_id]
    finally:
        took = time.monotonic() - started
        pulse.stdin.close()
        answers = [line.split() for line in (await pulse.stdout.read()).decode().splitlines()]
        await pulse.wait()
    job = (await bench.http.get(f"/api/optimization/jobs/{job_id}")).json()["job"]
    kept = (cap_mb or DEFAULT_LOG_CAP_MB) * 1024 * 1024 // FLOOD_LINE_BYTES
    live = [int(m.split(" ")[1]) for _, _, m in stream.lines if m.startswith("flood ")]
    seqs = [s for s, _, _ in stream.lines]
    notices = [m for _, _, m in stream.lines if "log cap" in m]
    latencies = [float(ms) * 1e6 for ms, _ in answers]
    return {
        "megabytes": megabytes, "cap_mb": cap_mb or DEFAULT_LOG_CAP_MB, "status": stream.ended, "run_s": took,
        "health": {**summary_ms(latencies), "failed": sum(ok == "0" for _, ok in answers), "samples_ms": [round(float(ms)) for ms, _ in answers]},
        "cap_lines": int(kept), "live_lines": len(live), "live_in_order": bool(seqs) and live == list(range(1, len(live) + 1)) and seqs == list(range(seqs[0], seqs[0] + len(seqs))),
        "stored_last_seq": job["last_seq"], "live_last_seq": seqs[-1] if seqs else None, "notices": len(notices),
        "objective_value": job["objective_value"],
    }


async def settled(system: Stack, busy_pct: float = 15.0, longest_s: float = 60.0) -> float:
    """Wait until the system's processes together use under `busy_pct` % of one CPU over a second (at
    most `longest_s`): a case starts on a quiet system, not in the wake of the one before (the runs
    and cancels of (d) keep Prefect busy for seconds) or of start-up. The seconds it waited."""
    started = time.monotonic()
    processes = [psutil.Process(system.processes['up'].pid), *psutil.Process(system.processes['up'].pid).children(recursive=True)]
    while time.monotonic() - started < longest_s:
        before = [_cpu_seconds(process) for process in processes]
        await asyncio.sleep(1.0)
        if sum(_cpu_seconds(process) for process in processes) - sum(before) < busy_pct / 100:
            break
    return time.monotonic() - started


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:  # gone (a run's process): its CPU no longer counts
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


def load_note() -> dict:
    one, five, fifteen = os.getloadavg()
    return {"loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)], "cpus": psutil.cpu_count(),
            "cpu_busy_pct": psutil.cpu_percent(interval=1.0)}


def dump(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
