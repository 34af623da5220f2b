"""Settings per type and no surprise promotions: scheduled runs start from their type's saved settings,
a mismatch with the active model fails them fast, and candidate uploads change nothing a scheduled run uses
until they are promoted.

Each test makes its own DMO model versions and datasets, and puts back the active model, the active
dataset and the settings it changed (other modules share the stack)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from harness.stack import wait_until
from tests.api.test_lifecycle import deployment_id, job_for_flow_run, prefect
from tests.conftest import all_lines, execute, upload, wait_for_job


def echo_model(pmax_maximum: int) -> bytes:
    """A DMO model that prints the config it got and reports its `horizon` as the objective."""
    return f'''import json, os
CONFIG_SCHEMA = {{
    "type": "object",
    "properties": {{
        "horizon": {{"type": "integer", "minimum": 1}},
        "units": {{"type": "array", "items": {{"type": "object", "properties": {{"pmax": {{"type": "number", "maximum": {pmax_maximum}}}}}}}}},
    }},
}}
config = json.loads(os.environ["CONFIG"])
print("config " + json.dumps(config, sort_keys=True), flush=True)
print("::optbox " + json.dumps({{"progress": 100, "objective_value": config.get("horizon", 0), "results_count": 0}}))
'''.encode()


LENIENT, STRICT = echo_model(1000), echo_model(100)


def upload_model(api, name: str, source: bytes, **form) -> dict:
    if not form:
        response = upload(api, name, source, "DMO")
    else:
        response = api.post("/api/optimization/upload", files={"file": (name, source, "text/x-python")},
                            data={"modelType": "DMO", "description": "test", **form})
    assert response.status_code == 201, response.text
    return response.json()


def upload_dataset(api, name: str, content: bytes, **form) -> dict:
    response = api.post("/api/optimization/datasources", files={"file": (name, content, "text/csv")}, data={"modelType": "DMO", **form})
    assert response.status_code == 201, response.text
    return response.json()["dataSource"]


def settings(api) -> dict:
    response = api.get("/api/optimization/settings/DMO")
    assert response.status_code == 200, response.text
    return response.json()


def save_settings(api, config: dict) -> dict:
    response = api.put("/api/optimization/settings/DMO", json={"config": config})
    assert response.status_code == 200, response.text
    return response.json()


def active_model_id(api) -> int:
    (model,) = api.get("/api/optimization/models", params={"type": "DMO", "status": "active"}).json()["models"]
    return model["id"]


def next_run_uses(api) -> dict:
    (dmo,) = [s for s in api.get("/api/optimization/schedules").json()["schedules"] if s["modelType"] == "DMO"]
    return dmo["nextRunUses"]


@pytest.fixture
def dmo_restored(api):
    """Puts back the DMO active model, active dataset and settings as they were before the test."""
    model_id = active_model_id(api)
    dataset_id = next_run_uses(api)["dataSourceId"]
    config = settings(api)["config"]
    yield
    api.post(f"/api/optimization/models/{model_id}/activate").raise_for_status()
    if dataset_id is not None:
        api.post(f"/api/optimization/datasources/{dataset_id}/activate").raise_for_status()
    save_settings(api, config)


def scheduled_dmo_job(api, stack) -> dict:
    """The job of a DMO run made by Prefect's scheduler (as tests/api/test_lifecycle.py makes one), once it ended."""
    dmo = deployment_id(stack, "dmo")
    # the scheduler (every 2 s in tests) must create the run before its time, or it schedules the next one
    anchor = datetime.now(UTC) + timedelta(seconds=12)
    schedule = prefect(stack, "POST", f"/deployments/{dmo}/schedules",
                       json=[{"schedule": {"interval": 3600, "anchor_date": anchor.isoformat(), "timezone": "UTC"}, "active": True}]).json()[0]
    try:
        def started_run():
            runs = prefect(stack, "POST", "/flow_runs/filter", json={"flow_runs": {
                "deployment_id": {"any_": [dmo]}, "tags": {"all_": ["auto-scheduled"]},
                "expected_start_time": {"after_": (anchor - timedelta(seconds=1)).isoformat()}}, "limit": 5}).json()
            return next((r for r in runs if r["state"]["type"] != "SCHEDULED"), None)

        flow_run = wait_until(started_run, 150, "the scheduler's DMO run to start", interval=1)
    finally:
        prefect(stack, "DELETE", f"/deployments/{dmo}/schedules/{schedule['id']}")
    row = wait_until(lambda: job_for_flow_run(api, flow_run["id"]), 30, "the run to be mirrored")
    row = wait_for_job(api, row["job_id"])
    assert row["triggered_by"] == "scheduled"
    return {**row, "flow_run_id": flow_run["id"]}


