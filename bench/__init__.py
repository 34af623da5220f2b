"""bench — `make bench`: the live-log path measured against the machine's floor and Prefect's own.

Owns: the bench models (`ticker.py`,
lines stamped with `time.time_ns()`; `flood.py`, output as fast as it goes), real clients
(`clients.py`; `pulse.py` polls health from a process of its own), the cases (a)–(g) and the
two references (`cases.py`, `floor.py`, `prefect_stock.py`), the table (`__main__.py`) and the scale-out
sizing (`sizing.py`). The system itself is started by the one harness (`harness/stack.py`, as `make run` does).
Never imported by the product; it reaches the system over HTTP, Socket.IO and Prefect's API only.
See README.md here for what each case measures.
"""

from pathlib import Path

TICKER = Path(__file__).with_name("ticker.py")
FLOOD = Path(__file__).with_name("flood.py")
