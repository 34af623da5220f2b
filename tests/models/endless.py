"""Test model: prints its pid, then a line every 0.1 s until killed."""
import os
import time

print(f"pid {os.getpid()}", flush=True)
i = 0
while True:
    i += 1
    print(f"tick {i}", flush=True)
    time.sleep(0.1)
