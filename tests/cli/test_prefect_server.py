"""The Prefect server's 503s ask for a quick retry, and a longer one while they keep coming; its answers
to clients on this machine are not gzipped."""

from __future__ import annotations

import httpx
import pytest
from prefect.client.base import _parse_retry_after
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import PlainTextResponse

from cli.prefect_server import FIRST_RETRY_S, LONGEST_RETRY_S, RetryAfterOn503, UncompressedOnLoopback


async def _answer(scope, receive, send):
    status = int(scope["path"].strip("/"))
    headers = [(b"retry-after", b"30")] if scope["query_string"] == b"own" else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def client():
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=RetryAfterOn503(_answer)), base_url="http://prefect")


async def test_a_503_gets_a_retry_after_that_prefects_client_reads_and_that_doubles_while_503s_keep_coming(client):
    delays = [_parse_retry_after((await client.get("/503")).headers["retry-after"]) for _ in range(12)]
    assert delays[0] == FIRST_RETRY_S and delays[1] == 2 * FIRST_RETRY_S
    assert delays == sorted(delays) and delays[-1] == LONGEST_RETRY_S


async def test_other_answers_and_a_503_that_names_its_own_delay_are_left_alone(client):
    assert "retry-after" not in (await client.get("/200")).headers
    assert "retry-after" not in (await client.get("/500")).headers
    assert (await client.get("/503?own")).headers["retry-after"] == "30"


@pytest.mark.parametrize(("client_address", "encoding"), [("127.0.0.1", None), ("::1", None), ("192.0.2.7", "gzip")])
async def test_answers_are_gzipped_for_remote_clients_only(client_address, encoding):
    app = UncompressedOnLoopback(GZipMiddleware(PlainTextResponse("flow run " * 500)))
    transport = httpx.ASGITransport(app=app, client=(client_address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://prefect") as remote:
        response = await remote.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("content-encoding") == encoding
    assert response.text == "flow run " * 500


def test_the_running_prefect_server_does_not_gzip_for_this_machine(stack):
    response = httpx.post(f"{stack.prefect_api_url}/deployments/filter", json={}, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and len(response.content) > 1000
    assert "content-encoding" not in response.headers
