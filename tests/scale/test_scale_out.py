"""Scale-out on PostgreSQL + Redis: two API replicas, two workers (one in another directory),
and the faults a cluster meets — a worker lost, a replica lost, PostgreSQL restarted.

Which worker takes a run is Prefect's choice; a test that needs one freezes the other
(SIGSTOP) for its duration. worker-1 ships lines to replica A, worker-2 to replica B.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import signal
import subprocess
import time

import httpx
import pytest

from harness.scale_out import ScaleOut
from harness.stack import PROJECT_DIR, processes_of, wait_until
from tests.conftest import EventRecorder, all_lines, execute, upload, wait_for_job
from tests.parallel import postgres_alone

pytestmark = pytest.mark.restarts_shared  # restarts the machine's PostgreSQL

MODELS = PROJECT_DIR / "tests" / "models"
LOG = "optimization:log"


def upload_model(client: httpx.Client, name: str, model_type: str) -> dict:
    response = upload(client, name, (MODELS / name).read_bytes(), model_type)
    assert response.status_code == 201, response.text
    return response.json()["model"]


def lines_after(client: httpx.Client, job_id: str, after_seq: int) -> list[dict]:
    page = client.get(f"/api/optimization/jobs/{job_id}/logs", params={"after_seq": after_seq, "limit": 5000}).json()
    assert not page["hasMore"]
    return page["logs"]


async def finished(client: httpx.Client, job_id: str, timeout: float = 120) -> dict:
    """Wait off the event loop, so Socket.IO clients keep receiving meanwhile."""
    return await asyncio.to_thread(wait_for_job, client, job_id, timeout=timeout)


def seqs(lines: list[dict]) -> list[int]:
    return [line["seq"] for line in lines]


def ran_on(scale: ScaleOut, worker: str, flow_run_id: str) -> bool:
    return flow_run_id in scale.stack.logs(worker)


async def test_a_client_on_replica_b_gets_every_event_of_a_run_started_through_replica_a(scale: ScaleOut):
    scale.pause("worker-2")  # worker-1 ships to A: nothing of this run reaches B but through Redis
    try:
        with scale.client(scale.api_a) as a, scale.client(scale.api_b) as b:
            model = upload_model(a, "printer.py", "SO")
            async with EventRecorder(scale.api_b) as on_b:
                started = execute(a, "SO", modelId=model["id"], config={"lines": 300})
                job_id = started["jobId"]
                row = await finished(b, job_id)
                assert row["status"] == "success" and row["results_count"] == 300
                stored = all_lines(b, job_id)
                await on_b.wait_for(lambda: len(on_b.of(LOG, job_id)) >= len(stored) and on_b.of("optimization:completed", job_id),
                                    20, "replica B's client to get the whole run")
            assert seqs(on_b.of(LOG, job_id)) == seqs(stored) == list(range(1, len(stored) + 1))
            assert [e["message"] for e in on_b.of(LOG, job_id)] == [line["message"] for line in stored]
            assert on_b.of("optimization:started", job_id)
            assert on_b.of("optimization:completed", job_id)[-1]["resultsCount"] == 300
        assert ran_on(scale, "worker-1", started["flowRunId"])
        assert await scale.prefect_db_has_flow_run(started["flowRunId"])  # Prefect's server keeps its state in PostgreSQL
    finally:
        scale.resume("worker-2")


async def test_a_worker_in_another_directory_runs_models_and_every_replica_serves_its_results(scale: ScaleOut):
    scale.pause("worker-1")
    try:
        with scale.client(scale.api_a) as a, scale.client(scale.api_b) as b:
            model = upload_model(b, "printer.py", "RMO")
            started = execute(a, "RMO", modelId=model["id"], config={"lines": 50})
            row = await finished(a, started["jobId"])
            assert row["status"] == "success" and row["objective_value"] == 50
            assert ran_on(scale, "worker-2", started["flowRunId"])
            for replica in (a, b):  # the worker reached B only; both serve the log file from the database
                logfile = replica.get(f"/api/optimization/jobs/{started['jobId']}/logfile", params={"attempt": 1})
                assert logfile.status_code == 200 and "line 50 of 50" in logfile.text
                assert [line["message"] for line in all_lines(replica, started["jobId"]) if line["stream"] == "stdout"][:2] == [
                    "line 1 of 50", "line 2 of 50"]
            battery = upload(b, "so_battery.py", (PROJECT_DIR / "samples" / "so_battery.py").read_bytes(), "SO")
            assert battery.status_code == 201, battery.text
            so = execute(b, "SO", modelId=battery.json()["model"]["id"])
            assert (await finished(b, so["jobId"]))["status"] == "success"
            [result] = a.get(f"/api/optimization/jobs/{so['jobId']}/results").json()
            content = a.get(f"/api/optimization/jobs/{so['jobId']}/results/{result['name']}").content
            assert hashlib.sha256(content).hexdigest() == result["sha256"] and len(content) == result["size"] > 0
        data = scale.stack.data_dir.parent
        assert not (data / "api-a" / "files").exists() and not (data / "api-b" / "files").exists()
        assert (data / "worker-2" / "prefect").is_dir()  # the worker's own home, not the replicas'
    finally:
        scale.resume("worker-1")


async def test_a_client_of_a_killed_replica_reconnects_to_another_and_replays_what_it_missed(scale: ScaleOut):
    scale.pause("worker-2")  # its lines go to B, which this test kills
    try:
        with scale.client(scale.api_a) as a:
            model = upload_model(a, "printer.py", "DMO")
            received: dict[int, str] = {}
            async with EventRecorder(scale.api_b) as on_b:
                on_b.client.reconnection = False
                started = execute(a, "DMO", modelId=model["id"], config={"lines": 300, "delay": 0.02})
                job_id = started["jobId"]
                await on_b.wait_for(lambda: len(on_b.of(LOG, job_id)) > 20, 120, "lines on replica B")
                scale.stack.stop_role("api-b", signal.SIGKILL)
                await on_b.wait_for(lambda: not on_b.client.connected, 30, "the client to notice")
                received |= {e["seq"]: e["message"] for e in on_b.of(LOG, job_id)}
            async with EventRecorder(scale.api_a) as on_a:  # the load balancer's next pick
                for line in lines_after(a, job_id, max(received)):  # connect first, then replay: no hole between
                    received[line["seq"]] = line["message"]
                row = await finished(a, job_id)
                assert row["status"] == "success"
                await on_a.wait_for(lambda: on_a.of("optimization:completed", job_id), 20, "the end on replica A")
                received |= {e["seq"]: e["message"] for e in on_a.of(LOG, job_id)}
            stored = all_lines(a, job_id)
            assert sorted(received) == seqs(stored) == list(range(1, len(stored) + 1))
            assert [received[seq] for seq in sorted(received)] == [line["message"] for line in stored]
    finally:
        scale.resume("worker-2")
        scale.start_api_b()


def restart_postgres() -> None:
    """Restart the machine's PostgreSQL (Debian's pg_ctlcluster, else the service script)."""
    if shutil.which("pg_lsclusters"):
        for row in subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout.splitlines():
            version, cluster, port = row.split()[:3]
            if port == "5432":
                subprocess.run(["pg_ctlcluster", version, cluster, "restart"], check=True, timeout=60)
                return
    subprocess.run(["service", "postgresql", "restart"], check=True, timeout=60)


def restart_postgres_alone() -> None:
    with postgres_alone():  # no storage test of the other worker is using it meanwhile
        restart_postgres()


async def test_postgres_restarted_mid_run_loses_no_line(scale: ScaleOut):
    with scale.client(scale.api_a) as a, scale.client(scale.api_b) as b:
        model = upload_model(a, "printer.py", "SO")
        async with EventRecorder(scale.api_b) as on_b:
            started = execute(a, "SO", modelId=model["id"], config={"lines": 400, "delay": 0.02})
            job_id = started["jobId"]
            await on_b.wait_for(lambda: len(on_b.of(LOG, job_id)) > 20, 120, "lines to flow")
            await asyncio.to_thread(restart_postgres_alone)
            row = await finished(b, job_id, timeout=180)
            assert row["status"] == "success" and row["objective_value"] == 400
            stored = all_lines(b, job_id)
            await on_b.wait_for(lambda: len(on_b.of(LOG, job_id)) >= len(stored), 20, "every line on the client")
        assert seqs(stored) == list(range(1, len(stored) + 1))
        printed = [line["message"] for line in stored if line["message"].startswith("line ")]
        assert printed == [f"line {i} of 400" for i in range(1, 401)]
        assert sorted(set(seqs(on_b.of(LOG, job_id)))) == seqs(stored)


@pytest.mark.ends_module  # worker-2 stays gone
async def test_a_killed_worker_s_run_is_marked_failed_and_the_other_worker_goes_on(scale: ScaleOut):
    with scale.client(scale.api_a) as a:
        model = upload_model(a, "endless.py", "SO")
        scale.pause("worker-1")
        try:
            started = execute(a, "SO", modelId=model["id"])
            job_id = started["jobId"]
            await asyncio.to_thread(wait_until, lambda: a.get(f"/api/optimization/jobs/{job_id}").json()["job"]["last_seq"] > 5,
                                    120, "the model to tick")
            assert processes_of(job_id)
            scale.stack.kill_role_tree("worker-2")  # the machine is gone: worker, flow run and model
            lost_at = time.monotonic()
        finally:
            scale.resume("worker-1")
        wait_until(lambda: not processes_of(job_id), 10, "the model to die with its machine")
        row = await finished(a, job_id, timeout=120)
        detected_after = time.monotonic() - lost_at
        print(f"lost worker's run marked {row['status']} {detected_after:.1f} s after the kill")
        assert row["status"] == "failed" and "heartbeat" in row["error_message"]
        assert row["prefect_state"] == "Crashed"

        printer = upload_model(a, "printer.py", "SO")
        after = execute(a, "SO", modelId=printer["id"], config={"lines": 10})
        assert (await finished(a, after["jobId"]))["status"] == "success"
        assert ran_on(scale, "worker-1", after["flowRunId"])
