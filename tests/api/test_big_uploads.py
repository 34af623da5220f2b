"""Big models are answered on ruff's word and then compiled by CPython in the checker process, with the
same answers as small ones: the line of a syntax error (and nothing kept), the declared CONFIG_SCHEMA. What
ruff accepts and CPython refuses is marked invalid after the answer."""

from __future__ import annotations

from api.registry import SYNTAX_OK, SYNTAX_PENDING
from api.uploads import IN_PROCESS_MAX_BYTES
from harness.stack import wait_until
from tests.api.test_uploads import model_rows, snapshot
from tests.conftest import upload

TABLE_LINE = b"    (1, 2.5, 'block-01'),\n"


def _big_model(head: bytes, tail: bytes = b"]\nprint(len(TABLE))\n") -> bytes:
    rows = (IN_PROCESS_MAX_BYTES * 2) // len(TABLE_LINE)
    return head + b"TABLE = [\n" + TABLE_LINE * rows + tail


def test_a_big_model_with_a_syntax_error_is_refused_with_its_line_and_nothing_kept(api, stack, keep_active_models):
    content = _big_model(b"", tail=b"]\nprint(len(TABLE)\n")
    before = snapshot(api, stack)
    response = upload(api, "big_broken.py", content, "DMO")
    assert response.status_code == 422, response.text
    line = content.count(b"\n")
    assert response.json()["error"].startswith(f"syntax error on line {line}")
    assert snapshot(api, stack) == before


def test_a_big_model_keeps_its_declared_config_schema(api, stack, keep_active_models):
    content = _big_model(b'CONFIG_SCHEMA = {"type": "object", "properties": {"rows": {"type": "integer"}}}\n')
    response = upload(api, "big_table.py", content, "DMO")
    assert response.status_code == 201, response.text
    model_id = response.json()["model"]["id"]
    refused = api.post("/api/optimization/execute", json={"modelType": "DMO", "modelId": model_id, "config": {"rows": "many"}})
    assert refused.status_code == 422 and "config['rows']" in refused.json()["error"]


def model_row(api, model_id: int) -> dict:
    return next(row for row in model_rows(api) if row["id"] == model_id)


def confirmed(api, model_id: int) -> bool:
    return model_row(api, model_id)["validation_message"] != SYNTAX_PENDING


def test_a_big_model_cpython_refuses_after_ruff_accepted_it_is_marked_invalid_and_its_predecessor_is_active_again(api, keep_active_models):
    predecessor = upload(api, "big_predecessor.py", _big_model(b""), "RMO").json()["model"]
    wait_until(lambda: confirmed(api, predecessor["id"]), 60, "CPython's verdict on the predecessor")
    # a literal past CPython's 4300 digits: ruff's parser reads it, CPython's compile refuses it
    response = upload(api, "big_huge_literal.py", _big_model(b"LIMIT = " + b"9" * 5000 + b"\n"), "RMO")
    assert response.status_code == 201, response.text
    model = response.json()["model"]
    assert model["validation_message"] == SYNTAX_PENDING and model["status"] == "active"
    wait_until(lambda: confirmed(api, model["id"]), 60, "CPython's verdict")
    row = model_row(api, model["id"])
    assert row["syntax_valid"] is False and row["status"] == "inactive"
    assert row["validation_message"].startswith("syntax error on line 1: Exceeds the limit")
    assert model_row(api, predecessor["id"])["status"] == "active"
    for refused in (api.post("/api/optimization/execute", json={"modelType": "RMO", "modelId": model["id"]}),
                    api.post(f"/api/optimization/models/{model['id']}/activate")):
        assert refused.status_code == 409 and "does not compile: syntax error on line 1" in refused.json()["error"], refused.text
    notes = api.get("/api/optimization/notifications").json()["notifications"]
    assert any(note["title"] == "Model does not compile" and "big_huge_literal v" in note["message"] for note in notes)


def test_a_big_model_ruff_accepted_is_confirmed_by_cpython(api, keep_active_models):
    model = upload(api, "big_valid.py", _big_model(b""), "SO").json()["model"]
    wait_until(lambda: confirmed(api, model["id"]), 60, "CPython's verdict")
    row = model_row(api, model["id"])
    assert row["syntax_valid"] is True and row["validation_message"] == SYNTAX_OK and row["status"] == "active"


def test_a_schema_look_alike_in_a_big_models_docstring_is_dropped_once_cpython_has_read_the_model(api, keep_active_models):
    content = _big_model(b'"""A table.\nCONFIG_SCHEMA = {"type": "object", "required": ["rows"]}\n"""\n')
    model = upload(api, "big_look_alike.py", content, "SO").json()["model"]
    wait_until(lambda: confirmed(api, model["id"]), 60, "CPython's verdict")
    row = model_row(api, model["id"])
    assert row["syntax_valid"] is True and not (row["metadata"] or {}).get("config_schema")
