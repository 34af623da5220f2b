"""Hostile: writes CONFIG["mb"] MB of output as fast as it can, then reports."""
import json
import os
import sys

megabytes = int(json.loads(os.environ["CONFIG"]).get("mb", 300))
block = ("flood " + "x" * 120 + "\n") * 8192  # about 1 MB
for _ in range(megabytes):
    sys.stdout.write(block)
sys.stdout.flush()
print("::optbox " + json.dumps({"objective_value": megabytes, "progress": 100}), flush=True)
