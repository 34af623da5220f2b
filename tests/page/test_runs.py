"""Running models from the page: each type's lines arrive live, a run can be cancelled, the history
opens a run's detail, and a dropped connection leaves no hole in the log."""

from __future__ import annotations

import asyncio
import json
import math
import re

import pytest
from playwright.async_api import expect

from harness.stack import PROJECT_DIR
from tests.conftest import all_lines, execute, upload, wait_for_job
from tests.page.conftest import ARTIFACTS

MODELS = PROJECT_DIR / "tests" / "models"
TYPES = ("DMO", "RMO", "SO")
SECONDS = re.compile(r"^(\d+ ms|\d+\.\d s|\d+ min \d+ s)$")


def latest_job(api, model_type: str) -> dict:
    jobs = api.get("/api/optimization/jobs", params={"type": model_type, "limit": 1}).json()["jobs"]
    return jobs[0] if jobs else {"job_id": None, "model_name": None}


async def test_runs_each_type_from_the_page_and_shows_its_lines(signed_in, api):
    page = signed_in.page
    before = {t: latest_job(api, t)["job_id"] for t in TYPES}
    await page.get_by_role("button", name="Run DMO").click()
    await page.get_by_role("button", name="Run RMO").click()
    await page.get_by_role("button", name="Run SO").focus()  # the keyboard works as well as the mouse
    await page.keyboard.press("Enter")
    started = {t: await wait_for_value(lambda t=t: (j := latest_job(api, t))["job_id"] != before[t] and j) for t in TYPES}
    for model_type in TYPES:
        job = await asyncio.to_thread(wait_for_job, api, started[model_type]["job_id"], timeout=180)
        assert job["status"] == "success" and job["triggered_by"] == "manual"
        await expect(page.get_by_test_id(f"status-{model_type}")).to_have_text("success")
        await page.get_by_label("Job", exact=True).select_option(job["job_id"])
        await expect(page.get_by_test_id("line-count")).to_have_text(f"{job['last_seq']} lines")
        await expect(signed_in.log_rows(job["job_id"]).last).to_have_attribute("data-seq", str(job["last_seq"]))
    await page.get_by_label("Job", exact=True).select_option("")
    for model_type in TYPES:
        row = page.get_by_role("table", name="Run history").locator(f'tr[data-job="{started[model_type]["job_id"]}"]')
        await expect(row).to_contain_text("success")
    await page.screenshot(path=ARTIFACTS / "sandbox-after-runs.png", full_page=True)
    assert signed_in.console_errors == []


async def test_cancel_stops_a_running_model(signed_in, api, keep_active_models):
    assert upload(api, "page_endless.py", (MODELS / "endless.py").read_bytes(), "DMO").status_code == 201
    page = signed_in.page
    await page.reload()
    await expect(signed_in.control("DMO")).to_contain_text("page_endless")
    await page.get_by_role("button", name="Run DMO").click()
    # endless.py never ends by itself: its lines on screen came while it ran
    panel = page.get_by_role("log", name="Live log")
    await expect(panel.get_by_text(re.compile(r"^tick \d+$")).first).to_be_visible()

    # scrolling up pauses auto-scroll while lines keep coming; Resume follows the end again
    await page.wait_for_function("el => el.scrollHeight > 2 * el.clientHeight", arg=await panel.element_handle())
    await panel.evaluate("el => { el.scrollTop = 0; }")
    await expect(page.get_by_text("auto-scroll paused")).to_be_visible()
    at_top = await panel.evaluate("el => new Promise(done => setTimeout(() => done(el.scrollTop), 500))")
    assert at_top == 0
    await page.get_by_role("button", name="Resume auto-scroll").click()
    await expect(page.get_by_text("following")).to_be_visible()
    await page.wait_for_function("el => el.scrollHeight - el.scrollTop - el.clientHeight < 30", arg=await panel.element_handle())
    # filters and Clear
    await page.get_by_label("Level").select_option("ERROR")
    await expect(page.get_by_test_id("line-count")).to_have_text("0 lines")
    await page.get_by_label("Level").select_option("")
    before = await shown_count(page)
    await page.get_by_role("button", name="Clear").click()
    await page.wait_for_function("before => parseInt(document.querySelector('[data-testid=line-count]').textContent) < before", arg=before)

    await page.get_by_role("button", name="Cancel DMO run").click()
    await expect(page.get_by_test_id("status-DMO")).to_have_text("cancelled", timeout=60_000)
    assert latest_job(api, "DMO")["status"] == "cancelled"
    assert signed_in.console_errors == []


