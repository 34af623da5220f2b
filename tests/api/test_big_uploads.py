"""Big models are checked in the checker process, with the same answers as small ones:
the line of a syntax error (and nothing kept), the declared CONFIG_SCHEMA."""

from __future__ import annotations

from api.uploads import IN_PROCESS_MAX_BYTES
from tests.api.test_uploads import snapshot
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
