"""The one patches module: each tuning does what it says, and each patched symbol is still there."""

from __future__ import annotations

import subprocess
import sys

from optbox.settings import PROJECT_DIR


def test_freezing_the_startup_heap_takes_it_out_of_the_collectors_reach():
    script = "import gc\nfrom optbox.patches import freeze_startup_heap\nbefore = gc.get_freeze_count()\nfreeze_startup_heap()\nprint(before, gc.get_freeze_count())"
    before, after = map(int, subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=PROJECT_DIR).stdout.split())
    assert before == 0 and after > 1000  # the imports' objects, frozen


def test_spread_full_collections_makes_full_collections_rare_and_leaves_the_young_ones_be():
    script = """import gc, sys
from optbox.patches import spread_full_collections
def make_cycles():
    for _ in range(600_000):
        a = []; a.append(a); keep.append(a) if len(keep) < 150_000 else None
keep = []
if sys.argv[1] == "spread":
    spread_full_collections()
before = [s["collections"] for s in gc.get_stats()]
make_cycles()
print(*[s["collections"] - b for s, b in zip(gc.get_stats(), before)])"""
    runs = {}
    for mode in ("default", "spread"):
        out = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, check=True, cwd=PROJECT_DIR).stdout
        runs[mode] = list(map(int, out.split()))
    assert runs["default"][2] >= 2 and runs["spread"][2] == 0  # the survivors brought full collections by default only
    assert runs["spread"][0] >= runs["default"][0] // 2  # young ones as before
