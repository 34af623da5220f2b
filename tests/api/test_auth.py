"""Access control: every route's role, keys, the sign-in cookie, Socket.IO, rate limits."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
import socketio

from harness.stack import ADMIN_TOKEN, PROJECT_DIR
from tests.conftest import SAMPLES, EventRecorder

# The least role each route needs. A route missing here fails the matrix: new routes must say.
ROLE = {
    ("POST", "/api/optimization/upload"): "operator",
    ("GET", "/api/optimization/models"): "viewer",
    ("DELETE", "/api/optimization/models"): "admin",
    ("POST", "/api/optimization/models/{model_id}/activate"): "admin",
    ("POST", "/api/optimization/execute"): "operator",
    ("GET", "/api/optimization/execute"): "viewer",
    ("GET", "/api/optimization/jobs"): "viewer",
    ("GET", "/api/optimization/jobs/{job_id}"): "viewer",
    ("GET", "/api/optimization/jobs/{job_id}/logs"): "viewer",
    ("GET", "/api/optimization/jobs/{job_id}/logfile"): "viewer",
    ("GET", "/api/optimization/jobs/{job_id}/results"): "viewer",
    ("GET", "/api/optimization/jobs/{job_id}/results/{name}"): "viewer",
    ("POST", "/api/optimization/jobs/{job_id}/cancel"): "operator",
    ("POST", "/api/optimization/jobs/{job_id}/retry"): "operator",
    ("POST", "/api/optimization/datasources"): "operator",
    ("GET", "/api/optimization/datasources"): "viewer",
    ("POST", "/api/optimization/datasources/{dataset_id}/activate"): "operator",
    ("GET", "/api/optimization/settings/{model_type}"): "viewer",
    ("PUT", "/api/optimization/settings/{model_type}"): "operator",
    ("GET", "/api/optimization/notifications"): "viewer",
    ("POST", "/api/optimization/notifications/read"): "viewer",
    ("GET", "/api/optimization/activity"): "viewer",
    ("GET", "/api/optimization/models/{model_id}/lock"): "viewer",
    ("GET", "/api/optimization/alerts"): "admin",
    ("GET", "/api/optimization/schedules"): "viewer",
    ("PATCH", "/api/optimization/schedules/{model_type}"): "operator",
    ("POST", "/api/optimization/alerts/test"): "admin",
    ("GET", "/api/health"): None,
    ("POST", "/api/auth/keys"): "admin",
    ("GET", "/api/auth/keys"): "admin",
    ("DELETE", "/api/auth/keys/{key_id}"): "admin",
    ("GET", "/api/auth/me"): "viewer",
    ("GET", "/api/auth/session"): None,
    ("POST", "/api/internal/runs/claim"): "worker",
    ("POST", "/api/internal/jobs/{job_id}/artifacts"): "worker",
    ("POST", "/api/internal/jobs/{job_id}/finish"): "worker",
    ("POST", "/api/internal/maintenance/prune"): "worker",
    ("GET", "/api/internal/models/{model_id}/file"): "worker",
    ("GET", "/api/internal/datasources/{dataset_id}/file"): "worker",
}
RANK = {"viewer": 0, "operator": 1, "admin": 2}


def allowed(role: str, needed: str | None) -> bool:
    if needed is None:
        return True
    if needed == "worker":
        return role in ("worker", "admin")
    return role in RANK and RANK[role] >= RANK[needed]


@pytest.fixture(scope="module")
def keys(api, stack) -> dict[str, str]:
    made = {}
    for role in ("viewer", "operator", "admin"):
        response = api.post("/api/auth/keys", json={"name": f"matrix-{role}", "role": role})
        assert response.status_code == 201, response.text
        made[role] = response.json()["key"]
    made["worker"] = (stack.data_dir / "worker_token").read_text().strip()
    return made


def concrete(path: str) -> str:
    # ids nobody has: an allowed caller gets past auth to a 404/422, never a 5xx
    return (path.replace("{model_id}", "999999").replace("{dataset_id}", "999999").replace("{key_id}", "999999").replace("{model_type}", "XMO")
            .replace("{job_id}", "no-such-job").replace("{name}", "none.csv"))


def test_every_route_is_in_the_matrix(api):
    documented = {(method.upper(), path) for path, item in api.get("/openapi.json").json()["paths"].items() for method in item}
    assert documented == set(ROLE)


@pytest.mark.parametrize(("method", "path"), sorted(ROLE))
def test_route_answers_401_without_a_key_and_403_below_its_role(stack, keys, method, path):
    needed = ROLE[(method, path)]
    url = stack.api_url + concrete(path)
    bare = httpx.request(method, url, timeout=30)
    assert bare.status_code != 401 if needed is None else bare.status_code == 401
    for role, key in keys.items():
        response = httpx.request(method, url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        if allowed(role, needed):
            assert response.status_code not in (401, 403) and response.status_code < 500, (role, response.text)
        else:
            assert response.status_code == 403 and needed in response.json()["error"], (role, response.text)


def test_revoked_key_is_refused(api, stack):
    created = api.post("/api/auth/keys", json={"name": "short-lived", "role": "viewer"}).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert httpx.get(f"{stack.api_url}/api/auth/me", headers=headers).json()["name"] == "short-lived"
    assert api.delete(f"/api/auth/keys/{created['id']}").json()["revoked"] is True
    assert httpx.get(f"{stack.api_url}/api/auth/me", headers=headers).status_code == 401
    listed = {k["name"]: k for k in api.get("/api/auth/keys").json()["keys"]}
    assert listed["short-lived"]["revoked_at"] and "key" not in listed["short-lived"]


def test_mutations_are_audited_with_the_acting_key(api, keys, stack):
    operator = {"Authorization": f"Bearer {keys['operator']}"}
    upload = httpx.post(f"{stack.api_url}/api/optimization/datasources", headers=operator,
                        files={"file": ("audit.csv", (SAMPLES / "data" / "so_prices.csv").read_bytes())}, data={"modelType": "SO"})
    assert upload.status_code == 201
    activity = api.get("/api/optimization/activity").json()["activities"]
    assert any(a["actor"] == "matrix-operator" and a["actor_role"] == "operator" and a["entity_id"] == str(upload.json()["dataSource"]["id"])
               for a in activity)


async def test_socket_needs_a_key_and_refuses_the_workers(stack, keys):
    for token in (None, "not-a-key", keys["worker"]):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(stack.api_url, transports=["websocket"], auth={"token": token} if token else None, wait_timeout=5)
    async with EventRecorder(stack.api_url, token=keys["viewer"]) as viewer:
        assert viewer.client.connected


def test_sign_in_link_sets_an_httponly_cookie_that_signs_in(stack):
    with httpx.Client(base_url=stack.api_url) as browser:
        assert browser.get("/sandbox", params={"token": "wrong"}).status_code == 401
        response = browser.get("/sandbox", params={"token": ADMIN_TOKEN}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/sandbox"
        assert "httponly" in response.headers["set-cookie"].lower() and "samesite=strict" in response.headers["set-cookie"].lower()
        assert browser.get("/api/auth/me").json()["role"] == "admin"
        assert browser.get("/sandbox").headers["x-frame-options"] == "DENY"


def test_uploads_are_rate_limited_per_key_with_retry_after(api, stack):
    per_minute = int(stack.env()["OPTBOX_UPLOAD_RATE"].split("/")[0])
    key = api.post("/api/auth/keys", json={"name": "hasty", "role": "operator"}).json()["key"]
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=stack.api_url, headers=headers) as client:
        statuses = [client.post("/api/optimization/upload", files={"file": ("x.txt", b"x")}, data={"modelType": "SO"}).status_code
                    for _ in range(per_minute)]
    assert statuses == [400] * per_minute
    limited = httpx.post(f"{stack.api_url}/api/optimization/upload", headers=headers, files={"file": ("x.txt", b"x")}, data={"modelType": "SO"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    # another key is not slowed down by this one
    assert api.post("/api/optimization/upload", files={"file": ("x.txt", b"x")}, data={"modelType": "SO"}).status_code == 400


def test_auth_off_is_refused_unless_bound_to_loopback(tmp_path):
    env = {**os.environ, "OPTBOX_AUTH": "off", "OPTBOX_DATA_DIR": str(tmp_path)}
    refused = subprocess.run([sys.executable, "-m", "cli", "api", "--host", "0.0.0.0", "--port", "1"],
                             cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "auth may be off only on loopback" in refused.stderr + refused.stdout


async def test_socket_accepts_its_own_origin_and_refuses_a_foreign_one(stack):
    own = socketio.AsyncClient(reconnection=False)
    await own.connect(stack.api_url, transports=["websocket"], auth={"token": ADMIN_TOKEN}, headers={"Origin": stack.api_url}, wait_timeout=5)
    assert own.connected
    await own.disconnect()
    foreign = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await foreign.connect(stack.api_url, transports=["websocket"], auth={"token": ADMIN_TOKEN},
                              headers={"Origin": "http://evil.example"}, wait_timeout=5)
