"""Cancellation ends a run's whole process tree: a model that ignores SIGTERM and a child
it moved into a session of its own, from the API and from Prefect's API (what its UI does)."""

from __future__ import annotations

import pytest

from harness.stack import processes_of, wait_until
from tests.api.test_lifecycle import prefect
from tests.conftest import wait_for_job
from tests.sandbox.helpers import messages, run_hostile

pytestmark = pytest.mark.usefixtures("keep_active_models")


def _start_stubborn_model(api) -> dict:
    started = run_hostile(api, "sigterm_detached", limits={"timeoutS": 300}, wait=False)
    wait_until(lambda: any(m.startswith("tick 3") for m in messages(api, started["jobId"])), 120, "the model to tick")
    assert len(processes_of(started["jobId"])) >= 2  # the model and its detached child
    return started


def _assert_tree_gone_and_cancelled(api, stack, started: dict) -> None:
    # generous functional bound; how fast it goes is measured by `make bench`
    wait_until(lambda: not processes_of(started["jobId"]), 15, "every process of the run to be gone")
    row = wait_for_job(api, started["jobId"], timeout=60)
    assert row["status"] == "cancelled"
    wait_until(lambda: prefect(stack, "GET", f"/flow_runs/{started['flowRunId']}").json()["state"]["type"] == "CANCELLED", 30, "Prefect's Cancelled")


def test_cancel_from_the_api_kills_a_sigterm_ignorer_and_its_detached_child(api, stack):
    started = _start_stubborn_model(api)
    response = api.post(f"/api/optimization/jobs/{started['jobId']}/cancel")
    assert response.status_code == 200
    _assert_tree_gone_and_cancelled(api, stack, started)


def test_cancel_through_the_prefect_api_kills_the_whole_tree(api, stack):
    started = _start_stubborn_model(api)
    prefect(stack, "POST", f"/flow_runs/{started['flowRunId']}/set_state",
            json={"state": {"type": "CANCELLING", "message": "from the Prefect UI"}, "force": True})
    _assert_tree_gone_and_cancelled(api, stack, started)
