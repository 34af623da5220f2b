"""Hostile: forks until the system refuses (or CONFIG["max"] times), every child sleeping forever; reports how far it got."""
import json
import os
import time

count = 0
try:
    for _ in range(json.loads(os.environ["CONFIG"]).get("max", 5000)):
        if os.fork() == 0:
            time.sleep(3600)
            os._exit(0)
        count += 1
except OSError as exc:
    print(f"fork refused after {count}: {exc}", flush=True)
print("::optbox " + json.dumps({"metrics": {"forked": count}}), flush=True)
raise SystemExit(3)
