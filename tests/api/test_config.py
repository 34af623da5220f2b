"""A run's config: bounded, and checked against the JSON Schema its model declares; refused configs start nothing."""

from __future__ import annotations

import pytest

from tests.conftest import upload


def job_count(api) -> int:
    return api.get("/api/optimization/jobs", params={"limit": 1}).json()["total"]


@pytest.mark.parametrize(("model_type", "config", "where", "why"), [
    ("SO", {"max_cycles": -1}, "config['max_cycles']", "minimum"),
    ("SO", {"capacity_mwh": "big"}, "config['capacity_mwh']", "not of type 'number'"),
    ("SO", {"max_cylces": 1}, "config", "Additional properties are not allowed"),
    ("DMO", {"units": [{"name": "a", "p_min": 0, "p_max": "x", "cost": 1, "ramp": 1}]}, "config['units'][0]['p_max']", "not of type 'number'"),
])
def test_refuses_config_against_the_models_schema_with_the_path(api, model_type, config, where, why):
    before = job_count(api)
    response = api.post("/api/optimization/execute", json={"modelType": model_type, "config": config})
    assert response.status_code == 422
    assert response.json()["error"].startswith(f"{where}:") and why in response.json()["error"]
    assert job_count(api) == before


def test_refuses_config_too_deep_or_too_large(api):
    deep: dict = {}
    node = deep
    for _ in range(20):
        node["x"] = {}
        node = node["x"]
    big = {"blob": "x" * (70 * 1024)}
    before = job_count(api)
    for config, why in ((deep, "nests deeper"), (big, "larger than 64 KB")):
        response = api.post("/api/optimization/execute", json={"modelType": "SO", "config": config})
        assert response.status_code == 422 and why in response.json()["error"]
    assert job_count(api) == before


@pytest.mark.parametrize(("source", "message"), [
    (b"CONFIG_SCHEMA = {'type': 'nonsense'}\n", "not a valid JSON Schema"),
    (b"import json\nCONFIG_SCHEMA = json.loads('{}')\n", "must be a literal dict"),
])
def test_refuses_a_model_whose_schema_is_broken_and_names_the_line(api, source, message):
    response = upload(api, "schema_model.py", source, "SO")
    assert response.status_code == 422 and message in response.json()["error"] and "line" in response.json()["error"]
