"""Forms drawn from a model's CONFIG_SCHEMA: the run options of the DMO sample (a value below its minimum is
shown at the field and starts no run), the per-type settings form whose saved config the next run uses, and
the Schedules tab's line naming what the next scheduled run uses."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.conftest import SAMPLES, upload, wait_for_job
from tests.page.test_runs import wait_for_value

UNIT = {"name": "page_unit", "p_min": 10.0, "p_max": 90.0, "cost": 3000.0, "ramp": 30.0}


def upload_dmo_sample(api, name: str) -> dict:
    response = upload(api, name, (SAMPLES / "dmo_day_ahead.py").read_bytes(), "DMO")
    assert response.status_code == 201, response.text
    return response.json()["model"]


def jobs_of(api, model_id: int) -> list[dict]:
    return api.get("/api/optimization/jobs", params={"modelId": model_id, "limit": 50}).json()["jobs"]


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

    await form.locator("#run-DMO_units_0_p_min").fill(str(UNIT["p_min"]))
    await expect(form.get_by_text("must be >= 0")).to_have_count(0)
    await run.click()
    started = await wait_for_value(lambda: (jobs := jobs_of(api, model["id"])) and jobs[0])
    assert started["model_config"] == {"units": [UNIT]}
    assert (await asyncio.to_thread(wait_for_job, api, started["job_id"]))["status"] == "success"
    assert signed_in.unexpected_errors() == []
