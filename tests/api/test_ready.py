"""Ready means runnable: health says `ready` only once a run of every type can start, and a run asked for
before that is accepted and starts when it can. The session's stack is started step by step: its API
answers before its worker is started, and the fixture looks into that window (tests/conftest.py)."""

from __future__ import annotations

from optbox.protocol import ModelType, deployment_path
from tests.conftest import wait_for_job


def test_health_is_up_but_not_ready_before_a_worker_has_applied_and_polled_the_deployments(stack, start_up):
    assert start_up.health["status"] == "ok" and start_up.health["prefect"] is True
    assert start_up.health["ready"] is False
    waiting = " ".join(start_up.health["waiting_for"])
    assert all(deployment_path(model_type) in waiting for model_type in ModelType), waiting


def test_a_run_asked_for_before_ready_is_accepted_and_succeeds_once_the_worker_is_up(stack, api, start_up):
    assert start_up.execute is not None and start_up.execute.status_code == 202, start_up.execute.text
    finished = wait_for_job(api, start_up.execute.json()["jobId"], timeout=240)
    assert finished["status"] == "success" and finished["flow_run_id"], finished


def test_health_is_ready_with_nothing_to_wait_for_once_the_worker_polls(api):
    health = api.get("/api/health").json()
    assert health["ready"] is True and health["waiting_for"] == []


def test_models_run_under_the_bundled_bwrap_when_the_system_one_is_withheld(api):
    sandbox = api.get("/api/health").json()["sandbox"]
    assert sandbox["bubblewrap"] and sandbox["bwrap_source"] == "bundled" and sandbox["missing"] == []
    assert all(sandbox[key] for key in ("filesystem_isolation", "network_isolation", "pid_namespace", "unprivileged_user"))
