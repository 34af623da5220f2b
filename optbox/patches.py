"""Tuning of other libraries and of the interpreter, in one place.

Every change to another library's behaviour that its public API does not offer lives here, and only here.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Put what a process allocated while starting (modules, the app, Prefect's client) out of the
    garbage collector's reach. Its full collections then walk only what was made since: in the
    facade under an output flood they had walked ~240k startup objects every few seconds, each
    time holding the event loop 0.4-0.7 s (`make bench` case g). Call once, when started."""
    gc.collect()
    gc.freeze()


FULL_COLLECTION_EVERY = 1000  # young-generation collections between two full ones (Python's default: 10)


def spread_full_collections() -> None:
    """Make full collections a hundred times rarer. With the startup heap frozen, what survives the young
    collections soon passes Python's 25 % test for a full one, and a burst of requests met one or two full
    collections of 11-22 ms each, every request in flight waiting them out (20 clients' executes, p99 46-63
    ms with Python's default and 35-47 ms with this, alternating). The young collections still free
    most cycles; the rest is freed at the next full one (the facade's RSS in bench case f: 160 MB)."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


