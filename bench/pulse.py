"""`python -m bench.pulse URL INTERVAL_S`: GET URL every INTERVAL_S and print each answer's
latency in ms (one line each) until stdin closes. A process of its own, so the bench's
Socket.IO client, busy with a flood's events, cannot delay the measurement."""

from __future__ import annotations

import sys
import threading
import time

import httpx


def main() -> None:
    url, interval = sys.argv[1], float(sys.argv[2])
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            began = time.perf_counter()
            try:
                ok = http.get(url).status_code == 200
            except httpx.HTTPError:
                ok = False
            print(f"{(time.perf_counter() - began) * 1000:.3f} {int(ok)}", flush=True)
            stop.wait(interval)


if __name__ == "__main__":
    main()
