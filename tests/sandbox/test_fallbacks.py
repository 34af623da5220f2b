"""A host without bubblewrap and without cgroups: what the README promises for that case holds.

One stack for the module with both mechanisms withheld (OPTBOX_RUN_SANDBOX_WITHOUT=bwrap,cgroups),
which runs models as a host lacking them would: RLIMIT_AS stands in for the memory cgroup,
RLIMIT_NPROC for the pids cgroup (not as root, which it does not bind), and a subreaper for the PID
namespace and cgroup.kill. Runs use short per-run limits; the hostile models are the shared corpus.
The stack also runs with OPTBOX_UPLOAD_ACTIVATES=false (its runs name their model by id), to show that default.
"""

from __future__ import annotations

import os

import pytest

from harness.stack import Stack, processes_of, wait_until
from tests.conftest import admin_client, job, running_stack, sample, upload, wait_for_job
from tests.sandbox.helpers import DOCUMENTED_ENV, messages, run_hostile

WITHHELD = "withheld by OPTBOX_RUN_SANDBOX_WITHOUT"


@pytest.fixture(scope="module")
def bare(tmp_path_factory, request) -> Stack:
    env = {"OPTBOX_RUN_SANDBOX_WITHOUT": "bwrap,cgroups", "OPTBOX_UPLOAD_ACTIVATES": "false"}
    yield from running_stack(Stack(tmp_path_factory.mktemp("optbox-bare"), extra_env=env), request)


@pytest.fixture(scope="module")
def bare_api(bare: Stack):
    with admin_client(bare) as client:
        yield client


def _run_gone(job_id: str) -> None:
    wait_until(lambda: not processes_of(job_id), 10, "every process of the run to be gone")


def test_health_reports_each_withheld_protection_and_the_worker_warns_at_start(bare, bare_api):
    sandbox = bare_api.get("/api/health").json()["sandbox"]
    assert not (sandbox["bubblewrap"] or sandbox["filesystem_isolation"] or sandbox["network_isolation"] or sandbox["pid_namespace"])
    assert sandbox["memory_limit"] == "rlimit (address space)" and sandbox["tree_kill"] == "subreaper"
    assert sandbox["process_limit"] == (None if os.geteuid() == 0 else "rlimit (processes of the worker's user)")
    assert len(sandbox["missing"]) == 3 and all(WITHHELD in gap for gap in sandbox["missing"])
    for gap in sandbox["missing"]:
        wait_until(lambda gap=gap: f"WARNING: sandbox degraded: {gap}" in bare.logs("worker"), 10, "the worker's warning")


def test_busy_loop_is_still_killed_at_its_timeout(bare_api):
    row = run_hostile(bare_api, "busy_loop", limits={"timeoutS": 2})
    assert row["status"] == "failed" and row["error_message"] == "timed out after 2 s"
    assert row["peak_memory_mb"] > 1 and row["cpu_seconds"] > 0  # no cgroup counts here: psutil samples the tree
    _run_gone(row["job_id"])


def test_cancel_still_ends_a_sigterm_ignorer_and_the_child_it_moved_into_its_own_session(bare_api):
    started = run_hostile(bare_api, "sigterm_detached", limits={"timeoutS": 120}, wait=False)
    wait_until(lambda: any(m.startswith("tick 3") for m in messages(bare_api, started["jobId"])), 60, "the model to tick")
    assert len(processes_of(started["jobId"])) >= 2  # the model and its detached child (and the reaper)
    assert bare_api.post(f"/api/optimization/jobs/{started['jobId']}/cancel").status_code == 200
    _run_gone(started["jobId"])
    assert wait_for_job(bare_api, started["jobId"], timeout=60)["status"] == "cancelled"


def test_memory_hog_is_stopped_by_the_address_space_limit(bare_api):
    row = run_hostile(bare_api, "memory_hog", limits={"memoryMb": 100})
    assert row["status"] == "failed" and "out of memory (limit 100 MB)" in row["error_message"]
    held = [int(m.split()[1]) for m in messages(bare_api, row["job_id"], "stdout") if m.startswith("holding")]
    assert held and max(held) <= 100


def test_what_a_fork_storm_leaves_behind_ends_with_its_model(bare_api):
    # capped by its config: as root nothing counts its processes here (RLIMIT_NPROC does not bind root)
    row = run_hostile(bare_api, "fork_storm", config={"max": 40}, limits={"maxProcs": 32})
    assert row["status"] == "failed" and row["exit_code"] == 3
    if os.geteuid() == 0:
        assert row["metrics"]["forked"] == 40
    _run_gone(row["job_id"])


def test_without_bubblewrap_the_model_sees_what_the_worker_user_sees_but_none_of_its_settings(bare, bare_api):
    paths = {"data_dir": str(bare.data_dir), "database": str(bare.data_dir / "optbox.db")}
    row = run_hostile(bare_api, "snoop", config={"paths": paths})
    assert row["status"] == "success", row["error_message"]
    report = row["metrics"]
    assert set(report["env"]) <= DOCUMENTED_ENV  # no OPTBOX_*, no database URL, no PREFECT_* key
    assert report["uid"] == os.geteuid()
    # the README's degraded mode, said honestly: the worker user's files are readable, the database included
    assert report["seen"]["data_dir"] and report["seen"]["database"]
    assert {r["name"] for r in job(bare_api, row["job_id"])["results"]} == {"written.txt"}  # the planted symlink was not followed


def test_with_upload_activates_false_an_upload_changes_no_next_run_until_promoted(bare_api):
    def next_so_model() -> int:
        return next(s for s in bare_api.get("/api/optimization/schedules").json()["schedules"] if s["modelType"] == "SO")["nextRunUses"]["modelId"]

    before = next_so_model()
    uploaded = upload(bare_api, "so_candidate.py", sample("so_battery.py"), "SO").json()
    assert uploaded["active"] is False and next_so_model() == before
    assert bare_api.post(f"/api/optimization/models/{uploaded['model']['id']}/activate").status_code == 200
    assert next_so_model() == uploaded["model"]["id"]
    bare_api.post(f"/api/optimization/models/{before}/activate").raise_for_status()


@pytest.mark.ends_module  # its worker stays the one that requires the sandbox
def test_with_the_sandbox_required_a_worker_lacking_it_fails_runs_saying_what_is_missing(bare, bare_api):
    """Last in the module: its worker is replaced by one started with OPTBOX_RUN_SANDBOX=required."""
    bare.stop_role("worker")
    bare.start_role("worker-required", "worker", env={"OPTBOX_RUN_SANDBOX": "required"})
    row = run_hostile(bare_api, "long_line")
    assert row["status"] == "failed"
    assert "sandbox required but unavailable" in row["error_message"] and "bubblewrap" in row["error_message"], row["error_message"]
    assert not any(m == "after the long line" for m in messages(bare_api, row["job_id"], "stdout"))  # the model never ran
