"""What the execution sandbox adds to the page: queued runs with their place in line (moving live),
per-run limits in Run options (the server's 422 shown as is), the run detail's limits and provenance,
and the header's protections indicator."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from playwright.async_api import expect

from harness.stack import wait_until
from tests.api.test_lifecycle import prefect, upload_model
from tests.conftest import execute, job, wait_for_job
from tests.page.conftest import ARTIFACTS
from tests.page.test_runs import MODELS, latest_job, wait_for_value

DMO_QUEUE = "/work_pools/optbox-process/queues/dmo"


@pytest.fixture
def dmo_one_at_a_time(stack):
    """DMO runs one at a time (the worker sets every type's work-queue limit at start), so more wait in line."""
    before = wait_until(lambda: prefect(stack, "GET", DMO_QUEUE).json()["concurrency_limit"], 60, "the worker to limit the queues")
    prefect(stack, "PATCH", DMO_QUEUE, json={"concurrency_limit": 1})
    yield
    prefect(stack, "PATCH", DMO_QUEUE, json={"concurrency_limit": before})


async def test_queued_runs_show_their_place_then_start_and_the_detail_shows_limits_and_provenance(
    signed_in, api, keep_active_models, dmo_one_at_a_time,
):
    endless = upload_model(api, MODELS / "endless.py", "DMO")
    printer = upload_model(api, MODELS / "printer.py", "DMO")  # active: the page's "Run DMO" runs it
    blocker = execute(api, "DMO", modelId=endless["id"])["jobId"]
    await asyncio.to_thread(wait_for_job, api, blocker, {"running"})
    page = signed_in.page
    await page.reload()
    control = signed_in.control("DMO")
    await expect(control).to_contain_text(f"printer v{printer['version']}")

    # a limit above the server's maximum: its 422 message as is, and no run
    await page.get_by_text("Run options").click()
    await page.get_by_label("Config (JSON)").fill(json.dumps({"lines": 4, "delay": 1}))
    await page.get_by_label("Timeout (s)").fill("99999999")
    refused = api.post("/api/optimization/execute", json={"modelType": "DMO", "limits": {"timeoutS": 99999999}})
    assert refused.status_code == 422 and "limits.timeoutS" in refused.json()["error"]
    await page.get_by_role("button", name="Run DMO").click()
    await expect(control.get_by_role("alert")).to_have_text(refused.json()["error"])
    assert latest_job(api, "DMO")["job_id"] == blocker

    # lowered limits are taken; the run waits behind the blocker, first in line
    await page.get_by_label("Timeout (s)").fill("120")
    await page.get_by_label("Memory (MB)").fill("512")
    await page.get_by_role("button", name="Run DMO").click()
    first = (await wait_for_value(lambda: (j := latest_job(api, "DMO"))["job_id"] != blocker and j))["job_id"]
    await expect(control.get_by_role("alert")).to_have_count(0)
    await expect(page.get_by_test_id("status-DMO")).to_have_text("queued")
    await expect(page.get_by_test_id("queue-DMO")).to_have_text("1st in line")
    second = execute(api, "DMO", modelId=printer["id"], config={"lines": 3})["jobId"]
    await expect(page.get_by_test_id("queue-DMO")).to_have_text("2nd in line")  # the panel follows the newest run
    history = page.get_by_role("table", name="Run history")
    await expect(history.locator(f'tr[data-job="{first}"]')).to_contain_text("queued 1st in line")
    await expect(history.locator(f'tr[data-job="{second}"]')).to_contain_text("queued 2nd in line")
    await page.screenshot(path=ARTIFACTS / "sandbox-queued.png", full_page=True)

    # the line moves live: the blocker goes, the first starts, the second moves up, then runs
    assert api.post(f"/api/optimization/jobs/{blocker}/cancel").status_code == 200
    await expect(page.get_by_test_id("queue-DMO")).to_have_text("1st in line", timeout=60_000)
    await expect(history.locator(f'tr[data-job="{first}"]')).to_contain_text("running")
    await expect(page.get_by_test_id("status-DMO")).to_have_text("success", timeout=120_000)
    await expect(page.get_by_test_id("queue-DMO")).to_have_count(0)
    assert [job(api, j)["status"] for j in (first, second)] == ["success", "success"]

    # the run detail: the limits it ran under and where it came from
    detail = job(api, first)
    assert detail["limits"]["timeout_s"] == 120 and detail["limits"]["memory_mb"] == 512
    await history.get_by_role("button", name=first).click()
    dialog = page.get_by_role("dialog")
    limits = dialog.get_by_label("Run limits")
    await expect(limits).to_contain_text("Timeout120 s")
    await expect(limits).to_contain_text("Memory512 MB")
    await expect(limits).to_contain_text(f"Processes{detail['limits']['max_procs']}")
    await expect(limits).to_contain_text("Networkoff")
    provenance = dialog.get_by_label("Run provenance")
    await expect(provenance).to_contain_text(f"printer v{printer['version']}")
    await expect(provenance).to_contain_text(printer["sha256"])
    assert detail["model_sha256"] == printer["sha256"] and detail["data_source_sha256"]
    datasets = api.get("/api/optimization/datasources", params={"type": "DMO"}).json()["dataSources"]
    dataset = next(d for d in datasets if d["id"] == detail["data_source_id"])
    await expect(provenance).to_contain_text(f"Dataset{dataset['name']}")
    await expect(provenance).to_contain_text(detail["data_source_sha256"])
    await expect(dialog.get_by_label("Run config")).to_contain_text('"delay": 1')
    await page.screenshot(path=ARTIFACTS / "sandbox-run-limits.png")
    assert signed_in.errors_besides(422) == []


async def test_header_shows_the_hosts_sandbox_protections(signed_in, stack):
    sandbox = httpx.get(f"{stack.api_url}/api/health", timeout=10).json()["sandbox"]
    page = signed_in.page
    label = "Sandbox: protected" if not sandbox["missing"] else f"Sandbox: {len(sandbox['missing'])} missing"
    indicator = page.get_by_role("button", name=label)
    await expect(indicator).to_have_attribute("data-level", "warning" if sandbox["missing"] else "ok")
    await indicator.click()
    panel = page.get_by_role("region", name="Sandbox protections")
    await expect(panel).to_contain_text("Bubblewrap" + ("active" if sandbox["bubblewrap"] else "missing"))
    await expect(panel).to_contain_text("Network isolation" + ("active" if sandbox["network_isolation"] else "missing"))
    await expect(panel).to_contain_text(f"Memory limit{sandbox['memory_limit'] or 'missing'}")
    await expect(panel).to_contain_text(f"Process tree ended by{sandbox['tree_kill']}")
    for missing in sandbox["missing"]:
        await expect(panel).to_contain_text(missing)
    await page.screenshot(path=ARTIFACTS / "sandbox-protections.png")
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    assert signed_in.console_errors == []
