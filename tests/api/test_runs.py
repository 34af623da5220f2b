"""Upload → execute → live lines → success, for each sample, against the real stack."""

from __future__ import annotations

import asyncio
import csv
import io

import httpx
import pytest

from harness.stack import wait_until
from tests.conftest import EventRecorder, all_lines, execute, job

SAMPLE_RUNS = {"DMO": ("dmo_schedule.csv", 96), "RMO": ("rmo_redispatch.csv", 30), "SO": ("so_schedule.csv", 96)}


def prefect_logs(stack, flow_run_id: str) -> list[str]:
    response = httpx.post(f"{stack.prefect_api_url}/logs/filter",
                          json={"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200, "sort": "TIMESTAMP_ASC"})
    return [entry["message"] for entry in response.json()]


async def test_runs_each_sample_with_live_lines_mirrored_rows_and_results(stack, api, events):
    # a second client in several rooms at once: the lobby, DMO's room twice over, RMO's room by name
    async with EventRecorder(stack.api_url) as subscribed:
        assert (await subscribed.client.call("optimization:subscribe", {"modelType": "DMO"}))["ok"]
        assert (await subscribed.client.call("subscribe", "model:RMO"))["ok"]
        await _run_samples(stack, api, events, subscribed)


async def _run_samples(stack, api, events, subscribed):
    started = {model_type: execute(api, model_type) for model_type in SAMPLE_RUNS}
    for body in started.values():
        assert body["success"] is True and body["status"] == "pending" and body["flowRunId"]

    job_ids = {body["jobId"] for body in started.values()}
    await events.wait_for(lambda: all(events.of("optimization:completed", j) or events.of("optimization:failed", j) for j in job_ids),
                          240, "all three runs to end")

    for model_type, body in started.items():
        job_id = body["jobId"]
        assert not events.of("optimization:failed", job_id), events.of("optimization:failed", job_id)
        row = await asyncio.to_thread(job, api, job_id)
        assert row["status"] == "success" and row["progress"] == 100
        assert row["model_type"] == model_type and row["triggered_by"] == "manual" and row["attempt"] == 1
        assert row["flow_run_id"] == body["flowRunId"]

        # every line arrived live, once, in order, and the table holds the same lines
        live = events.of("optimization:log", job_id)
        stored = await asyncio.to_thread(all_lines, api, job_id)
        await subscribed.wait_for(lambda j=job_id: subscribed.of("optimization:completed", j), 30, "the subscribed client's completion")
        assert subscribed.of("optimization:log", job_id) == live  # each event once, whatever rooms a client is in
        assert [line["seq"] for line in live] == list(range(1, len(live) + 1))
        assert [(line["seq"], line["message"]) for line in stored] == [(line["seq"], line["message"]) for line in live]
        assert all(line["modelType"] == model_type and line["timestamp"] for line in live)
        assert events.of("optimization:started", job_id)

        # the model's own report became the run's result
        printed = next(line["message"] for line in live if line["message"].startswith("Objective value:"))
        assert row["objective_value"] == pytest.approx(float(printed.split(":")[1]))
        result_name, rows = SAMPLE_RUNS[model_type]
        assert row["results_count"] == rows
        assert [r["name"] for r in row["results"]] == [result_name]
        download = await asyncio.to_thread(api.get, row["results"][0]["url"])
        assert download.status_code == 200
        assert len(list(csv.reader(io.StringIO(download.text)))) == rows + 1

        # the run is a real Prefect flow run whose logs carry the model's lines; Prefect settles
        # both just after the flow has told the facade, so wait for them (bounded) instead of racing
        flow_run_url = f"{stack.prefect_api_url}/flow_runs/{body['flowRunId']}"
        await asyncio.to_thread(wait_until, lambda url=flow_run_url: httpx.get(url).json()["state"]["type"] == "COMPLETED", 30, "Prefect's Completed")
        await asyncio.to_thread(wait_until, lambda fr=body["flowRunId"], line=printed: line in prefect_logs(stack, fr), 30, "the line in Prefect's logs")

        logfile = await asyncio.to_thread(api.get, f"/api/optimization/jobs/{job_id}/logfile")
        assert logfile.text.count("\n") == len(stored) and printed in logfile.text
        worker_copy = await asyncio.to_thread(api.get, f"/api/optimization/jobs/{job_id}/logfile", params={"attempt": 1})
        assert worker_copy.status_code == 200 and worker_copy.text == logfile.text
