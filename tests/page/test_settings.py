"""Forms drawn from a model's CONFIG_SCHEMA: the run options of the DMO sample (a value below its minimum is
shown at the field and starts no run), the per-type settings form whose saved config the next run uses, and
the Schedules tab's line naming what the next scheduled run uses, and a dataset that changes it only once made active."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.conftest import SAMPLES
from tests.page.conftest import ARTIFACTS
from tests.page.test_runs import wait_for_value

UNIT = {"name": "page_unit", "p_min": 10.0, "p_max": 90.0, "cost": 3000.0, "ramp": 30.0}


def upload_dmo_sample(api, name: str) -> dict:
    """The DMO sample as a new active DMO model (keep_active_models puts the previous one back)."""
    response = api.post("/api/optimization/upload", files={"file": (name, (SAMPLES / "dmo_day_ahead.py").read_bytes(), "text/x-python")},
                        data={"modelType": "DMO", "description": "page test", "activate": "true"})
    assert response.status_code == 201, response.text
    return response.json()["model"]


def jobs_of(api, model_id: int) -> list[dict]:
    return api.get("/api/optimization/jobs", params={"modelId": model_id, "limit": 50}).json()["jobs"]


def stop(api, job_id: str) -> None:
    """What the run was started with is recorded at its start; solving the LP adds nothing to check here."""
    assert api.post(f"/api/optimization/jobs/{job_id}/cancel").status_code in (200, 409)


async def fill_unit(form, row: int, unit: dict) -> None:
    for field, value in unit.items():
        await form.locator(f"#run-DMO_units_{row}_{field}").fill(str(value))


async def test_the_run_form_comes_from_the_schema_and_a_value_below_minimum_starts_no_run(signed_in, api, keep_active_models):
    model = upload_dmo_sample(api, "page_form_dmo.py")
    page = signed_in.page
    await page.reload()
    await expect(signed_in.control("DMO")).to_contain_text(f"page_form_dmo v{model['version']}")
    await page.get_by_text("Run options").click()
    form = page.locator(".run-options .schema-form")
    await expect(form.get_by_text("units", exact=True).first).to_be_visible()  # the schema's one property
    await form.get_by_role("button", name="Add").click()
    await fill_unit(form, 0, {**UNIT, "p_min": -1})
    await expect(form.get_by_text("must be >= 0")).to_be_visible()
    run = page.get_by_role("button", name="Run DMO")
    await expect(run).to_be_disabled()
    await expect(signed_in.control("DMO")).to_contain_text("units.0.p_min must be >= 0")
    assert jobs_of(api, model["id"]) == []
    await page.screenshot(path=ARTIFACTS / "sandbox-run-form.png", full_page=True)

    await form.locator("#run-DMO_units_0_p_min").fill(str(UNIT["p_min"]))
    await expect(form.get_by_text("must be >= 0")).to_have_count(0)
    await run.click()
    started = await wait_for_value(lambda: (jobs := jobs_of(api, model["id"])) and jobs[0])
    assert started["model_config"] == {"units": [UNIT]}
    stop(api, started["job_id"])
    assert signed_in.unexpected_errors() == []


@pytest.fixture
def dmo_settings_restored(api):
    """The DMO settings as they were, saved back (as a new version) after the test."""
    before = api.get("/api/optimization/settings/DMO").json()
    yield before
    api.put("/api/optimization/settings/DMO", json={"config": before["config"]}).raise_for_status()


@pytest.fixture
def dmo_dataset_restored(api):
    """The active DMO dataset made active again after the test."""
    active = [d["id"] for d in api.get("/api/optimization/datasources", params={"type": "DMO"}).json()["dataSources"] if d["is_active"]]
    yield
    for dataset_id in active:
        api.post(f"/api/optimization/datasources/{dataset_id}/activate").raise_for_status()


def next_run_uses(api, model_type: str) -> dict:
    schedules = api.get("/api/optimization/schedules").json()["schedules"]
    return next(s["nextRunUses"] for s in schedules if s["modelType"] == model_type)


# a DMO version whose schema refuses the settings the test saves (no `units`)
UNITLESS = b'''CONFIG_SCHEMA = {"type": "object", "additionalProperties": False, "properties": {"lines": {"type": "integer"}}}
print("unitless")
'''


async def test_saved_settings_are_what_the_next_run_without_config_uses_and_the_schedule_says_so(
        signed_in, api, dmo_settings_restored, keep_active_models):
    """(dmo_settings_restored first: its teardown runs last, once keep_active_models has put the models back.)"""
    model = upload_dmo_sample(api, "page_settings_dmo.py")
    page = signed_in.page
    await page.reload()
    await page.get_by_role("tab", name="Settings").click()
    group = page.get_by_role("group", name="DMO settings")
    await expect(group).to_contain_text(f"checked against page_settings_dmo v{model['version']}")
    form = group.locator(".schema-form")
    if not dmo_settings_restored["config"].get("units"):
        await form.get_by_role("button", name="Add").click()
    for field, value in UNIT.items():
        await form.locator(f"#settings-DMO_units_0_{field}").fill(str(value))
    await group.get_by_role("button", name="Save DMO settings").click()
    saved = dmo_settings_restored["version"] + 1
    await expect(group.get_by_role("status")).to_have_text(f"Saved: DMO settings v{saved}")
    await group.screenshot(path=ARTIFACTS / "sandbox-settings.png")
    stored = api.get("/api/optimization/settings/DMO").json()
    assert stored["version"] == saved and stored["config"]["units"][0] == UNIT and stored["valid"] is True

    await page.get_by_role("button", name="Run DMO").click()  # run options untouched: no config of its own
    started = await wait_for_value(lambda: (jobs := jobs_of(api, model["id"])) and jobs[0])
    assert started["settings_version"] == saved and started["model_config"] == stored["config"]
    stop(api, started["job_id"])

    await page.get_by_role("tab", name="Schedules").click()
    uses = next_run_uses(api, "DMO")
    assert (uses["modelId"], uses["settingsVersion"], uses["settingsValid"]) == (model["id"], saved, True)
    await expect(page.get_by_test_id("next-run-uses-DMO")).to_have_text(
        f"Next run uses: page_settings_dmo v{model['version']} · dataset {uses['dataSourceName'] or 'none'} · settings v{saved}")

    # a version the saved settings do not fit: both tabs say so
    unitless = api.post("/api/optimization/upload", files={"file": ("page_unitless.py", UNITLESS, "text/x-python")},
                        data={"modelType": "DMO", "activate": "true"})
    assert unitless.status_code == 201, unitless.text
    await page.reload()
    await page.get_by_role("tab", name="Schedules").click()
    await expect(page.get_by_test_id("next-run-uses-DMO")).to_contain_text(f"page_unitless v{unitless.json()['model']['version']}")
    await expect(page.get_by_test_id("next-run-uses-DMO").get_by_role("alert")).to_contain_text("do not fit this model")
    await page.get_by_role("tab", name="Settings").click()
    await expect(group.get_by_role("alert")).to_contain_text("Saved settings do not fit the active model:")
    await expect(group.get_by_role("alert")).to_contain_text("units")
    assert signed_in.unexpected_errors() == []


async def test_a_dataset_uploaded_without_make_active_changes_nothing_until_made_active(signed_in, api, dmo_dataset_restored, tmp_path):
    prices = tmp_path / "page_candidate_prices.csv"
    prices.write_bytes((SAMPLES / "data" / "dmo_prices.csv").read_bytes())
    before = next_run_uses(api, "DMO")
    page = signed_in.page
    await page.get_by_role("tab", name="Settings").click()
    group = page.get_by_role("group", name="DMO settings")
    await group.get_by_label("DMO dataset file").set_input_files(prices)
    await group.get_by_role("checkbox", name="Make active").uncheck()
    await group.get_by_role("button", name="Upload dataset").click()
    await expect(group.get_by_role("status")).to_contain_text("page_candidate_prices.csv uploaded (not active")
    candidate = next(d for d in api.get("/api/optimization/datasources", params={"type": "DMO"}).json()["dataSources"]
                     if d["name"] == "page_candidate_prices.csv" and not d["is_active"])
    assert next_run_uses(api, "DMO")["dataSourceId"] == before["dataSourceId"]

    row = group.locator(f'tr[data-dataset="{candidate["id"]}"]')
    await row.get_by_role("button", name=f"Make page_candidate_prices.csv (#{candidate['id']}) active").click()
    await expect(row).to_contain_text("active")
    await expect(row.get_by_role("button")).to_have_count(0)
    assert next_run_uses(api, "DMO")["dataSourceId"] == candidate["id"]
    await page.get_by_role("tab", name="Schedules").click()
    await expect(page.get_by_test_id("next-run-uses-DMO")).to_contain_text("· dataset page_candidate_prices.csv ·")
    assert signed_in.unexpected_errors() == []
