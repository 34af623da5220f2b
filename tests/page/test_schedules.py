"""The Schedules tab: each type's next runs, paused or active as Prefect has it, and a Pause/Resume that works."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.api.test_schedules import FAR_OFF, PRESET, prefect_schedule


@pytest.fixture
def far_off_so(api):
    """SO's schedule moved to once a year while the test resumes it, and put back (paused, its cron) after."""
    api.patch("/api/optimization/schedules/SO", json={"cron": FAR_OFF}).raise_for_status()
    yield
    api.patch("/api/optimization/schedules/SO", json={"active": False, "cron": PRESET["SO"]}).raise_for_status()


async def test_the_schedules_tab_shows_next_runs_and_pauses_and_resumes(api, stack, signed_in, far_off_so):
    page = signed_in.page
    await page.get_by_role("tab", name="Schedules").click()
    panel = page.get_by_role("region", name="Schedules")
    listed = {s["modelType"]: s for s in api.get("/api/optimization/schedules").json()["schedules"]}
    for model_type, schedule in listed.items():
        row = panel.locator(f'tr[data-type="{model_type}"]')
        await expect(row).to_contain_text(schedule["cron"])
        await expect(row).to_contain_text(schedule["timezone"])
        mine = row.get_by_role("list", name=f"{model_type} next runs in your time").locator("time")
        await expect(mine).to_have_count(3)
        assert [await t.get_attribute("datetime") for t in await mine.all()] == [r["utc"] for r in schedule["nextRuns"]]
        await expect(row.get_by_role("list", name=f"{model_type} next runs in {schedule['timezone']}").locator("time")).to_have_count(3)

    so = panel.locator('tr[data-type="SO"]')
    await expect(so).to_contain_text("paused")
    await so.get_by_role("button", name="Resume SO schedule").click()
    await expect(so.get_by_role("button", name="Pause SO schedule")).to_be_visible()
    await expect(so).to_contain_text("active")
    assert prefect_schedule(stack, "so")["active"] is True
    await so.get_by_role("button", name="Pause SO schedule").click()
    await expect(so.get_by_role("button", name="Resume SO schedule")).to_be_visible()
    assert prefect_schedule(stack, "so")["active"] is False
    assert signed_in.errors_besides() == []
