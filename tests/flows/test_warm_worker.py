"""The warm worker's forkserver: what each flow run forked from it inherits."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import types
import uuid

import httpx
import pytest

from flows import warm_worker
from harness.stack import PROJECT_DIR


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
    ("cli.app", ["cli.app"]),        # a module run with `-m`: forked runs would run it again
    ("cli.__main__", []),            # `python -m cli worker`, as `optbox up` starts it: a package's __main__
    ("pytest.__main__", []),         # runs its program when imported, and multiprocessing skips it
    (None, []),                      # a script or `-c`: multiprocessing does not run it again
])
def test_the_workers_main_module_is_preloaded_when_forked_runs_would_run_it_again(monkeypatch, spec_name, preloaded):
    spec = types.SimpleNamespace(name=spec_name) if spec_name else None
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=spec))
    assert warm_worker._main_module() == preloaded


def _worker_with_prefect_answering(statuses: list[int]) -> tuple[warm_worker.WarmProcessWorker, list[int]]:
    """A worker whose Prefect answers its label PATCHes with `statuses`, then 204: a Prefect server busy on
    demand (its SQLite's 503s come only under load) is what cannot be had here otherwise."""
    from prefect.client.orchestration import PrefectClient

    answered: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if not (request.method == "PATCH" and request.url.path.endswith("/labels")):
            return httpx.Response(404)
        status = statuses[len(answered)] if len(answered) < len(statuses) else 204
        answered.append(status)
        return httpx.Response(status, headers={"Retry-After": "0"} if status == 503 else {})

    worker = warm_worker.WarmProcessWorker(work_pool_name="optbox-process")
    worker._client = PrefectClient("http://prefect.test/api", httpx_settings={"transport": httpx.MockTransport(answer)})
    return worker, answered


async def test_labels_refused_by_a_busy_prefect_are_asked_for_again():
    worker, answered = _worker_with_prefect_answering([503] * 8)  # more than Prefect's client retries by itself
    await worker._give_worker_labels_to_flow_run(uuid.uuid4())  # returns at once: the run is forked meanwhile
    assert answered == []
    await asyncio.gather(*warm_worker.labelling)
    assert answered == [503] * 8 + [204]


async def test_a_run_goes_on_without_labels_when_prefect_stays_busy(monkeypatch, caplog):
    monkeypatch.setattr(warm_worker, "LABELS_PATIENCE_S", 0.5)
    worker, answered = _worker_with_prefect_answering([503] * 10_000)
    await worker._give_worker_labels_to_flow_run(uuid.uuid4())
    await asyncio.gather(*warm_worker.labelling)  # no exception: the run is not crashed over labels
    assert len(answered) > 6 and set(answered) == {503}
    assert "goes on without its worker labels" in caplog.text


def test_a_run_reuses_the_forkservers_prefect_settings_unless_its_env_or_directory_changes_them():
    inherited = {"PREFECT_API_URL": "http://127.0.0.1:1/api"}
    # what Prefect's worker renders into each run's env: its own settings, spelled its way ('False', '10.0')
    env = {**warm_worker.own_settings_rendered(), **inherited, "PREFECT__FLOW_RUN_ID": str(uuid.uuid4()), "OPTBOX_FLOW_RETRIES": "2"}
    assert not warm_worker.prefect_settings_differ(env, inherited, str(PROJECT_DIR))
    assert warm_worker.prefect_settings_differ({**env, "PREFECT_LOGGING_LEVEL": "CRITICAL"}, inherited, str(PROJECT_DIR))
    assert warm_worker.prefect_settings_differ({**env, "PREFECT_API_URL": "http://elsewhere/api"}, inherited, str(PROJECT_DIR))
    assert warm_worker.prefect_settings_differ(env, inherited, "/")  # settings files are read from the directory


def test_a_run_gets_its_deployments_retry_policy_and_the_flow_itself_when_that_is_the_flows_own():
    default = warm_worker._flow_with_policy({})
    assert default is warm_worker._load_flow(warm_worker.DEFAULT_FLOW_ENTRY)
    retried = warm_worker._flow_with_policy({"OPTBOX_FLOW_RETRIES": "2", "OPTBOX_FLOW_RETRY_DELAY_S": "5"})
    assert (retried.retries, retried.retry_delay_seconds) == (2, 5) and (default.retries, default.retry_delay_seconds) == (0, 60)
