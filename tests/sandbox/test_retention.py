"""Retention: the maintenance deployment prunes logs, log files and result files of finished
runs and keeps their JobRun summaries; it reports what it removed.

It prunes every run finished before it starts (older_than_days=0), so on the shared stack it takes
earlier tests' logs too: it is marked to run after the others (tests/ordering.py).
"""

from __future__ import annotations

import os
import time

import pytest

from harness.stack import wait_until
from tests.api.test_lifecycle import prefect
from tests.conftest import all_lines, execute, job, wait_for_job


@pytest.mark.prunes_shared
def test_retention_flow_prunes_logs_and_files_and_keeps_the_run(api, stack):
    done = wait_for_job(api, execute(api, "SO")["jobId"])  # the SO sample writes result files
    assert done["status"] == "success" and all_lines(api, done["job_id"]) and job(api, done["job_id"])["results"]
    leftover = stack.data_dir / "runs" / "so-killed-long-ago"
    leftover.mkdir(parents=True)  # what a flow killed outright leaves on its worker, from before any run could still be going
    os.utime(leftover, (time.time() - 10 * 86400, time.time() - 10 * 86400))

    deployment = prefect(stack, "GET", "/deployments/name/optbox-maintenance/retention").json()
    assert deployment["schedules"] and deployment["work_queue_name"] == "maintenance"
    flow_run = prefect(stack, "POST", f"/deployments/{deployment['id']}/create_flow_run",
                       json={"parameters": {"older_than_days": 0}}).json()
    final = wait_until(lambda: (r := prefect(stack, "GET", f"/flow_runs/{flow_run['id']}").json())["state"]["type"]
                       in ("COMPLETED", "FAILED", "CRASHED") and r, 120, "the maintenance run to end")
    assert final["state"]["type"] == "COMPLETED", final["state"]["message"]

    kept = job(api, done["job_id"])
    assert kept["status"] == "success" and kept["model_sha256"] == done["model_sha256"] and kept["objective_value"] == done["objective_value"]
    assert kept["results"] == [] and kept["logs"] == [] and all_lines(api, done["job_id"]) == []
    assert api.get(f"/api/optimization/jobs/{done['job_id']}/logfile", params={"attempt": 1}).status_code == 404
    assert not leftover.exists()
    assert [p for p in (stack.data_dir / "files" / "runs" / done["job_id"]).rglob("*") if p.is_file()] == []

    activity = api.get("/api/optimization/activity").json()["activities"]
    pruned = next(a for a in activity if a["action"] == "prune")
    assert "result files" in pruned["description"] and pruned["actor"] == "maintenance"
    artifacts = prefect(stack, "POST", "/artifacts/filter", json={"artifacts": {"key": {"any_": ["optbox-retention"]}}}).json()
    assert artifacts and "log_rows" in artifacts[0]["data"]