async def test_history_opens_a_run_with_its_paged_log_results_config_and_prefect_link(signed_in, api, keep_active_models):
    so = execute(api, "SO", config={"capacity_mwh": 120})
    assert upload(api, "page_printer.py", (MODELS / "printer.py").read_bytes(), "RMO").status_code == 201
    printer = execute(api, "RMO", config={"lines": 450})
    so_job, printer_job = wait_for_job(api, so["jobId"]), wait_for_job(api, printer["jobId"])
    assert so_job["status"] == printer_job["status"] == "success"
    page = signed_in.page
    await page.reload()
    history = page.get_by_role("table", name="Run history")
    await history.get_by_role("button", name=so["jobId"]).focus()  # by keyboard: Enter opens, Escape closes
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_test_id("detail-status")).to_have_text("success")
    await expect(dialog.get_by_label("Run config")).to_contain_text('"capacity_mwh": 120')
    await expect(dialog.get_by_role("link", name="Open in Prefect UI")).to_have_attribute("href", so_job["prefect_url"])
    async with page.expect_download() as download:
        await dialog.get_by_role("link", name="so_schedule.csv").click()
    assert (await download.value).suggested_filename == "so_schedule.csv"
    # what the run used, as the API has it (Math.round of the MB; seconds as durations)
    memory = f"{math.floor(so_job['peak_memory_mb'] + 0.5)} MB"
    resources = dialog.get_by_label("Run resources")
    await expect(resources.get_by_test_id("run-peak-memory")).to_have_text(memory)
    await expect(resources.get_by_test_id("run-cpu")).to_have_text(SECONDS)
    await expect(resources.get_by_test_id("run-queued")).to_have_text(SECONDS)
    await expect(history.locator(f'tr[data-job="{so["jobId"]}"]')).to_contain_text(memory)
    await dialog.focus()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(history.get_by_role("button", name=so["jobId"])).to_be_focused()

    await history.get_by_role("button", name=printer["jobId"]).click()
    run_log = dialog.get_by_role("log", name="Run log")
    await expect(run_log.locator("[data-seq]").first).to_have_attribute("data-seq", "1")
    await dialog.get_by_role("button", name="Next lines").click()
    await expect(run_log.locator("[data-seq]").first).to_have_attribute("data-seq", "201")
    await dialog.get_by_role("button", name="Next lines").click()
    await expect(run_log.locator("[data-seq]").last).to_have_attribute("data-seq", str(printer_job["last_seq"]))
    await expect(dialog.get_by_role("button", name="Next lines")).to_be_disabled()
    await page.screenshot(path=ARTIFACTS / "sandbox-run-detail.png")
    await dialog.get_by_role("button", name="Close").click()

    await history.get_by_role("checkbox", name=f"Select {so['jobId']}").check()
    await history.get_by_role("checkbox", name=f"Select {printer['jobId']}").check()
    await page.get_by_role("button", name="Compare selected (2)").click()
    comparison = page.get_by_role("table", name="Run comparison")
    await expect(comparison).to_contain_text(so["jobId"])
    await expect(comparison).to_contain_text(printer["jobId"])
    await page.get_by_role("tab", name="Charts").click()
    objective = page.get_by_role("figure", name="SO objective value over time")
    await expect(objective.locator(".recharts-line-dot").first).to_be_visible()
    await expect(page.get_by_role("figure", name="Run duration per type").locator(".recharts-line-dot").first).to_be_visible()
    for measure in ("Peak memory", "CPU time", "Time in line"):
        await expect(page.get_by_role("figure", name=f"{measure} per type").locator(".recharts-line-dot").first).to_be_visible()
    await page.screenshot(path=ARTIFACTS / "sandbox-charts.png", full_page=True)
    assert signed_in.console_errors == []


