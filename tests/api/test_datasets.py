"""Input datasets: uploaded per type, used by a run, recorded with their sha256."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import SAMPLES, all_lines, execute, wait_for_job


def upload_dataset(api, name: str, content: bytes, model_type: str):
    return api.post("/api/optimization/datasources", files={"file": (name, content, "text/csv")}, data={"modelType": model_type})


def test_refuses_datasets_that_are_not_csv_or_xlsx(api):
    assert upload_dataset(api, "prices.json", b"{}", "SO").status_code == 400
    assert upload_dataset(api, "prices.xlsx", b"not a zip", "SO").status_code == 400
    assert upload_dataset(api, "prices.csv", b"", "SO").status_code == 400


@pytest.fixture
def sample_prices_stay_active(api):
    """A run without a dataset reads the active one of its type, and an upload becomes it: make the one active
    before the test active again afterwards, so later modules' SO runs (their objectives) do not depend on this one."""
    (active,) = [d["id"] for d in api.get("/api/optimization/datasources", params={"type": "SO"}).json()["dataSources"] if d["is_active"]]
    yield
    api.post(f"/api/optimization/datasources/{active}/activate").raise_for_status()


def test_a_run_uses_the_named_dataset_and_records_its_hash(api, sample_prices_stay_active):
    # the same prices, doubled: the battery's profit doubles
    rows = (SAMPLES / "data" / "so_prices.csv").read_text().splitlines()
    doubled = "\n".join([rows[0]] + [f"{b},{float(p) * 2}" for b, p in (r.split(",") for r in rows[1:])]) + "\n"
    dataset = upload_dataset(api, "so_doubled.csv", doubled.encode(), "SO").json()["dataSource"]
    assert dataset["sha256"] == hashlib.sha256(doubled.encode()).hexdigest()
    assert dataset["id"] in [d["id"] for d in api.get("/api/optimization/datasources", params={"type": "SO"}).json()["dataSources"]]

    started = execute(api, "SO", dataSourceId=dataset["id"], config={"max_cycles": 1})
    row = wait_for_job(api, started["jobId"])
    assert row["status"] == "success", all_lines(api, started["jobId"])[-5:]
    assert row["data_source_id"] == dataset["id"] and row["data_source_sha256"] == dataset["sha256"]
    assert row["model_config"] == {"max_cycles": 1}
    assert row["metrics"]["cycles"] <= 1.0 + 1e-6


def test_a_dataset_of_another_type_is_refused_at_execute(api):
    # a valid RMO dataset, uploaded as a candidate: later RMO runs keep reading the active one
    dataset = api.post("/api/optimization/datasources", files={"file": ("rmo_copy.csv", (SAMPLES / "data" / "rmo_realtime.csv").read_bytes(), "text/csv")},
                       data={"modelType": "RMO", "activate": "false"}).json()["dataSource"]
    assert dataset["is_active"] is False
    response = api.post("/api/optimization/execute", json={"modelType": "SO", "dataSourceId": dataset["id"]})
    assert response.status_code == 400 and "is for RMO" in response.json()["error"]
