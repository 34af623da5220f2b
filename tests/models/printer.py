"""Test model: prints CONFIG["lines"] numbered lines, CONFIG["delay"] seconds apart, each padded with
CONFIG["width"] characters, then reports."""
import json
import os
import time

config = json.loads(os.environ["CONFIG"])
count, delay = int(config.get("lines", 100)), float(config.get("delay", 0))
padding = " " + "x" * int(config["width"]) if config.get("width") else ""
for i in range(1, count + 1):
    print(f"line {i} of {count}{padding}", flush=True)
    if delay:
        time.sleep(delay)
print("::optbox " + json.dumps({"progress": 100, "objective_value": count, "results_count": count}))