def test_a_scheduled_run_gets_its_types_settings_and_a_runs_own_config_overrides_them_by_key(api, stack, dmo_restored):
    model = upload_model(api, "settings_echo.py", LENIENT)["model"]
    saved = save_settings(api, {"horizon": 7, "units": [{"pmax": 500}]})
    assert saved["version"] >= 1 and saved["valid"] is True and saved["activeModel"]["id"] == model["id"]

    row = scheduled_dmo_job(api, stack)
    assert row["status"] == "success" and row["model_id"] == model["id"]
    assert row["model_config"] == {"horizon": 7, "units": [{"pmax": 500}]} and row["settings_version"] == saved["version"]
    assert row["objective_value"] == 7
    assert f"config {json.dumps(row['model_config'], sort_keys=True)}" in [line["message"] for line in all_lines(api, row["job_id"])]

    own = wait_for_job(api, execute(api, "DMO", config={"horizon": 9})["jobId"])
    assert own["model_config"] == {"horizon": 9, "units": [{"pmax": 500}]} and own["settings_version"] == saved["version"]


def test_settings_the_active_model_refuses_are_a_422_naming_the_field_and_nothing_is_saved(api, dmo_restored):
    upload_model(api, "settings_strict.py", STRICT)
    before = settings(api)
    refused = api.put("/api/optimization/settings/DMO", json={"config": {"units": [{"pmax": 500}]}})
    assert refused.status_code == 422
    assert refused.json()["error"].startswith("config.units[0].pmax: 500 is greater than the maximum of 100"), refused.json()
    after = settings(api)
    assert (after["version"], after["config"]) == (before["version"], before["config"])


def test_activating_a_model_the_settings_do_not_fit_shows_it_and_its_scheduled_run_fails_fast(api, stack, dmo_restored):
    upload_model(api, "settings_echo.py", LENIENT)
    saved = save_settings(api, {"units": [{"pmax": 500}]})
    strict = upload_model(api, "settings_strict.py", STRICT, activate="false")["model"]
    activated = api.post(f"/api/optimization/models/{strict['id']}/activate")
    assert activated.status_code == 200 and "config.units[0].pmax" in activated.json()["message"]
    shown = settings(api)
    assert shown["valid"] is False and shown["activeModel"]["id"] == strict["id"]
    assert shown["problems"][0]["path"] == "units/0/pmax" and "maximum of 100" in shown["problems"][0]["message"]
    assert next_run_uses(api)["settingsValid"] is False

    row = scheduled_dmo_job(api, stack)
    assert row["status"] == "failed" and row["attempt"] == 1 and row["settings_version"] == saved["version"]
    assert f"settings (v{saved['version']})" in row["error_message"] and "config.units[0].pmax" in row["error_message"]
    # the deployment retries failed DMO runs twice; this one is not retried
    final = wait_until(lambda: (f := prefect(stack, "GET", f"/flow_runs/{row['flow_run_id']}").json())["state"]["type"] == "FAILED" and f,
                       30, "Prefect to end the run")
    assert final["run_count"] == 1


def test_candidates_change_nothing_the_next_run_uses_until_promoted(api, dmo_restored):
    active = upload_model(api, "settings_echo.py", LENIENT)["model"]
    saved = save_settings(api, {"horizon": 3})
    current = upload_dataset(api, "settings_current.csv", b"block,price\n1,10\n")
    uploaded = upload_model(api, "settings_echo.py", LENIENT, activate="false")
    candidate = uploaded["model"]
    assert uploaded["active"] is False and candidate["status"] == "inactive"
    staged = upload_dataset(api, "settings_staged.csv", b"block,price\n1,20\n", activate="false")
    assert staged["is_active"] is False and current["is_active"] is True

    assert active_model_id(api) == active["id"]
    assert next_run_uses(api) == {"modelId": active["id"], "modelName": "settings_echo", "modelVersion": active["version"],
                                  "dataSourceId": current["id"], "dataSourceName": "settings_current.csv",
                                  "settingsVersion": saved["version"], "settingsValid": True}
    # a candidate runs by id; a run naming no dataset reads the active one
    tried = wait_for_job(api, execute(api, "DMO", modelId=candidate["id"])["jobId"])
    assert (tried["status"], tried["model_id"], tried["data_source_id"]) == ("success", candidate["id"], current["id"])
    assert active_model_id(api) == active["id"]

    assert api.post(f"/api/optimization/models/{candidate['id']}/activate").status_code == 200
    assert api.post(f"/api/optimization/datasources/{staged['id']}/activate").json()["dataSource"]["is_active"] is True
    promoted = next_run_uses(api)
    assert (promoted["modelId"], promoted["modelVersion"], promoted["dataSourceId"]) == (candidate["id"], candidate["version"], staged["id"])
    listed = {d["id"]: d["is_active"] for d in api.get("/api/optimization/datasources", params={"type": "DMO"}).json()["dataSources"]}
    assert listed[staged["id"]] is True and listed[current["id"]] is False
    described = [a["description"] for a in api.get("/api/optimization/activity", params={"limit": 20}).json()["activities"]]
    assert "activated DMO dataset settings_staged.csv" in described
