"""Hostile models: each is contained and reported while the server stays healthy.

They run on the session's stack with small per-run limits (the execute body's `limits`).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from harness.stack import PROJECT_DIR, processes_of, wait_until
from tests.conftest import all_lines, job
from tests.sandbox.helpers import DOCUMENTED_ENV, SMALL, messages, run_hostile

pytestmark = pytest.mark.usefixtures("keep_active_models")


@pytest.fixture(scope="module")
def protections(api) -> dict:
    sandbox = api.get("/api/health").json()["sandbox"]
    if not sandbox["bubblewrap"] or not sandbox["memory_limit"].startswith("cgroup") or not sandbox["process_limit"]:
        pytest.fail(f"this host lacks a sandbox mechanism the suite relies on: {sandbox['missing']}")
    return sandbox


def test_health_reports_the_active_protections(api, protections):
    assert protections["network_isolation"] and protections["filesystem_isolation"] and protections["pid_namespace"]
    assert protections["unprivileged_user"] and protections["missing"] == []


def test_busy_loop_is_killed_at_its_timeout_and_says_so(api, protections):
    row = run_hostile(api, "busy_loop", limits={"timeoutS": 2})
    assert row["status"] == "failed" and row["error_message"] == "timed out after 2 s"
    assert row["limits"]["timeout_s"] == 2 and not processes_of(row["job_id"])


def test_memory_hog_fails_with_a_memory_message(api, protections):
    row = run_hostile(api, "memory_hog", limits={"memoryMb": 100})
    assert row["status"] == "failed"
    assert "memory limit of 100 MB" in row["error_message"]
    held = [int(m.split()[1]) for m in messages(api, row["job_id"], "stdout") if m.startswith("holding")]
    assert held and max(held) <= 100


def test_fork_storm_stops_at_the_process_limit_even_as_root(api, protections):
    row = run_hostile(api, "fork_storm", limits={"maxProcs": 32})
    assert row["status"] == "failed" and row["exit_code"] == 3
    assert 0 < row["metrics"]["forked"] < 32
    assert "limit of 32 processes" in row["error_message"]
    wait_until(lambda: not processes_of(row["job_id"]), 10, "the storm's children to be gone")


def test_network_is_closed_loopback_included(api, stack, protections):
    ports = [stack.api_port, stack.prefect_port]
    row = run_hostile(api, "network_probe", config={"ports": ports})
    assert row["status"] == "success"
    assert row["metrics"]["reached"] == [] and row["metrics"]["refused"] == len(ports) + 3


def test_network_cannot_be_asked_above_the_server(api, protections):
    refused = api.post("/api/optimization/execute", json={"modelType": "SO", "limits": {"network": True}})
    assert refused.status_code == 422 and "limits.network" in refused.json()["error"]


def test_snoop_sees_only_its_own_files_and_the_documented_environment(api, stack, protections):
    paths = {"data_dir": str(stack.data_dir), "database": str(stack.data_dir / "optbox.db"), "project": str(PROJECT_DIR), "pytest_tmp": str(stack.data_dir.parent),
             "code": __file__, "runs": str(stack.data_dir / "runs"), "proc_environ_1": "/proc/1/environ", "shadow": "/etc/shadow"}
    row = run_hostile(api, "snoop", config={"paths": paths})
    assert row["status"] == "success", row["error_message"]
    report = row["metrics"]
    assert set(report["env"]) <= DOCUMENTED_ENV
    # PID 1 of the model's namespace is the sandbox's own: unreadable, or holding only the model's environment
    assert isinstance(report["pid1_env"], str) or set(report["pid1_env"]) <= DOCUMENTED_ENV, report["pid1_env"]
    assert report["uid"] == 65534
    for label in ("data_dir", "database", "pytest_tmp", "code", "runs", "shadow"):
        assert report["seen"][label] is None, f"{label} visible: {report['seen'][label]}"
    assert report["seen"]["project"] in (None, [".venv"])  # the interpreter's packages are mounted, the code is not
    assert report["writable"] == [report["writable"][-1]] and report["writable"][-1].endswith("written.txt")
    assert report["data_readable"]  # its own input dataset it does see
    results = {r["name"] for r in job(api, row["job_id"])["results"]}
    assert results == {"written.txt"}  # the planted symlink to a host file was not followed
    assert any("planted-link is not a regular file" in m for m in messages(api, row["job_id"], "system"))


def test_output_flood_is_capped_with_one_notice_and_health_stays_up(api, stack, protections):
    started = run_hostile(api, "output_flood", limits={"maxLogMb": 1}, config={"mb": 200}, wait=False)
    health = ThreadPoolExecutor(1).submit(poll_health_until_the_run_ends, api, stack.api_url, started["jobId"])
    answers = health.result(timeout=240)  # whatever the poller raised (a failed or hung health) is raised here
    row = job(api, started["jobId"])
    assert row["status"] == "success" and row["objective_value"] == 200  # the report after the cap still counts
    notices = [m for m in messages(api, started["jobId"], "system") if "log cap" in m]
    assert len(notices) == 1 and "1 MB" in notices[0]
    stored = all_lines(api, started["jobId"])
    assert sum(len(line["message"]) for line in stored if line["stream"] == "stdout") <= 1024 * 1024
    assert any("lines over the cap were not stored" in line["message"] for line in stored)
    assert len(answers) >= 2 and all(answers)  # health answered, with its database up, all through the flood (latency: `make bench`)


def poll_health_until_the_run_ends(api, api_url: str, job_id: str) -> list[bool]:
    """Whether each health answer said the database was up, every 0.2 s until the run ends; raises what health did."""
    answers = []
    while True:
        done = job(api, job_id)["status"] in ("success", "failed", "cancelled")
        answers.append(httpx.get(f"{api_url}/api/health", timeout=10).json()["database"] is True)
        if done:
            return answers
        time.sleep(0.2)


def test_a_10_mb_line_is_cut_with_a_marker(api, protections):
    row = run_hostile(api, "long_line")
    assert row["status"] == "success"
    out = messages(api, row["job_id"], "stdout")
    assert len(out) == 2 and out[0].endswith("…[line cut at 1048576 bytes]") and out[0].startswith("y" * 1000)
    assert out[1] == "after the long line"


def test_binary_garbage_is_stored_decoded(api, protections):
    row = run_hostile(api, "binary_garbage")
    assert row["status"] == "success"
    out = messages(api, row["job_id"], "stdout")
    assert out[-1] == "still here" and any("\ufffd" in m for m in out)


def test_limits_above_the_server_are_refused_and_nothing_starts(api, protections):
    before = api.get("/api/optimization/jobs", params={"limit": 1}).json()["total"]
    for limits in ({"timeoutS": 10**7}, {"memoryMb": 10**7}, {"maxProcs": 10**6}, {"maxLogMb": 10**6}, {"timeoutS": 0}, {"cpu": 1}):
        response = api.post("/api/optimization/execute", json={"modelType": "SO", "limits": limits})
        assert response.status_code == 422, (limits, response.text)
    assert api.get("/api/optimization/jobs", params={"limit": 1}).json()["total"] == before


def test_a_run_records_what_it_ran(api, protections):
    row = run_hostile(api, "long_line", limits={"timeoutS": 30})
    assert row["model_version"] >= 1 and len(row["model_sha256"]) == 64 and len(row["data_source_sha256"]) == 64
    assert row["limits"] == {"timeout_s": 30, "memory_mb": SMALL["memoryMb"], "max_procs": SMALL["maxProcs"],
                             "max_log_mb": SMALL["maxLogMb"], "network": False}
    assert row["model_config"] == {}


def test_a_killed_flow_leaves_no_model_process(api, protections):
    """bwrap's --die-with-parent: the flow-run process SIGKILLed outright (no cleanup of its own runs), the
    sandbox and every process of the model go with it."""
    started = run_hostile(api, "sigterm_detached", wait=False)
    job_id = started["jobId"]
    models = wait_until(lambda: processes_of(job_id), 60, "the model to start")
    outermost_bwrap = [parent for parent in psutil.Process(models[0]).parents() if parent.name() == "bwrap"][-1]
    flow = outermost_bwrap.parent()  # the launcher execs into bwrap, so bwrap's parent is the flow run
    assert "python" in flow.name() or "python" in flow.cmdline()[0], flow.cmdline()
    flow.kill()
    wait_until(lambda: not processes_of(job_id), 30, "every process of the model to be gone")
