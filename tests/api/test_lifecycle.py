"""Runs the facade did not start, runs Prefect retried or cancelled, a failing model,
and a facade restart mid-run: JobRun/JobLog stay true to Prefect and lose no line."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_fixed

from harness.stack import processes_of, wait_until
from tests.conftest import SAMPLES, all_lines, execute, job, upload, wait_for_job

MODELS = Path(__file__).parent.parent / "models"


@retry(retry=retry_if_exception(lambda e: isinstance(e, httpx.HTTPStatusError) and e.response.status_code == 503),
       wait=wait_fixed(0.5), stop=stop_after_attempt(20), reraise=True)
def prefect(stack, method: str, path: str, **kwargs) -> httpx.Response:
    """Prefect's API; retried on 503, which its SQLite answers while busy (its own client retries too)."""
    response = httpx.request(method, f"{stack.prefect_api_url}{path}", timeout=30, **kwargs)
    response.raise_for_status()
    return response


def deployment_id(stack, name: str) -> str:
    return prefect(stack, "GET", f"/deployments/name/optbox-model-run/{name}").json()["id"]


def job_for_flow_run(api, flow_run_id: str) -> dict | None:
    for row in api.get("/api/optimization/jobs", params={"limit": 200}).json()["jobs"]:
        if row["flow_run_id"] == flow_run_id:
            return row
    return None


def upload_model(api, path: Path, model_type: str) -> dict:
    response = upload(api, path.name, path.read_bytes(), model_type)
    assert response.status_code == 201, response.text
    return response.json()["model"]


def test_failing_model_ends_failed_with_its_stderr_tail_and_levels(api, stack, keep_active_models):
    model = upload_model(api, SAMPLES / "raises.py", "RMO")
    started = execute(api, "RMO", modelId=model["id"])
    row = wait_for_job(api, started["jobId"])
    assert row["status"] == "failed" and row["attempt"] == 1 and row["exit_code"] == 1
    assert "model exited with code 1" in row["error_message"]
    assert "RuntimeError: infeasible: demand exceeds capacity in block 57" in row["error_message"]
    levels = {line["message"]: (line["level"], line["stream"]) for line in all_lines(api, started["jobId"])}
    assert levels["loading inputs"] == ("INFO", "stdout")
    assert levels["WARNING: price series has a gap in block 41; interpolating"] == ("WARNING", "stdout")
    assert levels["solver: infeasible at block 57"] == ("ERROR", "stderr")
    # the flow reports to the facade before it hands Prefect its final state
    flow_run = wait_until(lambda: (f := prefect(stack, "GET", f"/flow_runs/{started['flowRunId']}").json())["state"]["type"] != "RUNNING" and f,
                          30, "Prefect to end the run")
    assert flow_run["state"]["type"] == "FAILED" and flow_run["run_count"] == 1


def test_retry_from_prefect_raises_the_attempt_and_continues_the_lines(api, stack, keep_active_models):
    model = upload_model(api, SAMPLES / "raises.py", "RMO")
    started = execute(api, "RMO", modelId=model["id"])
    first = wait_for_job(api, started["jobId"])
    first_lines = all_lines(api, started["jobId"])
    assert first["status"] == "failed"
    # the facade hears of the failure from the flow a moment before Prefect records it
    wait_until(lambda: prefect(stack, "GET", f"/flow_runs/{started['flowRunId']}").json()["state"]["type"] == "FAILED", 30, "Prefect's Failed")

    # what the Prefect UI's Retry button does
    prefect(stack, "POST", f"/flow_runs/{started['flowRunId']}/set_state",
            json={"state": {"type": "SCHEDULED", "name": "AwaitingRetry"}, "force": True})
    wait_until(lambda: job(api, started["jobId"])["attempt"] == 2, 30, "the mirror to see attempt 2")
    wait_until(lambda: job(api, started["jobId"])["attempt"] == 2 and job(api, started["jobId"])["status"] == "failed", 60, "attempt 2 to end")
    second = job(api, started["jobId"])
    assert second["status"] == "failed" and second["attempt"] == 2
    lines = all_lines(api, started["jobId"])
    seqs = [line["seq"] for line in lines]
    assert seqs == list(range(1, len(seqs) + 1)) and len(lines) > len(first_lines)
    assert lines[: len(first_lines)] == first_lines
    assert any(line["message"].startswith("attempt 2:") for line in lines[len(first_lines):])
    assert prefect(stack, "GET", f"/flow_runs/{started['flowRunId']}").json()["run_count"] == 2


