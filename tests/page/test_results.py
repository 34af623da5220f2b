"""Results on the page: a sample run's schedule as a sortable table and a chart of its numeric columns (one
line each, toggleable, prices on a second axis), the Excel report, and two SO runs with different configs
overlaid on one chart in the comparison; result files that do not read leave the run detail usable."""

from __future__ import annotations

import asyncio
import csv
import io

from playwright.async_api import expect

from harness.stack import PROJECT_DIR
from tests.conftest import SAMPLES, execute, upload, wait_for_job
from tests.page.conftest import ARTIFACTS

MODELS = PROJECT_DIR / "tests" / "models"


def schedule_of(api, job: dict, name: str) -> tuple[list[str], list[dict]]:
    """The result file as the API serves it for download: its header and rows."""
    url = next(r["url"] for r in job["results"] if r["name"] == name)
    reader = csv.DictReader(io.StringIO(api.get(url).text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def start_sample(api, model_type: str, filename: str, configs=(None,)) -> list[str]:
    """The sample as a fresh active version of its type, then one run of it per config; their job ids."""
    assert upload(api, f"results_{filename}", (SAMPLES / filename).read_bytes(), model_type).status_code == 201
    return [execute(api, model_type, **({"config": config} if config else {}))["jobId"] for config in configs]


async def finished(api, job_ids: list[str]) -> list[dict]:
    done = [await asyncio.to_thread(wait_for_job, api, job_id, timeout=240) for job_id in job_ids]
    assert [j["status"] for j in done] == ["success"] * len(done), [j["error_message"] for j in done]
    return done


async def open_run(page, job_id: str):
    await page.reload()
    await page.get_by_role("table", name="Run history").get_by_role("button", name=job_id).click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_test_id("detail-status")).to_have_text("success")
    return dialog


async def test_run_detail_shows_each_sample_schedule_as_table_and_chart(signed_in, api, keep_active_models):
    dmo, so = await finished(api, start_sample(api, "DMO", "dmo_day_ahead.py") + start_sample(api, "SO", "so_battery.py"))
    page = signed_in.page
    for job, name in ((dmo, "dmo_schedule.csv"), (so, "so_schedule.csv")):
        header, rows = schedule_of(api, job, name)
        values = [column for column in header if column != "block"]  # every other column of both schedules is a number
        dialog = await open_run(page, job["job_id"])
        viewer = dialog.get_by_role("region", name=f"Result {name}")
        url = next(r["url"] for r in job["results"] if r["name"] == name)
        await expect(viewer.get_by_role("link", name=name)).to_have_attribute("href", url)

        table = viewer.get_by_role("table", name=f"Preview of {name}")
        await expect(table.locator("caption")).to_have_text(f"{len(rows)} rows")
        await expect(table.locator("tbody tr")).to_have_count(len(rows))
        # a header sorts by its column: the highest price first on the second click
        price = table.get_by_role("button", name="price_inr_mwh")
        await price.click()
        await price.click()
        await expect(table.get_by_role("columnheader", name="price_inr_mwh")).to_have_attribute("aria-sort", "descending")
        highest = max(float(r["price_inr_mwh"]) for r in rows)
        assert float(await table.locator("tbody tr").first.locator("td").nth(header.index("price_inr_mwh")).inner_text()) == highest

        chart = viewer.get_by_role("img", name=f"Chart of {name}")
        await expect(chart).to_be_visible()
        await expect(chart.locator(".recharts-line")).to_have_count(len(values))
        await expect(chart.locator(".recharts-yAxis")).to_have_count(2)  # prices on their own axis
        await viewer.get_by_role("checkbox", name=values[-1]).uncheck()
        await expect(chart.locator(".recharts-line")).to_have_count(len(values) - 1)
        await viewer.get_by_role("checkbox", name="price_inr_mwh").uncheck()
        await expect(chart.locator(".recharts-line")).to_have_count(len(values) - 2)
        await expect(chart.locator(".recharts-yAxis")).to_have_count(1)

        async with page.expect_download() as download:
            await dialog.get_by_role("link", name="Download Excel report").click()
        assert (await download.value).suggested_filename.endswith(".xlsx")
        await viewer.screenshot(path=ARTIFACTS / f"results-{job['model_type']}.png")
        await dialog.get_by_role("button", name="Close").click()


async def test_comparing_two_so_runs_with_different_configs_overlays_both(signed_in, api, keep_active_models):
    small, large = await finished(api, start_sample(api, "SO", "so_battery.py", configs=[{"capacity_mwh": 60}, {"capacity_mwh": 160}]))
    page = signed_in.page
    await page.reload()
    history = page.get_by_role("table", name="Run history")
    for job in (small, large):
        await history.get_by_role("checkbox", name=f"Select {job['job_id']}").check()
    await page.get_by_role("button", name="Compare selected (2)").click()

    comparison = page.get_by_role("table", name="Run comparison")
    config = comparison.locator("tr", has=page.get_by_role("rowheader", name="Config (differs)", exact=True))
    await expect(config).to_contain_text('"capacity_mwh": 60')
    await expect(config).to_contain_text('"capacity_mwh": 160')
    model = comparison.locator("tr", has=page.get_by_role("rowheader", name="Model", exact=True))
    await expect(model).to_have_attribute("data-differs", "false")

    await page.get_by_label("Result file").select_option("so_schedule.csv")
    await page.get_by_label("Column").select_option("soc_mwh")
    chart = page.get_by_role("img", name="Chart of soc_mwh across 2 runs")
    await expect(chart.locator(".recharts-line")).to_have_count(2)
    for job in (small, large):
        await expect(page.locator(".overlay-chart .recharts-legend-wrapper")).to_contain_text(job["job_id"])
    # the two batteries differ, so do their states of charge: two distinct paths
    paths = await chart.locator(".recharts-line path.recharts-curve").evaluate_all("ps => ps.map(p => p.getAttribute('d'))")
    assert len(paths) == 2 and paths[0] != paths[1]
    await page.screenshot(path=ARTIFACTS / "results-comparison.png", full_page=True)


async def test_result_files_that_do_not_read_show_the_reason_and_the_detail_stays_usable(signed_in, api, keep_active_models):
    assert upload(api, "results_garbage.py", (MODELS / "garbage_results.py").read_bytes(), "RMO").status_code == 201
    [job] = await finished(api, [execute(api, "RMO")["jobId"]])
    page = signed_in.page
    dialog = await open_run(page, job["job_id"])
    garbage = dialog.get_by_role("region", name="Result garbage.csv")
    await expect(garbage.get_by_test_id("preview-message")).to_contain_text("utf-8")
    ragged = dialog.get_by_role("region", name="Result ragged.csv")
    await expect(ragged.get_by_test_id("preview-message")).to_contain_text("Expected 2 fields in line 3, saw 4")
    await expect(dialog.get_by_role("img")).to_have_count(0)
    # the text file stays a plain download in the list; the rest of the detail is there and the dialog closes
    await expect(dialog.locator("ul.results").get_by_role("link", name="notes.txt")).to_be_visible()
    await expect(dialog.get_by_role("link", name="Download Excel report")).to_be_visible()
    await expect(dialog.get_by_role("log", name="Run log")).to_be_visible()
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()
