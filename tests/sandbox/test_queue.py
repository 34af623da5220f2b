"""Queues: past a type's concurrency limit runs wait as pending with their place in line
(API and Socket.IO), and start in the order they were created."""

from __future__ import annotations

import asyncio

import pytest

from harness.stack import wait_until
from tests.api.test_lifecycle import MODELS, prefect, upload_model
from tests.conftest import execute, job, wait_for_job

pytestmark = pytest.mark.usefixtures("keep_active_models")


@pytest.fixture
def dmo_one_at_a_time(stack):
    """The DMO work queue limited to one run (the suite's default is OPTBOX_RUN_CONCURRENCY=2)."""
    path = "/work_pools/optbox-process/queues/dmo"
    # the worker limits the queues right after it applies prefect.yaml
    before = wait_until(lambda: prefect(stack, "GET", path).json()["concurrency_limit"], 60, "the worker to limit the queues")
    assert before == 2
    prefect(stack, "PATCH", path, json={"concurrency_limit": 1})
    yield
    prefect(stack, "PATCH", path, json={"concurrency_limit": before})


async def test_runs_past_the_limit_wait_in_line_and_start_in_order(api, stack, events, dmo_one_at_a_time):
    # a run that holds the type's one slot until it is cancelled, so the line cannot move under the test
    blocker = execute(api, "DMO", modelId=upload_model(api, MODELS / "endless.py", "DMO")["id"])
    wait_until(lambda: job(api, blocker["jobId"])["status"] == "running", 120, "the blocker to run")
    model = upload_model(api, MODELS / "printer.py", "DMO")
    ids = [execute(api, "DMO", modelId=model["id"], config={"lines": 15, "delay": 0.1})["jobId"] for _ in range(3)]
    first = job(api, ids[0])["queue_position"]  # 1 unless an earlier test left a DMO run waiting
    assert [job(api, job_id)["queue_position"] for job_id in ids] == [first, first + 1, first + 2]
    assert all(job(api, job_id)["status"] == "pending" for job_id in ids)
    listed = {j["job_id"]: j["queue_position"] for j in api.get("/api/optimization/jobs", params={"type": "DMO", "status": "pending"}).json()["jobs"]}
    assert [listed[job_id] for job_id in ids] == [first, first + 1, first + 2]

    assert api.post(f"/api/optimization/jobs/{blocker['jobId']}/cancel").status_code == 200
    rows = [await asyncio.to_thread(wait_for_job, api, job_id, timeout=180) for job_id in ids]  # the Socket.IO client keeps listening
    assert [r["status"] for r in rows] == ["success"] * 3
    assert rows[0]["started_at"] < rows[1]["started_at"] < rows[2]["started_at"]
    # one at a time: each started after the one before it ended
    assert rows[0]["completed_at"] <= rows[1]["started_at"] and rows[1]["completed_at"] <= rows[2]["started_at"]
    assert job(api, ids[2])["queue_position"] is None

    places = [e["queuePosition"] for e in events.of("optimization:status", ids[2]) if e.get("queued")]
    assert places[0] == first + 2 and places[-1] == 1 and places == sorted(places, reverse=True)
