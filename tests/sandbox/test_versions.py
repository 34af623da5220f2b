"""Versions and provenance: a re-upload is a new version; activating an older one rolls back,
and each run records exactly which version, dataset and limits it ran."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import execute, upload, wait_for_job

pytestmark = pytest.mark.usefixtures("keep_active_models")

V1 = b'import json\nprint("::optbox " + json.dumps({"objective_value": 1}))\n'
V2 = b'import json\nprint("::optbox " + json.dumps({"objective_value": 2}))\n'


def test_rollback_makes_the_older_version_run_and_the_run_records_it(api):
    first = upload(api, "rollback_model.py", V1, "RMO").json()["model"]
    second = upload(api, "rollback_model.py", V2, "RMO").json()["model"]
    assert second["version"] == first["version"] + 1

    newest = wait_for_job(api, execute(api, "RMO")["jobId"])
    assert (newest["model_version"], newest["objective_value"]) == (second["version"], 2)
    assert newest["model_sha256"] == hashlib.sha256(V2).hexdigest()

    assert api.post(f"/api/optimization/models/{first['id']}/activate").status_code == 200
    rolled_back = wait_for_job(api, execute(api, "RMO", config={"note": "after rollback"})["jobId"])
    assert (rolled_back["model_id"], rolled_back["model_version"], rolled_back["objective_value"]) == (first["id"], first["version"], 1)
    assert rolled_back["model_sha256"] == hashlib.sha256(V1).hexdigest()
    assert rolled_back["model_config"] == {"note": "after rollback"}
    dataset = next(d for d in api.get("/api/optimization/datasources", params={"type": "RMO"}).json()["dataSources"] if d["is_active"])
    assert rolled_back["data_source_id"] == dataset["id"] and rolled_back["data_source_sha256"] == dataset["sha256"]
    assert rolled_back["limits"]["timeout_s"] > 0 and rolled_back["limits"]["network"] is False