def test_scheduled_run_is_mirrored_with_its_trigger(api, stack):
    so = deployment_id(stack, "so")
    # the scheduler (every 2 s in tests) must create the run before its time, or it schedules the next one
    anchor = datetime.now(UTC) + timedelta(seconds=12)
    schedule = prefect(stack, "POST", f"/deployments/{so}/schedules",
                       json=[{"schedule": {"interval": 3600, "anchor_date": anchor.isoformat(), "timezone": "UTC"}, "active": True}]).json()[0]
    try:
        def scheduled_run():
            runs = prefect(stack, "POST", "/flow_runs/filter", json={
                "flow_runs": {"deployment_id": {"any_": [so]}, "tags": {"all_": ["auto-scheduled"]}}, "limit": 5}).json()
            return next((r for r in runs if r["state"]["type"] not in ("SCHEDULED",)), None)

        flow_run = wait_until(scheduled_run, 150, "the scheduler's run to start", interval=1)
        row = wait_until(lambda: job_for_flow_run(api, flow_run["id"]), 30, "the run to be mirrored")
        row = wait_for_job(api, row["job_id"])
        assert row["triggered_by"] == "scheduled" and row["status"] == "success"
        assert row["model_name"] == "so_battery" and row["deployment_name"] == "optbox-model-run/so"
        assert row["results_count"] == 96 and row["last_seq"] > 5
    finally:
        prefect(stack, "DELETE", f"/deployments/{so}/schedules/{schedule['id']}")


def test_a_type_without_active_model_fails_fast_and_is_not_retried(api, stack, keep_active_models):
    active = api.get("/api/optimization/models", params={"type": "RMO", "status": "active"}).json()["models"]
    for model in active:
        api.delete("/api/optimization/models", params={"id": model["id"]})
    refused = api.post("/api/optimization/execute", json={"modelType": "RMO"})
    assert refused.status_code == 409 and "no active RMO model" in refused.json()["error"]

    # a run the facade did not start (as the scheduler's would be)
    flow_run = prefect(stack, "POST", f"/deployments/{deployment_id(stack, 'rmo')}/create_flow_run", json={}).json()
    row = wait_until(lambda: (r := job_for_flow_run(api, flow_run["id"])) and r["status"] == "failed" and r, 120, "the run to fail")
    assert "no active RMO model" in row["error_message"] and row["triggered_by"] == "api" and row["attempt"] == 1
    final = wait_until(lambda: (f := prefect(stack, "GET", f"/flow_runs/{flow_run['id']}").json())["state"]["type"] == "FAILED" and f, 30, "Prefect to end it")
    assert final["run_count"] == 1 and "no active RMO model" in final["state"]["message"]


def test_cancel_kills_the_model_and_ends_cancelled(api, stack, keep_active_models):
    model = upload_model(api, MODELS / "endless.py", "SO")
    started = execute(api, "SO", modelId=model["id"])
    wait_until(lambda: any(l["message"].startswith("tick 3") for l in all_lines(api, started["jobId"])), 120, "the model to tick")
    assert processes_of(started["jobId"])
    response = api.post(f"/api/optimization/jobs/{started['jobId']}/cancel")
    assert response.status_code == 200 and response.json()["prefectState"] == "Cancelling"
    row = wait_for_job(api, started["jobId"], timeout=60)
    assert row["status"] == "cancelled"
    wait_until(lambda: not processes_of(started["jobId"]), 10, "the model process to die")
    final = wait_until(lambda: (t := prefect(stack, "GET", f"/flow_runs/{started['flowRunId']}").json()["state"]["type"]) != "CANCELLING" and t,
                       30, "Prefect to end the cancellation")
    assert final == "CANCELLED"
    assert api.post(f"/api/optimization/jobs/{started['jobId']}/cancel").status_code == 409


@pytest.mark.restarts_shared
def test_facade_killed_mid_run_loses_no_line_and_ends_right(api, stack, keep_active_models):
    model = upload_model(api, MODELS / "printer.py", "DMO")
    started = execute(api, "DMO", modelId=model["id"], config={"lines": 600, "delay": 0.01})
    wait_until(lambda: job(api, started["jobId"])["last_seq"] > 20, 120, "lines to flow")
    stack.stop_role("api", signal.SIGKILL)
    time.sleep(3)
    stack.start_api()
    row = wait_for_job(api, started["jobId"], timeout=120)
    assert row["status"] == "success" and row["objective_value"] == 600
    lines = all_lines(api, started["jobId"])
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    printed = [line["message"] for line in lines if line["stream"] == "stdout" and line["message"].startswith("line ")]
    assert printed == [f"line {i} of 600" for i in range(1, 601)]
