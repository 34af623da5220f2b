"""The flow's only way to the facade: HTTP with retries through facade restarts, and the WebSocket
its lines go over (`flows/shipper.py`).

Transient failures (connection refused, timeouts, 5xx) are retried with
backoff until `give_up_after_s`; a 4xx is the facade's answer and is raised at
once as `FacadeRefused` with its message.
"""

from __future__ import annotations

from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from optbox.protocol import ClaimedRun, PruneReport, PruneRequest, RunClaim, RunOutcome


class FacadeRefused(Exception):
    """The facade answered 4xx: retrying will not help."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


def is_transient(exc: BaseException) -> bool:
    """Worth another try: the other end unreachable, dropped, or answering 5xx. A WebSocket handshake
    answered with no valid HTTP response (InvalidMessage) is a facade going down or coming up mid-handshake."""
    if isinstance(exc, httpx.TransportError | OSError | TimeoutError | ConnectionClosed | InvalidMessage):
        return True
    if isinstance(exc, InvalidStatus):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return str(body.get("error") or body.get("detail") or body)


def refusal_of(exc: BaseException) -> FacadeRefused | None:
    """The facade's refusal carried by a failed WebSocket, if it was one (api/line_stream.py's close codes)."""
    if isinstance(exc, InvalidStatus) and 400 <= exc.response.status_code < 500:
        return FacadeRefused(exc.response.status_code, (exc.response.body or b"").decode(errors="replace")[:500] or "refused")
    if isinstance(exc, ConnectionClosed) and exc.rcvd is not None and 4400 <= exc.rcvd.code < 4500:
        return FacadeRefused(exc.rcvd.code - 4000, exc.rcvd.reason)
    return None


class FacadeClient:
    def __init__(self, base_url: str, *, token: str, give_up_after_s: float = 600.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30.0, connect=5.0),
                                       headers={"Authorization": f"Bearer {token}"})
        self._ws_base = "ws" + base_url.rstrip("/").removeprefix("http")  # http → ws, https → wss
        self._token = token
        self.give_up_after_s = give_up_after_s

    async def aclose(self) -> None:
        await self._http.aclose()

    def retrying(self) -> AsyncRetrying:
        """Transient failures retried with backoff, for up to give_up_after_s from now."""
        return AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=wait_exponential(multiplier=0.05, max=2.0),
            stop=stop_after_delay(self.give_up_after_s),
            reraise=True,
        )

    def line_stream(self, job_id: str) -> connect:
        """The WebSocket a job's lines go over (`async with`: a ClientConnection). Uncompressed: lines are
        small and the link is usually local; deflate cost CPU on both ends for every frame."""
        return connect(f"{self._ws_base}/api/internal/jobs/{job_id}/logs/stream", compression=None, open_timeout=5,
                       additional_headers={"Authorization": f"Bearer {self._token}"}, max_size=None)

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async for attempt in self.retrying():
            with attempt:
                response = await self._http.request(method, url, **kwargs)
                if 400 <= response.status_code < 500:
                    raise FacadeRefused(response.status_code, _error_text(response))
                response.raise_for_status()
                return response
        raise AssertionError("unreachable")

    async def claim(self, claim: RunClaim) -> ClaimedRun:
        response = await self._request("POST", "/api/internal/runs/claim", json=claim.model_dump(mode="json"))
        return ClaimedRun.model_validate(response.json())

    async def download(self, path: str) -> bytes:
        return (await self._request("GET", path)).content

    async def upload_artifact(self, job_id: str, kind: str, name: str, data: bytes) -> None:
        await self._request("POST", f"/api/internal/jobs/{job_id}/artifacts", params={"kind": kind}, files={"file": (name, data)})

    async def finish(self, job_id: str, outcome: RunOutcome) -> None:
        await self._request("POST", f"/api/internal/jobs/{job_id}/finish", json=outcome.model_dump(mode="json"))

    async def prune(self, request: PruneRequest) -> PruneReport:
        response = await self._request("POST", "/api/internal/maintenance/prune", json=request.model_dump(mode="json"))
        return PruneReport.model_validate(response.json())
