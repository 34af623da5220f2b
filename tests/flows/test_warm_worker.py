"""The warm worker's forkserver: what each flow run forked from it inherits."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from flows import warm_worker
from tests.stack import PROJECT_DIR


def test_a_run_forked_from_the_forkserver_inherits_its_frozen_heap():
    # A pool's processes are forked from the same forkserver as flow runs; gc.get_freeze_count travels by reference.
    script = ("import gc\nfrom concurrent.futures import ProcessPoolExecutor\nfrom flows.warm_worker import forkserver\n"
              "with ProcessPoolExecutor(1, mp_context=forkserver()) as pool:\n"
              "    print(gc.get_freeze_count(), pool.submit(gc.get_freeze_count).result())")
    worker, forked = map(int, subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                             cwd=PROJECT_DIR, timeout=120).stdout.split())
    assert worker == 0  # the worker's own heap is left as it is
    assert forked > 100_000  # Prefect and the flows, preloaded and frozen before the fork


@pytest.mark.parametrize(("spec_name", "preloaded"), [
    ("optbox.cli", ["optbox.cli"]),  # `python -m optbox.cli worker`, as `optbox up` starts it
    ("pytest.__main__", []),         # a package's __main__ runs its program when imported
    (None, []),                      # a script or `-c`: multiprocessing does not run it again
])
def test_the_workers_main_module_is_preloaded_when_forked_runs_would_run_it_again(monkeypatch, spec_name, preloaded):
    spec = types.SimpleNamespace(name=spec_name) if spec_name else None
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=spec))
    assert warm_worker._main_module() == preloaded
