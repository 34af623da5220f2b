"""Schedules on the API: what Prefect's scheduler has is what the page shows and changes.

The session stack deploys every schedule paused (OPTBOX_SCHEDULES_ACTIVE=false); each test puts
back what it changed, since other modules share the stack.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import httpx
import pytest

from harness.stack import PROJECT_DIR
from tests.api.test_lifecycle import deployment_id, prefect

PRESET = {"DMO": "0 10 * * *", "RMO": "*/30 * * * *", "SO": "*/15 * * * *"}
FAR_OFF = "0 0 1 1 *"  # a resumed schedule's runs must not start while other modules use the stack


def prefect_schedule(stack, name: str) -> dict:
    """The deployment's schedule as Prefect's own API has it."""
    (schedule,) = [s for s in prefect(stack, "GET", f"/deployments/{deployment_id(stack, name)}/schedules").json() if "cron" in s["schedule"]]
    return schedule


def schedules(api) -> dict[str, dict]:
    response = api.get("/api/optimization/schedules")
    assert response.status_code == 200, response.text
    return {schedule["modelType"]: schedule for schedule in response.json()["schedules"]}


@pytest.fixture(scope="module")
def role_keys(api) -> dict[str, dict[str, str]]:
    keys = {}
    for role in ("viewer", "operator"):
        key = api.post("/api/auth/keys", json={"name": f"schedules-{role}", "role": role}).json()["key"]
        keys[role] = {"Authorization": f"Bearer {key}"}
    return keys


@pytest.fixture
def restored(api):
    """Puts every type's schedule back to the stack's (paused, prefect.yaml's cron) after the test."""
    yield
    for model_type, cron in PRESET.items():
        api.patch(f"/api/optimization/schedules/{model_type}", json={"active": False, "cron": cron}).raise_for_status()


def test_lists_each_type_with_cron_timezone_state_and_next_three_runs(api, stack):
    listed = schedules(api)
    assert set(listed) == {"DMO", "RMO", "SO"}
    for model_type, schedule in listed.items():
        assert schedule["cron"] == PRESET[model_type]
        assert schedule["active"] is False  # what OPTBOX_SCHEDULES_ACTIVE=false deploys
        assert schedule["active"] == prefect_schedule(stack, model_type.lower())["active"]
        runs = schedule["nextRuns"]
        assert len(runs) == 3
        utc = [datetime.fromisoformat(run["utc"]) for run in runs]
        assert utc == sorted(utc) and all(t.utcoffset().total_seconds() == 0 for t in utc)
        assert [datetime.fromisoformat(run["local"]) for run in runs] == utc  # the same instants, in the schedule's zone
    dmo = [datetime.fromisoformat(run["local"]) for run in listed["DMO"]["nextRuns"]]
    assert all((t.hour, t.minute) == (10, 0) for t in dmo)


def test_resuming_and_pausing_from_the_api_changes_prefects_schedule_and_is_audited(api, stack, role_keys, restored):
    api.patch("/api/optimization/schedules/SO", json={"cron": FAR_OFF}).raise_for_status()
    operator = role_keys["operator"]
    resumed = httpx.patch(f"{stack.api_url}/api/optimization/schedules/so", json={"active": True}, headers=operator, timeout=30)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["active"] is True
    assert prefect_schedule(stack, "so")["active"] is True
    assert schedules(api)["SO"]["active"] is True

    paused = httpx.patch(f"{stack.api_url}/api/optimization/schedules/SO", json={"active": False}, headers=operator, timeout=30)
    assert paused.status_code == 200, paused.text
    assert prefect_schedule(stack, "so")["active"] is False
    assert prefect_schedule(stack, "so")["schedule"]["cron"] == FAR_OFF  # a pause leaves the cron alone
    activity = api.get("/api/optimization/activity").json()["activities"]
    audited = [a for a in activity if a["action"] == "schedule" and a["entity_id"] == "SO" and a["actor"] == "schedules-operator"]
    assert [a["description"] for a in audited[:2]] == ["SO schedule: paused", "SO schedule: resumed"]


def test_a_cron_change_shows_in_next_runs_and_in_prefect(api, stack, restored):
    changed = api.patch("/api/optimization/schedules/DMO", json={"cron": "15 6 * * 1"})
    assert changed.status_code == 200, changed.text
    assert prefect_schedule(stack, "dmo")["schedule"]["cron"] == "15 6 * * 1"
    dmo = schedules(api)["DMO"]
    assert dmo["cron"] == "15 6 * * 1"
    local = [datetime.fromisoformat(run["local"]) for run in dmo["nextRuns"]]
    assert all((t.weekday(), t.hour, t.minute) == (0, 6, 15) for t in local)
    assert dmo["active"] is False  # a new cron does not resume a paused schedule


@pytest.mark.parametrize("cron", ["61 * * * *", "every day", "H 10 * * *", ""])
def test_refuses_a_bad_cron_with_422_naming_it_and_changes_nothing(api, stack, cron):
    before = prefect_schedule(stack, "rmo")
    refused = api.patch("/api/optimization/schedules/RMO", json={"cron": cron, "active": True})
    assert refused.status_code == 422, refused.text
    assert repr(cron) in refused.json()["error"]
    assert prefect_schedule(stack, "rmo") == before


def test_viewer_may_not_patch_and_operator_may_not_change_the_cron(api, stack, role_keys):
    before = prefect_schedule(stack, "dmo")
    url = f"{stack.api_url}/api/optimization/schedules/DMO"
    viewer = httpx.patch(url, json={"active": True}, headers=role_keys["viewer"], timeout=30)
    assert viewer.status_code == 403
    operator = httpx.patch(url, json={"cron": "0 11 * * *"}, headers=role_keys["operator"], timeout=30)
    assert operator.status_code == 403 and "admin" in operator.json()["error"]
    assert prefect_schedule(stack, "dmo") == before
    assert api.patch("/api/optimization/schedules/XMO", json={"active": True}).status_code == 400


def test_deploying_again_keeps_a_pause_and_a_cron_set_through_the_api(api, stack, restored):
    api.patch("/api/optimization/schedules/RMO", json={"active": True, "cron": FAR_OFF}).raise_for_status()
    subprocess.run([sys.executable, "-m", "cli", "deploy"], cwd=PROJECT_DIR, env=stack.env(), check=True, capture_output=True, timeout=300)
    again = prefect_schedule(stack, "rmo")
    assert (again["schedule"]["cron"], again["active"]) == (FAR_OFF, True)
    assert prefect_schedule(stack, "so")["active"] is False  # and the paused ones stay paused
