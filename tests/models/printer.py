"""Test model: prints CONFIG["lines"] numbered lines, CONFIG["delay"] seconds apart, then reports."""
import json
import os
import time

config = json.loads(os.environ["CONFIG"])
count, delay = int(config.get("lines", 100)), float(config.get("delay", 0))
for i in range(1, count + 1):
    print(f"line {i} of {count}", flush=True)
    if delay:
        time.sleep(delay)
print("::optbox " + json.dumps({"progress": 100, "objective_value": count, "results_count": count}))
