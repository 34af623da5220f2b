"""Bench model: prints CONFIG["count"] lines at CONFIG["rate"] lines/s (0: as fast as it can).

Each line is `tick <i> <time.time_ns()>`, so a receiver on this machine measures
print → receive latency from the line alone. Runs as an uploaded optbox model,
as the floor's subprocess and under Prefect's stock logger alike.
"""
import json
import os
import sys
import time

config = json.loads(os.environ.get("CONFIG") or "{}")
count, rate = int(config.get("count", 1000)), float(config.get("rate", 0))
write = sys.stdout.write
start = time.perf_counter()
for i in range(1, count + 1):
    if rate:
        ahead = start + i / rate - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
    write(f"tick {i} {time.time_ns()}\n")
    if rate:
        sys.stdout.flush()
sys.stdout.flush()
