"""Uploads: accepted ones become versions; refused ones answer 4xx and leave nothing behind."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import SAMPLES, upload

GOOD = b"print('Objective value: 1')\n"


def stored_files(stack) -> set[str]:
    root = stack.data_dir / "files"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def model_rows(api) -> list[dict]:
    return api.get("/api/optimization/models", params={"status": ""}).json()["models"]


def snapshot(api, stack):
    return sorted((m["id"], m["status"]) for m in model_rows(api)), stored_files(stack)


REFUSALS = [
    ("model.txt", GOOD, "DMO", 400, "only Python files"),
    ("model.py", b"", "DMO", 400, "file is empty"),
    ("model.py", b"x = '\xff\xfe'\n", "DMO", 400, "not valid UTF-8"),
    ("model.py", b"x = 1\x00\n", "DMO", 400, "NUL bytes"),
    ("model.py", (SAMPLES / "broken_syntax.py").read_bytes(), "DMO", 422, "syntax error on line 4"),
    ("model.py", GOOD, "XYZ", 400, "unknown modelType"),
    ("model.py", b"#" * (10 * 1024 * 1024 + 1), "SO", 413, "larger than the 10 MB limit"),
]


@pytest.mark.parametrize(("filename", "content", "model_type", "status", "message"), REFUSALS,
                         ids=["not-py", "empty", "not-utf8", "nul-bytes", "syntax-error", "unknown-type", "too-large"])
def test_refuses_bad_upload_with_a_clear_message_and_keeps_nothing(api, stack, filename, content, model_type, status, message):
    before = snapshot(api, stack)
    response = upload(api, filename, content, model_type)
    assert response.status_code == status
    body = response.json()
    assert body["success"] is False and message in body["error"]
    assert snapshot(api, stack) == before


def test_syntax_error_names_the_line_and_the_text(api):
    body = upload(api, "broken.py", (SAMPLES / "broken_syntax.py").read_bytes(), "DMO").json()
    assert body["details"]["line"] == 4 and "def main(:" in body["details"]["text"]


def test_refuses_an_upload_without_a_file(api):
    response = api.post("/api/optimization/upload", data={"modelType": "DMO"})
    assert response.status_code == 422 and response.json()["success"] is False and "file" in response.json()["error"]


def test_same_name_makes_the_next_version_and_activates_it(api, keep_active_models):
    first = upload(api, "versioned_model.py", GOOD, "SO").json()["model"]
    second = upload(api, "versioned_model.py", GOOD + b"# v2\n", "SO").json()["model"]
    assert (first["model_name"], second["model_name"]) == ("versioned_model", "versioned_model")
    assert second["version"] == first["version"] + 1 and second["id"] != first["id"]
    statuses = {m["id"]: m["status"] for m in model_rows(api)}
    assert statuses[second["id"]] == "active" and statuses[first["id"]] == "inactive"
    assert api.post(f"/api/optimization/models/{first['id']}/activate").status_code == 200
    assert {m["id"]: m["status"] for m in model_rows(api)}[first["id"]] == "active"


def test_a_path_in_the_filename_cannot_leave_the_store(api, stack, keep_active_models):
    response = upload(api, "../../../escape.py", GOOD, "RMO")
    assert response.status_code == 201
    model = response.json()["model"]
    assert model["original_filename"] == "escape.py"
    assert not list(stack.data_dir.parent.rglob("escape.py"))


def test_upload_leaves_an_audit_row_and_a_notification(api, keep_active_models):
    model = upload(api, "audited_model.py", GOOD, "DMO").json()["model"]
    activity = api.get("/api/optimization/activity").json()["activities"]
    assert any(a["action"] == "upload" and a["entity_id"] == str(model["id"]) for a in activity)
    notes = api.get("/api/optimization/notifications").json()
    assert notes["unread"] >= 1 and any("audited_model v" in n["message"] for n in notes["notifications"])
    assert api.post("/api/optimization/notifications/read", json={}).json()["success"]
    assert api.get("/api/optimization/notifications").json()["unread"] == 0


def test_archive_hides_a_model_and_hard_delete_removes_it_and_its_file(api, stack, keep_active_models):
    model = upload(api, "short_lived.py", GOOD, "SO").json()["model"]
    files_before = stored_files(stack)
    assert api.delete("/api/optimization/models", params={"id": model["id"]}).json()["status"] == "archived"
    assert model["id"] not in {m["id"] for m in api.get("/api/optimization/models").json()["models"]}
    assert api.delete("/api/optimization/models", params={"id": model["id"], "hard": "true"}).json()["status"] == "deleted"
    assert model["id"] not in {m["id"] for m in model_rows(api)}
    assert len(stored_files(stack)) == len(files_before) - 1
    assert api.delete("/api/optimization/models", params={"id": model["id"]}).status_code == 404


def test_an_oversized_body_is_refused_before_it_is_read(stack):
    # only the headers go out: a 30 MB body the facade would otherwise wait for
    host, port = "127.0.0.1", stack.api_port
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall((f"POST /api/optimization/upload HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                      f"Content-Length: {30 * 1024 * 1024}\r\n\r\n").encode())
        answer = b""
        while b"larger than" not in answer and (chunk := conn.recv(4096)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413") and b"larger than" in answer


def test_a_streamed_body_is_cut_off_at_its_limit(api):
    def chunks():
        for _ in range(3):
            yield b"{" + b" " * (1024 * 1024)

    response = api.post("/api/optimization/execute", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["success"] is False
