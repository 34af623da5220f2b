"""Prefect's server, run as `prefect server start` runs it in the foreground (the same app, settings
and uvicorn options), with two additions: its 503 answers say when to retry, and it does not gzip its
answers to clients on this machine.

Prefect answers 503 when its database refused a transaction that may simply be tried again — on
SQLite, "database is locked" when a read transaction lost its snapshot to another writer. Its
clients then back off 2**n s, so one such answer cost a run's start 2 s (bench case c). The lock is
usually free again within milliseconds, so the answer asks for a retry in 50 ms, doubling with each
503 given in the last two seconds (up to 8 s): a sustained overload still gets a long backoff.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections import deque
from typing import Any

FIRST_RETRY_S = 0.05
LONGEST_RETRY_S = 8.0
BUSY_WINDOW_S = 2.0


class RetryAfterOn503:
    """ASGI middleware: a 503 without a Retry-After gets one that grows while 503s keep coming."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._recent: deque[float] = deque()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: dict) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"retry-after" for name, _ in headers):
                    headers.append((b"retry-after", f"{self.next_delay():.3f}".encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_retry_after)

    def next_delay(self) -> float:
        now = time.monotonic()
        while self._recent and now - self._recent[0] > BUSY_WINDOW_S:
            self._recent.popleft()
        self._recent.append(now)
        return min(FIRST_RETRY_S * 2 ** (len(self._recent) - 1), LONGEST_RETRY_S)


class UncompressedOnLoopback:
    """ASGI middleware: requests from loopback arrive without Accept-Encoding, so Prefect's GZipMiddleware
    leaves their answers alone. Its clients here (the facade, the worker, every flow run) are on this
    machine: compressing cost the server CPU it is short of under load (bench case d) and the client
    CPU to undo it (a facade stall of 18 ms reading one bulk creation's answer). Remote clients keep gzip."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_loopback(scope.get("client")):
            scope = {**scope, "headers": [(name, value) for name, value in scope["headers"] if name != b"accept-encoding"]}
        await self.app(scope, receive, send)


def is_loopback(client: tuple[str, int] | None) -> bool:
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:  # a unix socket's path, or a name
        return False


def serve(host: str, port: int, *, services: bool) -> None:
    """Run the server in this process. Prefect's settings come from the environment, so the caller
    sets it (cli.roles.prefect_server_env) before this imports Prefect."""
    if not services:
        os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "False"  # as `prefect server start --no-services`
    import uvicorn
    from prefect.server.api.server import create_app
    from prefect.settings import PREFECT_SERVER_API_KEEPALIVE_TIMEOUT, PREFECT_SERVER_LOGGING_LEVEL

    app = create_app(final=True, webserver_only=not services)
    uvicorn.run(UncompressedOnLoopback(RetryAfterOn503(app)), host=host, port=port, timeout_keep_alive=PREFECT_SERVER_API_KEEPALIVE_TIMEOUT.value(),
                ws_ping_interval=20.0, ws_ping_timeout=20.0, log_level=str(PREFECT_SERVER_LOGGING_LEVEL.value()).lower())
