"""The Prefect UI views of a run, without Prefect: its name, its artifact keys, its main result's first rows."""

from __future__ import annotations

import json

from flows import prefect_views
from optbox.protocol import ClaimedRun, FileRef, JobStatus, Report, RunLimits, RunOutcome


def claimed(model_type: str = "SO", trigger: str = "manual") -> ClaimedRun:
    return ClaimedRun(job_id="SO-1", model_type=model_type, model_name="so_battery", model_version=3,
                      model=FileRef(id=1, filename="so_battery.py", sha256="a" * 64, size=1, download_path="/x"),
                      config={}, next_seq=1, limits=RunLimits(), triggered_by=trigger)


def test_a_flow_run_is_named_for_its_type_model_version_and_trigger():
    assert prefect_views.flow_run_name(claimed()) == "SO · so_battery v3 · manual"
    assert prefect_views.flow_run_name(claimed("DMO", "schedule")) == "DMO · so_battery v3 · schedule"
    assert prefect_views.artifact_key(claimed("DMO"), "result") == "optbox-dmo-result"


def test_the_main_result_is_the_first_tabular_file_and_only_its_first_rows(tmp_path):
    (tmp_path / "a_notes.txt").write_text("not a table")
    (tmp_path / "b_broken.json").write_text("{not json")
    (tmp_path / "c_schedule.csv").write_text("block,mw\n" + "".join(f"{i},{i * 2}\n" for i in range(1, 97)))
    (tmp_path / "d_records.json").write_text(json.dumps([{"x": 1}]))
    name, rows = prefect_views.main_result(tmp_path)
    assert name == "c_schedule.csv" and len(rows) == prefect_views.TABLE_ROWS and rows[0] == {"block": "1", "mw": "2"}
    (tmp_path / "c_schedule.csv").unlink()
    assert prefect_views.main_result(tmp_path) == ("d_records.json", [{"x": 1}])


def test_the_summary_says_status_objective_model_and_links_the_page():
    outcome = RunOutcome(status=JobStatus.failed, error_message="model exited with code 1\nTraceback",
                         report=Report(objective_value=42.5, metrics={"cycles": 2}), peak_memory_mb=151.234, cpu_seconds=1.04)
    text = prefect_views.summary_markdown(claimed(), outcome, "http://page/sandbox?job=SO-1", "so_schedule.csv")
    for part in ("SO · so_battery v3 · manual", "| Status | failed |", "| Objective | 42.5 |", "a" * 64,
                 "| Peak memory (MB) | 151.23 |", "| Metric cycles | 2 |", "model exited with code 1", "(http://page/sandbox?job=SO-1)"):
        assert part in text
    assert "Traceback" not in text


async def test_a_run_the_facade_named_already_is_not_renamed_and_any_other_is(monkeypatch):
    import httpx
    from prefect.client.orchestration import PrefectClient

    names = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" and request.url.path == f"/api/flow_runs/{flow_run_id}":
            names.append(json.loads(request.content)["name"])
            return httpx.Response(204)
        return httpx.Response(404)

    flow_run_id = "00000000-0000-0000-0000-000000000001"
    monkeypatch.setattr(prefect_views, "get_client", lambda: PrefectClient("http://prefect.test/api", httpx_settings={"transport": httpx.MockTransport(answer)}))
    await prefect_views.name_flow_run(flow_run_id, "SO · so_battery v3 · manual", claimed())
    assert names == []  # no round trip to Prefect before the run's first line
    await prefect_views.name_flow_run(flow_run_id, "angry-otter", claimed("DMO", "schedule"))
    assert names == ["DMO · so_battery v3 · schedule"]
