"""The sandbox page as the API serves it: the built front end, its assets without a key, and the
session probe the page starts with."""

from __future__ import annotations

import re
import socket

import httpx

from harness.stack import ADMIN_TOKEN


def test_root_redirects_to_the_page_and_the_page_is_the_built_front_end(stack):
    with httpx.Client(base_url=stack.api_url) as browser:
        landed = browser.get("/", follow_redirects=True)
        assert landed.status_code == 200 and str(landed.url).endswith("/sandbox")
        assert '<div id="root"></div>' in landed.text
        assert "default-src 'self'" in landed.headers["content-security-policy"]
        script = re.search(r'src="(/sandbox/assets/[^"]+\.js)"', landed.text).group(1)
        asset = browser.get(script)  # no credential: the page must load before it can sign in
        assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
        # sent raw: httpx would otherwise normalize `../` away before the server sees it
        for path in ("/sandbox/assets/../../api/optimization/models", "/sandbox/assets/%2e%2e/%2e%2e/api/optimization/models",
                     "/sandbox/assets/..%2f..%2fdata%2foptbox.db", "/sandbox/assets/../../../../etc/passwd"):
            answer = raw_get(stack.api_port, path)
            assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 404 Not Found", b"HTTP/1.1 400 Bad Request"), (path, answer[:200])
            assert b"root:" not in answer and b'"models"' not in answer and b"SQLite format" not in answer


def raw_get(port: int, path: str) -> bytes:
    """GET `path` byte for byte as written, over a plain socket; the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def test_session_probe_says_who_is_signed_in_without_a_401(stack):
    with httpx.Client(base_url=stack.api_url) as browser:
        assert browser.get("/api/auth/session").json() == {"signedIn": False, "name": None, "role": None}
        browser.get("/sandbox", params={"token": ADMIN_TOKEN})
        assert browser.get("/api/auth/session").json() == {"signedIn": True, "name": "admin", "role": "admin"}
    worker = (stack.data_dir / "worker_token").read_text().strip()
    probe = httpx.get(f"{stack.api_url}/api/auth/session", headers={"Authorization": f"Bearer {worker}"})
    assert probe.json()["signedIn"] is False