@pytest.mark.restarts_shared
async def test_log_has_every_line_exactly_once_across_a_facade_restart(signed_in, api, stack, keep_active_models):
    """The socket drops (the API restarts mid-run); back online the page fetches what it missed."""
    signed_in.expect_errors("WebSocket connection to", "net::ERR_CONNECTION_REFUSED", "net::ERR_CONNECTION_RESET", "net::ERR_EMPTY_RESPONSE")
    assert upload(api, "page_reconnect.py", (MODELS / "printer.py").read_bytes(), "RMO").status_code == 201
    page = signed_in.page
    await page.reload()
    await expect(signed_in.control("RMO")).to_contain_text("page_reconnect")
    await page.get_by_text("Run options").click()
    await page.get_by_label("Options for").select_option("RMO")
    await page.get_by_label("Config (JSON)").fill(json.dumps({"lines": 400, "delay": 0.03}))
    await page.get_by_role("button", name="Run RMO").click()
    job_id = await wait_for_value(lambda: (j := latest_job(api, "RMO"))["model_name"] == "page_reconnect" and j["job_id"])
    await expect(signed_in.log_rows(job_id).first).to_be_visible()

    await asyncio.to_thread(stack.stop_role, "api")
    await expect(page.get_by_role("status", name="Connection: Reconnecting…")).to_be_visible()
    await asyncio.sleep(1)  # lines keep coming while nobody can hear them
    await asyncio.to_thread(stack.start_api)
    await expect(page.get_by_role("status", name="Connection: Live")).to_be_visible()
    job = await asyncio.to_thread(wait_for_job, api, job_id)
    assert job["status"] == "success"
    stored = [line["seq"] for line in all_lines(api, job_id)]
    assert len(stored) >= 400 and stored == list(range(1, len(stored) + 1))

    await page.get_by_label("Job", exact=True).select_option(job_id)
    await expect(page.get_by_test_id("line-count")).to_have_text(f"{len(stored)} lines")
    assert await shown_seqs(page) == stored


async def shown_count(page) -> int:
    return int((await page.get_by_test_id("line-count").inner_text()).split()[0])


async def wait_for_value(probe, timeout: float = 30):
    for _ in range(int(timeout / 0.2)):
        if value := await asyncio.to_thread(probe):
            return value
        await asyncio.sleep(0.2)
    raise TimeoutError("no value")


async def shown_seqs(page) -> list[int]:
    """Every seq the virtualized panel shows, top to bottom (it renders only what is in view, so scroll through)."""
    panel = page.get_by_role("log", name="Live log")
    await panel.evaluate("el => { el.scrollTop = 0; }")
    # until the virtualizer has re-rendered for the top, the rows in the DOM are still the ones from before
    await page.wait_for_function(
        "el => [...el.querySelectorAll('[data-seq]')].some(r => Math.abs(r.getBoundingClientRect().top - el.getBoundingClientRect().top) < r.offsetHeight)",
        arg=await panel.element_handle())
    seen: dict[int, None] = {}
    while True:
        rows = await panel.evaluate(
            "el => [...el.querySelectorAll('[data-seq]')].map(r => [r.getBoundingClientRect().top, Number(r.dataset.seq)])")
        for _, seq in sorted(rows):
            seen.setdefault(seq)
        at_end = await panel.evaluate("el => { const end = el.scrollTop + el.clientHeight >= el.scrollHeight - 1;"
                                      " el.scrollTop += el.clientHeight / 2; return end; }")
        if at_end:
            return list(seen)
        await page.wait_for_timeout(30)  # let the virtualizer render the rows now in view
