"""The one patches module: each tuning does what it says, and each patched symbol is still there."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

import pytest
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from optbox import patches
from optbox.settings import PROJECT_DIR, get_settings


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


@pytest.mark.parametrize("patch", patches.PATCHES.values(), ids=lambda patch: patch.name)
def test_every_symbol_a_patch_relies_on_is_still_there(patch):
    assert patches.missing_symbols(patch) == []


@pytest.mark.parametrize("patch", patches.PATCHES.values(), ids=lambda patch: patch.name)
def test_every_patch_applies_to_the_versions_we_pin(patch, fresh_decisions):
    """A dependency upgrade past a patch's tested versions turns it off at run time; this says so at test time,
    so the patch is checked (and measured) again for the new version."""
    assert patches.active(patch), f"{patch.library} {patches.installed_version(patch.library)} not in {patch.tested}"


@pytest.fixture
def fresh_decisions(monkeypatch):
    """`active` decides once per process; these tests decide again under their own settings."""
    patches.active.cache_clear()
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.delenv("OPTBOX_PATCHES_OFF", raising=False)
    patches.active.cache_clear()
    get_settings.cache_clear()


def test_a_library_version_the_patch_was_not_checked_against_runs_stock_and_says_so(fresh_decisions, caplog):
    fresh_decisions.setattr(patches, "installed_version", lambda library: "99.0")
    with caplog.at_level(logging.WARNING, logger="optbox.patches"):
        assert patches.prefect_runner() is None
        assert type(patches.rate_limit_memory_storage()) is MemoryStorage
    assert "prefect-warm-worker not applied: prefect 99.0" in caplog.text


def test_patches_switched_off_by_name_or_all_run_the_stock_library(fresh_decisions):
    fresh_decisions.setenv("OPTBOX_PATCHES_OFF", "limits-expiry-on-hits")
    assert type(patches.rate_limit_memory_storage()) is MemoryStorage and patches.prefect_runner() is not None
    patches.active.cache_clear()
    get_settings.cache_clear()
    fresh_decisions.setenv("OPTBOX_PATCHES_OFF", "all")
    assert not any(patches.active(patch) for patch in patches.PATCHES.values())


def test_switched_off_the_heap_is_not_frozen():
    script = "import gc\nfrom optbox.patches import freeze_startup_heap\nfreeze_startup_heap()\nprint(gc.get_freeze_count())"
    frozen = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=PROJECT_DIR,
                            env={**os.environ, "OPTBOX_PATCHES_OFF": "gc-freeze"}).stdout
    assert int(frozen) == 0


def test_tls_contexts_for_one_ca_file_are_built_once_and_other_asks_get_fresh_ones():
    script = """import ssl, certifi, httpx
from optbox.patches import share_default_tls_contexts
share_default_tls_contexts([certifi.where()])
same = ssl.create_default_context(cafile=certifi.where()) is ssl.create_default_context(cafile=certifi.where())
other = ssl.create_default_context() is ssl.create_default_context()
httpx.get  # clients still build and verify
print(same, other)"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=PROJECT_DIR).stdout
    assert out.split() == ["True", "False"]


async def test_rate_limit_hits_start_no_thread_and_expired_entries_are_dropped(monkeypatch):
    storage = patches.rate_limit_memory_storage()
    storage.expire_every_s = 0.0
    limiter = MovingWindowRateLimiter(storage)
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
    five_a_second = parse("5/second")
    assert [limiter.hit(five_a_second, "execute", "k") for _ in range(6)] == [True] * 5 + [False]
    assert started == []
    time.sleep(1.05)
    assert limiter.hit(parse("5/minute"), "execute", "other")  # a hit on any key drops what has expired
    assert storage.events.get("LIMITER/execute/k/5/1/second", []) == []
    assert limiter.hit(five_a_second, "execute", "k")


def test_the_worker_renders_its_settings_into_a_runs_env_once_per_settings_object():
    from prefect.settings import PREFECT_LOGGING_LEVEL, get_current_settings, temporary_settings
    from prefect.workers.base import BaseJobConfiguration
    from prefect.workers.process import ProcessJobConfiguration

    class JobConfiguration(ProcessJobConfiguration):
        pass

    renders = []
    stock = JobConfiguration._base_environment
    JobConfiguration._base_environment = classmethod(lambda cls: renders.append(1) or stock())
    patches.render_worker_settings_once(JobConfiguration)
    first = JobConfiguration._base_environment()
    assert first == BaseJobConfiguration._base_environment() == get_current_settings().to_environment_variables(exclude_unset=True)
    first["PREFECT_API_URL"] = "changed by a caller"
    assert JobConfiguration._base_environment() == BaseJobConfiguration._base_environment() and len(renders) == 1
    with temporary_settings(updates={PREFECT_LOGGING_LEVEL: "CRITICAL"}):  # other settings: rendered anew
        assert JobConfiguration._base_environment()["PREFECT_LOGGING_LEVEL"] == "CRITICAL" and len(renders) == 2


def test_a_flow_run_goes_on_while_its_suspension_watch_subscribes_and_leaves_it_after(monkeypatch):
    import contextlib

    from prefect import flow_engine

    events, run_started = [], threading.Event()

    @contextlib.contextmanager
    def subscribing_watch(flow_run_id, request):
        assert run_started.wait(30), "the run waited for the watch to subscribe"  # stock: the run starts after this
        events.append("subscribed")
        yield
        events.append("left")

    monkeypatch.setattr(flow_engine, "observe_flow_run_suspension", subscribing_watch)
    patches.watch_for_suspension_meanwhile()
    with flow_engine.observe_flow_run_suspension("run-id", None):
        events.append("run")
        run_started.set()
    assert events == ["run", "subscribed", "left"]
