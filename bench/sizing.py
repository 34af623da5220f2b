"""Sizing figures for the README's deployment guide, measured on the scale-out deployment
(harness/scale_out.py: Prefect on PostgreSQL + Redis, two API replicas, two workers).

    .venv/bin/python -m bench.sizing [--clients 40] [--lines 5000] [--runs 8]

Prints: memory per role at rest, one run's line throughput seen by a client on the
other replica, Socket.IO fan-out to many clients spread over both replicas, and how
many concurrent runs two workers finish per minute. Bounded: it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import psutil

from harness.clients import EventRecorder, execute, upload, wait_for_job
from harness.scale_out import ScaleOut, scale_out
from harness.stack import PROJECT_DIR

PRINTER = (PROJECT_DIR / "tests" / "models" / "printer.py").read_bytes()


def rss_mb(scale: ScaleOut) -> dict[str, float]:
    sizes = {}
    for name, process in scale.stack.processes.items():
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        sizes[name] = sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20
    return sizes


async def line_throughput(scale: ScaleOut, lines: int, clients: int) -> None:
    with scale.client(scale.api_a) as a:
        model = upload(a, "printer.py", PRINTER, "DMO").json()["model"]
        recorders = [EventRecorder(scale.api_b if i % 2 else scale.api_a) for i in range(clients)]
        for recorder in recorders:
            await recorder.__aenter__()
        try:
            clicked = time.perf_counter()
            job_id = execute(a, "DMO", modelId=model["id"], config={"lines": lines})["jobId"]
            row = await asyncio.to_thread(wait_for_job, a, job_id, timeout=300)
            ended = time.perf_counter()
            expected = row["last_seq"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and any(len(r.of("optimization:log", job_id)) < expected for r in recorders):
                await asyncio.sleep(0.05)
            delivered = time.perf_counter()
            got = [len({e["seq"] for e in r.of("optimization:log", job_id)}) for r in recorders]
            reconnected = sum(sum(e == "connected" for e, _ in r.events) > 1 for r in recorders)
        finally:
            for recorder in recorders:
                await recorder.__aexit__(None, None, None)
    complete = sum(n == expected for n in got)
    print(f"one run printing {lines} lines, {clients} Socket.IO clients (half on each replica):")
    print(f"  click -> run finished {ended - clicked:.1f} s; {complete}/{clients} clients had all {expected} lines live after "
          f"{delivered - clicked:.1f} s ({sum(got) / (delivered - clicked):.0f} line deliveries/s); fewest lines a client got live: "
          f"{min(got)}; clients that reconnected (and would replay by after_seq): {reconnected}")


async def concurrent_runs(scale: ScaleOut, runs: int) -> None:
    with scale.client(scale.api_a) as a, scale.client(scale.api_b) as b:
        started = time.perf_counter()
        job_ids = [execute(a if i % 2 else b, "SO")["jobId"] for i in range(runs)]
        rows = [await asyncio.to_thread(wait_for_job, a, job_id, timeout=600) for job_id in job_ids]
        took = time.perf_counter() - started
    ok = sum(row["status"] == "success" for row in rows)
    print(f"{runs} SO sample runs started at once over both replicas, two workers: {ok} succeeded in {took:.1f} s "
          f"({60 * runs / took:.1f} runs/min)")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="optbox-sizing-") as base, scale_out(Path(base)) as scale:
        await asyncio.sleep(5)
        print("memory at rest (RSS, MB, each role with its children):",
              ", ".join(f"{name} {size:.0f}" for name, size in rss_mb(scale).items()))
        await line_throughput(scale, args.lines, args.clients)
        await concurrent_runs(scale, args.runs)
        print("memory after the load (RSS, MB):", ", ".join(f"{name} {size:.0f}" for name, size in rss_mb(scale).items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
