"""Promises docs/security.md makes about every request, key and mutation, each checked as a caller sees it."""

from __future__ import annotations

import hashlib
import re
import socket
from pathlib import Path

import httpx
import psutil

from optbox.protocol import FLOW_BODY_LIMIT_BYTES
from tests.conftest import execute, upload, wait_for_job

MODELS = Path(__file__).parent.parent / "models"


def test_every_response_carries_the_security_headers(stack, api):
    for path in ("/api/health", "/api/optimization/models", "/sandbox", "/api/optimization/jobs/no-such-job", "/no/such/route"):
        headers = api.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
        assert headers["x-frame-options"] == "DENY", path


def test_no_origin_is_allowed_cross_site_when_none_is_configured(stack):
    preflight = httpx.options(f"{stack.api_url}/api/optimization/models",
                              headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers
    answer = httpx.get(f"{stack.api_url}/api/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in answer.headers


def test_the_prefect_server_listens_on_loopback_only(stack):
    server = stack.role_process("prefect")
    listening = [connection.laddr for process in (server, *server.children(recursive=True))
                 for connection in process.net_connections(kind="inet") if connection.status == psutil.CONN_LISTEN]
    assert listening and all(address.ip in ("127.0.0.1", "::1") for address in listening), listening


def test_a_key_is_stored_as_its_sha256_only_and_shown_once(api, stack):
    created = api.post("/api/auth/keys", json={"name": "stored-as-hash", "role": "viewer"}).json()
    key = created["key"]
    assert "key" not in next(k for k in api.get("/api/auth/keys").json()["keys"] if k["name"] == "stored-as-hash")
    database = b"".join(path.read_bytes() for path in stack.data_dir.glob("optbox.db*"))
    assert key.encode() not in database
    assert hashlib.sha256(key.encode()).hexdigest().encode() in database


def test_uploaded_filenames_are_reduced_to_a_safe_character_set(api, keep_active_models):
    response = upload(api, "../we ird;$(name)\u00e9.py", (MODELS / "printer.py").read_bytes(), "SO")
    assert response.status_code == 201, response.text
    stored = response.json()["model"]["original_filename"]
    assert re.fullmatch(r"[A-Za-z0-9._-]+", stored) and ".." not in stored.split("/") and stored.endswith(".py"), stored


def test_a_flows_body_over_64_mb_is_refused_before_it_is_read(stack, api):
    worker_key = (stack.data_dir / "worker_token").read_text().strip()
    with socket.create_connection(("127.0.0.1", stack.api_port), timeout=10) as connection:
        connection.sendall((f"POST /api/internal/jobs/no-such-job/artifacts?kind=result HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            f"Authorization: Bearer {worker_key}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                            f"Content-Length: {FLOW_BODY_LIMIT_BYTES + 1}\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := connection.recv(4096)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_each_mutation_leaves_an_audit_row_naming_the_acting_key(api, stack, keep_active_models):
    auditor_key = api.post("/api/auth/keys", json={"name": "auditor", "role": "admin"}).json()["key"]
    auditor = httpx.Client(base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {auditor_key}"})
    previous = next(m["id"] for m in api.get("/api/optimization/models", params={"status": "active"}).json()["models"] if m["model_type"] == "SO")
    with auditor:
        endless = upload(auditor, "endless.py", (MODELS / "endless.py").read_bytes(), "SO").json()["model"]["id"]
        job_id = execute(auditor, "SO", modelId=endless)["jobId"]
        assert auditor.post(f"/api/optimization/jobs/{job_id}/cancel").status_code == 200
        wait_for_job(auditor, job_id)
        assert auditor.post(f"/api/optimization/models/{previous}/activate").status_code == 200
        assert auditor.delete("/api/optimization/models", params={"id": endless}).json()["status"] == "archived"
        unused = upload(auditor, "unused.py", (MODELS / "printer.py").read_bytes(), "SO").json()["model"]["id"]
        assert auditor.post(f"/api/optimization/models/{previous}/activate").status_code == 200
        assert auditor.delete("/api/optimization/models", params={"id": unused, "hard": "true"}).json()["status"] == "deleted"
        key_id = auditor.post("/api/auth/keys", json={"name": "audited-key", "role": "viewer"}).json()["id"]
        assert auditor.delete(f"/api/auth/keys/{key_id}").status_code == 200
    rows = api.get("/api/optimization/activity", params={"limit": 200}).json()["activities"]
    by_auditor = {(row["action"], row["entity_id"]) for row in rows if row["actor"] == "auditor" and row["actor_role"] == "admin"}
    expected = {("upload", str(endless)), ("execute", job_id), ("cancel", job_id), ("activate", str(previous)), ("archive", str(endless)),
                ("upload", str(unused)), ("delete", str(unused)), ("create_key", str(key_id)), ("revoke_key", str(key_id))}
    assert expected <= by_auditor, expected - by_auditor
