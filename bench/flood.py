"""Bench model: prints CONFIG["mb"] MB of output as fast as it can, then reports.

Each line is `flood <i> ` padded with x to LINE_BYTES (newline included), so the
lines a log cap of C bytes keeps are exactly C // LINE_BYTES.
"""
import json
import os
import sys

LINE_BYTES = 128
config = json.loads(os.environ.get("CONFIG") or "{}")
megabytes = float(config.get("mb", 300))
count = int(megabytes * 1024 * 1024) // LINE_BYTES
write = sys.stdout.write
block = []
for i in range(1, count + 1):
    head = f"flood {i} "
    block.append(head + "x" * (LINE_BYTES - 1 - len(head)) + "\n")
    if len(block) == 8192:
        write("".join(block))
        block.clear()
write("".join(block))
sys.stdout.flush()
print("::optbox " + json.dumps({"objective_value": count, "progress": 100}), flush=True)
