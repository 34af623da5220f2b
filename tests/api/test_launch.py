"""POST /execute answers before the Prefect flow run exists; the run is created right after.
A run Prefect will not create fails its job with the reason, and nothing is left pending; creations
asked for together go to Prefect in one request."""

from __future__ import annotations

import asyncio
import uuid

from api.context import Facade
from api.orchestrator import Orchestrator
from api.realtime import Realtime
from api.runs import launch_run
from harness.stack import free_port, wait_until
from optbox.protocol import JobStatus
from optbox.settings import Settings
from storage import jobs
from storage.db import Database, migrate
from storage.files import LocalFileStore
from storage.models import JobRun
from tests.conftest import job


async def test_a_run_prefect_cannot_create_fails_its_job_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr("api.runs.LAUNCH_PATIENCE_S", 1)  # an outage is retried this long before the job fails
    url = f"sqlite+aiosqlite:///{tmp_path / 'optbox.db'}"
    await asyncio.to_thread(migrate, url)
    db = Database(url)
    nobody_listens = f"http://127.0.0.1:{free_port()}/api"
    async with Orchestrator(nobody_listens) as orchestrator:
        facade = Facade(settings=Settings(data_dir=tmp_path), db=db, files=LocalFileStore(tmp_path / "files"), realtime=Realtime(),
                        orchestrator=orchestrator, admin_token="a" * 32, worker_token="w" * 32)
        async with db.session() as session:
            session.add(JobRun(job_id="so-launch-test", model_type="SO", status=JobStatus.pending.value, triggered_by="manual", model_config={}))
            await session.commit()
        await launch_run(facade, "so-launch-test")
        async with db.session() as session:
            row = await jobs.get_job(session, "so-launch-test")
    await db.dispose()
    assert row.status == "failed" and row.flow_run_id is None
    assert row.error_message.startswith("could not create the Prefect flow run: ConnectError")


def test_execute_answers_at_once_and_the_job_gets_its_own_flow_run(stack, api):
    response = api.post("/api/optimization/execute", json={"modelType": "SO", "config": {}})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending" and "flowRunId" in body
    flow_run_id = wait_until(lambda: job(api, body["jobId"])["flow_run_id"], 60, "the job's flow run")
    flow_run = api.get(f"{stack.prefect_api_url}/flow_runs/{flow_run_id}").json()
    assert flow_run["parameters"]["job_id"] == body["jobId"]
    ended = wait_until(lambda: (row := job(api, body["jobId"]))["status"] in ("success", "failed", "cancelled") and row, 120, "the run to end")
    assert ended["status"] == "success", ended["error_message"]  # the active SO sample solves
    # the mirror saw the run too, and bound it to the same job rather than adding one
    rows = api.get("/api/optimization/jobs", params={"limit": 500}).json()["jobs"]
    assert [row["job_id"] for row in rows if row["flow_run_id"] == flow_run_id] == [body["jobId"]]


async def test_launches_asked_for_together_go_to_prefect_together_and_each_job_gets_its_own_run(stack, so_queue_paused, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'optbox.db'}"
    await asyncio.to_thread(migrate, url)
    db = Database(url)
    job_ids = [f"so-bulk-{uuid.uuid4().hex[:8]}" for _ in range(20)]
    async with db.session() as session:
        session.add_all(JobRun(job_id=job_id, model_type="SO", status=JobStatus.pending.value, triggered_by="manual", model_config={})
                        for job_id in job_ids)
        session.add(JobRun(job_id="so-bulk-refused", model_type="SO", status=JobStatus.pending.value, triggered_by="manual",
                           model_config=["not", "a", "dict"]))  # the deployment's parameter schema refuses it
        await session.commit()
    async with Orchestrator(stack.prefect_api_url) as orchestrator:
        requests = []
        create_bulk = orchestrator._create_bulk

        async def counted(deployment, creations):
            requests.append(len(creations))
            return await create_bulk(deployment, creations)

        orchestrator._create_bulk = counted
        facade = Facade(settings=Settings(data_dir=tmp_path), db=db, files=LocalFileStore(tmp_path / "files"), realtime=Realtime(),
                        orchestrator=orchestrator, admin_token="a" * 32, worker_token="w" * 32)
        await asyncio.gather(*(launch_run(facade, job_id) for job_id in [*job_ids, "so-bulk-refused"]))
        async with db.session() as session:
            rows = {job_id: await jobs.get_job(session, job_id) for job_id in [*job_ids, "so-bulk-refused"]}
        try:
            refused = rows.pop("so-bulk-refused")
            assert refused.status == "failed" and refused.flow_run_id is None and "RunRefused" in refused.error_message
            assert len({row.flow_run_id for row in rows.values()} - {None}) == len(job_ids)
            for job_id, row in rows.items():
                assert (await orchestrator.client.read_flow_run(uuid.UUID(row.flow_run_id))).parameters["job_id"] == job_id
            assert len(requests) < len(job_ids)  # creations waiting together went in one request (retries included)
        finally:
            for row in rows.values():
                if row.flow_run_id:
                    await orchestrator.cancel(row.flow_run_id)
    await db.dispose()
