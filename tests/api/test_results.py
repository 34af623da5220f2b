"""Results read back: a tabular result's preview (table head, chart series with an index and price axis) and
the run's Excel report; result files that do not read, or are too large to chart, leave the run readable
and the facade answering."""

from __future__ import annotations

import asyncio
import json
from io import BytesIO
from urllib.parse import quote

import httpx
import openpyxl
import pytest

from api.result_files import build_preview
from harness.stack import ADMIN_TOKEN
from tests.api.test_datasets import upload_dataset
from tests.api.test_lifecycle import MODELS, upload_model
from tests.conftest import SAMPLES, all_lines, execute, job, wait_for_job

SAMPLE_RUNS = {"DMO": ("dmo_day_ahead.py", "dmo_prices.csv", "dmo_schedule.csv"), "SO": ("so_battery.py", "so_prices.csv", "so_schedule.csv")}


def preview(api, job_id: str, name: str) -> dict:
    response = api.get(f"/api/optimization/jobs/{job_id}/previews/{quote(name)}")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def sample_runs(api) -> dict[str, dict]:
    """A finished run of the DMO and the SO sample (uploaded here, with the samples' own data), by type."""
    # module-scoped, so it puts the active models back itself (a function's keep_active_models would start after it)
    active = [m["id"] for m in api.get("/api/optimization/models", params={"status": "active"}).json()["models"]]
    try:
        started = {}
        for model_type, (model_file, data_file, _) in SAMPLE_RUNS.items():
            model = upload_model(api, SAMPLES / model_file, model_type)
            dataset = upload_dataset(api, data_file, (SAMPLES / "data" / data_file).read_bytes(), model_type)
            assert dataset.status_code == 201, dataset.text
            started[model_type] = execute(api, model_type, modelId=model["id"], dataSourceId=dataset.json()["dataSource"]["id"])["jobId"]
        runs = {model_type: wait_for_job(api, job_id, timeout=180) for model_type, job_id in started.items()}
    finally:
        for model_id in active:
            api.post(f"/api/optimization/models/{model_id}/activate")
    assert all(run["status"] == "success" for run in runs.values()), runs
    return runs


@pytest.mark.parametrize("model_type", SAMPLE_RUNS)
def test_a_sample_schedule_previews_as_a_96_block_table_with_chart_series_and_a_price_axis(api, sample_runs, model_type):
    run, result = sample_runs[model_type], SAMPLE_RUNS[model_type][2]
    listed = {artifact["name"]: artifact for artifact in job(api, run["job_id"])["results"]}
    assert listed[result]["preview_url"] == f"/api/optimization/jobs/{run['job_id']}/previews/{result}"

    shown = preview(api, run["job_id"], result)
    assert shown["name"] == result and shown["kind"] == "table" and shown["message"] is None
    assert shown["rowCount"] == 96 and len(shown["rows"]) == 96 and shown["rows"][0]["block"] == 1
    assert shown["index"] == "block"
    roles = {column["name"]: column["role"] for column in shown["columns"]}
    assert roles["block"] == "index" and roles["price_inr_mwh"] == "price"
    numeric = [column["name"] for column in shown["columns"] if column["type"] == "number" and column["role"] != "index"]
    series = shown["series"]
    assert series["downsampled"] is False and series["x"] == list(range(1, 97))
    assert list(series["columns"]) == numeric and all(len(values) == 96 for values in series["columns"].values())
    assert series["columns"]["price_inr_mwh"] == [row["price_inr_mwh"] for row in shown["rows"]]
    assert preview(api, run["job_id"], result) == shown  # reopened: the same preview


def test_the_report_holds_the_summary_each_result_and_the_log(api, sample_runs):
    run = sample_runs["DMO"]
    response = api.get(f"/api/optimization/jobs/{run['job_id']}/report.xlsx")
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == f'attachment; filename="{run["job_id"]}-report.xlsx"'
    book = openpyxl.load_workbook(BytesIO(response.content))
    assert book.sheetnames == ["Summary", "dmo_schedule", "Log"]

    summary = dict(book["Summary"].iter_rows(min_row=2, values_only=True))
    assert summary["job_id"] == run["job_id"] and summary["status"] == "success"
    assert summary["model_version"] == run["model_version"] and summary["model_sha256"] == run["model_sha256"]
    assert summary["objective_value"] == run["objective_value"]
    assert summary["Result dmo_schedule.csv"] == "sheet 'dmo_schedule': 96 rows"

    schedule = list(book["dmo_schedule"].values)
    assert schedule[0][:3] == ("block", "price_inr_mwh", "load_mw") and len(schedule) == 97
    log = list(book["Log"].values)
    assert log[0] == ("seq", "time (UTC)", "level", "stream", "message")
    assert [(row[0], row[4]) for row in log[1:]] == [(line["seq"], line["message"]) for line in all_lines(api, run["job_id"])][-1000:]


