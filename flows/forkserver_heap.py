"""Imported last by the warm worker's forkserver, and by nothing else (see flows/warm_worker.py).

Freezes what the forkserver preloaded out of the garbage collector's reach before any flow run is forked
from it: every run inherits that state. Done in each run instead, the collection walked the whole inherited
heap (and copied each page it touched) before the run could start: 85-125 ms of every click → first line."""

from optbox.patches import freeze_startup_heap

freeze_startup_heap()
