"""Resources and Prefect's view of a run: each finished run says what it used and how long it waited in line,
and Prefect's UI names the flow run for what ran and holds artifacts of its outcome.

Two SO runs of a model that holds ~150 MB and spins ~1 s of CPU, the SO queue held to one run at a time,
so the second waits in line for the first."""

from __future__ import annotations

import json

import pytest

from harness.stack import wait_until
from tests.api.test_lifecycle import MODELS, prefect, upload_model
from tests.conftest import all_lines, execute, job, wait_for_job

SO_QUEUE = "/work_pools/optbox-process/queues/so"


@pytest.fixture(scope="module")
def two_runs(api, stack) -> list[dict]:
    """The finished rows of two hungry SO runs started back to back while SO runs one at a time (the queue is
held shut until both runs exist, so both are seen as Prefect created them)."""
    before = wait_until(lambda: prefect(stack, "GET", SO_QUEUE).json()["concurrency_limit"], 60, "the worker to limit the queues")
    # module-scoped, so it puts the active models back itself (a function's keep_active_models would start after it)
    active = [m["id"] for m in api.get("/api/optimization/models", params={"status": "active"}).json()["models"]]
    prefect(stack, "PATCH", SO_QUEUE, json={"concurrency_limit": 0})  # held until both are created and checked
    try:
        model = upload_model(api, MODELS / "hungry.py", "SO")
        ids = [execute(api, "SO", modelId=model["id"], limits={"memoryMb": 400})["jobId"] for _ in range(2)]
        for job_id in ids:  # named by the facade when it creates the run, before any flow could rename it
            flow_run_id = wait_until(lambda job_id=job_id: job(api, job_id)["flow_run_id"], 60, "the flow run")
            flow_run = prefect(stack, "GET", f"/flow_runs/{flow_run_id}").json()
            assert flow_run["state_type"] == "SCHEDULED" and flow_run["name"] == f"SO · hungry v{model['version']} · manual"
        prefect(stack, "PATCH", SO_QUEUE, json={"concurrency_limit": 1})
        return [wait_for_job(api, job_id, timeout=180) for job_id in ids]
    finally:
        prefect(stack, "PATCH", SO_QUEUE, json={"concurrency_limit": before})
        for model_id in active:
            api.post(f"/api/optimization/models/{model_id}/activate")


def test_a_finished_run_reports_its_peak_memory_cpu_time_and_time_in_line(two_runs, api):
    first, second = two_runs
    assert [run["status"] for run in two_runs] == ["success", "success"], two_runs
    for run in two_runs:
        assert run["peak_memory_mb"] >= 100 and run["cpu_seconds"] >= 0.5, run
        assert run["queued_s"] >= 0
    assert second["queued_s"] > first["queued_s"]  # it waited for the first to end
    said = [line["message"] for line in all_lines(api, first["job_id"]) if line["stream"] == "system"]
    assert any("model exited with code 0 after" in line and "peak memory" in line and "s CPU" in line for line in said), said


def test_prefect_names_the_flow_run_and_holds_its_summary_and_result_artifacts(two_runs, stack):
    run = two_runs[0]
    flow_run = prefect(stack, "GET", f"/flow_runs/{run['flow_run_id']}").json()
    assert flow_run["name"] == f"SO · {run['model_name']} v{run['model_version']} · manual"

    artifacts = prefect(stack, "POST", "/artifacts/filter",
                        json={"artifacts": {"flow_run_id": {"any_": [run["flow_run_id"]]}}}).json()
    by_key = {artifact["key"]: artifact for artifact in artifacts}
    assert {"optbox-so-summary", "optbox-so-result"} <= set(by_key)
    summary = by_key["optbox-so-summary"]
    assert summary["type"] == "markdown" and run["job_id"] in summary["data"] and "42.5" in summary["data"]
    assert f"/sandbox?job={run['job_id']}" in summary["data"]
    table = by_key["optbox-so-result"]
    assert table["type"] == "table"
    rows = json.loads(table["data"])  # Prefect stores a table artifact's rows as JSON text
    assert len(rows) == 20 and rows[0] == {"block": "1", "charge_mw": "-3", "soc_mwh": "11"}

    latest = prefect(stack, "GET", "/artifacts/optbox-so-result/latest").json()
    assert latest["flow_run_id"] == two_runs[1]["flow_run_id"]  # the key's latest is the type's latest result