def test_missing_runs_and_files_are_404(api, sample_runs):
    run = sample_runs["SO"]
    assert api.get(f"/api/optimization/jobs/{run['job_id']}/previews/nothing.csv").status_code == 404
    assert api.get("/api/optimization/jobs/so-20000101-000000-00000000/previews/so_schedule.csv").status_code == 404
    assert api.get("/api/optimization/jobs/so-20000101-000000-00000000/report.xlsx").status_code == 404


def test_result_files_that_do_not_read_preview_as_errors_and_the_run_stays_readable(api, keep_active_models):
    model = upload_model(api, MODELS / "garbage_results.py", "RMO")
    run = wait_for_job(api, execute(api, "RMO", modelId=model["id"])["jobId"])
    assert run["status"] == "success", run
    listed = {artifact["name"]: artifact["preview_url"] for artifact in job(api, run["job_id"])["results"]}
    assert listed["notes.txt"] is None and listed["garbage.csv"] and listed["ragged.csv"]

    garbage, ragged = preview(api, run["job_id"], "garbage.csv"), preview(api, run["job_id"], "ragged.csv")
    assert garbage["kind"] == "error" and "utf-8" in garbage["message"] and garbage["series"] is None
    assert ragged["kind"] == "error" and "Expected 2 fields in line 3, saw 4" in ragged["message"]
    assert preview(api, run["job_id"], "notes.txt")["kind"] == "none"
    assert job(api, run["job_id"])["status"] == "success"


async def test_a_ten_million_row_result_is_counted_not_charted_while_the_facade_answers(api, stack, keep_active_models):
    model = upload_model(api, MODELS / "tall_result.py", "RMO")
    run = wait_for_job(api, execute(api, "RMO", modelId=model["id"])["jobId"], timeout=180)
    assert run["status"] == "success" and [a["name"] for a in run["results"]] == ["tall.csv"], run

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        asked = asyncio.create_task(client.get(f"/api/optimization/jobs/{run['job_id']}/previews/tall.csv"))
        health = []
        while not asked.done() or not health:  # at least one answer, the first asked while the preview is computed
            health.append((await client.get("/api/health")).status_code)
        shown = (await asked).json()
    assert health and set(health) == {200}, health
    assert shown["kind"] == "too_large" and shown["rowCount"] == 10_000_000 and shown["series"] is None
    assert "10,000,000 rows" in shown["message"] and len(shown["rows"]) == 500 and shown["rows"][0] == {"block": 1, "mw": 2}
    assert shown["index"] == "block"


def test_a_long_series_is_bucketed_keeping_its_peaks_and_a_wide_one_stays_under_a_megabyte(tmp_path):
    long = tmp_path / "long.csv"
    long.write_text("interval,mw\n" + "".join(f"{i},{-50 if i == 7777 else 100 if i == 4242 else i % 10}\n" for i in range(1, 10_001)))
    shown = json.loads(build_preview(long, "long.csv"))
    series = shown["series"]
    assert shown["kind"] == "table" and shown["rowCount"] == 10_000 and series["downsampled"] is True
    assert len(series["x"]) == len(series["columns"]["mw"]) <= 2_000 and series["x"][0] == 1 and series["x"][-1] == 10_000
    assert max(series["columns"]["mw"]) == 100 and min(series["columns"]["mw"]) == -50
    assert series["x"][series["columns"]["mw"].index(100)] <= 4242 < series["x"][series["columns"]["mw"].index(-50)]

    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"unit_{c}_mw" for c in range(300)) + "\n" + "".join(",".join(f"{r * c / 7:.6f}" for c in range(300)) + "\n" for r in range(3000)))
    encoded = build_preview(wide, "wide.csv")
    shown = json.loads(encoded)
    assert len(encoded) <= 1024 * 1024 and shown["kind"] == "table" and shown["rowCount"] == 3000
    assert 0 < len(shown["series"]["columns"]) < 200 and 0 < len(shown["rows"]) < 500
    assert "the first 200 are shown" in shown["message"] and "are charted" in shown["message"]
