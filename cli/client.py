"""The `optbox` client's session with a running facade: its public HTTP API and Socket.IO, never the database.

Contracts:
- `connect_settings()` says where and with which key: OPTBOX_URL / OPTBOX_TOKEN, else what `optbox login`
  stored (user config dir, mode 0600). No key is a `ClientError` naming OPTBOX_TOKEN before any request.
- Every failure is a `ClientError`: one line for the user and the exit code. 2 for what must be fixed before
  anything can work (no key, a refused key, an unreachable server, bad input); 1 when the server refuses
  the request itself (its own message).
- `Follower.run()` prints each stored line of a job once, in seq order, however often the connection drops:
  Socket.IO delivers lines live; on every (re)connect, and whenever a seq is missing, the lines after the
  last printed seq are replayed over HTTP (`after_seq`). It returns the job's final record.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import socketio
import typer

from optbox.protocol import JobStatus
from optbox.settings import Settings

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
CREDENTIALS_FILE = "credentials.json"
STATUS_CHECK_S = 5.0  # a follower asks for the job's status this often, in case its terminal event was missed
POLL_S = 1.0  # how often a follower without a Socket.IO connection reads the stored lines
REPLAY_PAGE = 5000
GIVE_UP_S = 600.0  # how long a follower keeps trying a facade it cannot reach


class ClientError(Exception):
    """What the user is told (one line) and the exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Unreachable(ClientError):
    """No answer at all (or a proxy's 502/503/504): fix the URL, or wait for the server."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


class ServerError(ClientError):
    """The server answered 5xx: its fault, perhaps passing (a follower waits it out)."""


def credentials_path() -> Path:
    return Path(typer.get_app_dir("optbox")) / CREDENTIALS_FILE


def stored_credentials() -> dict[str, str]:
    try:
        stored = json.loads(credentials_path().read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def store_credentials(url: str, token: str) -> Path:
    """Write the key where only this user can read it (created 0600, never world-readable in between)."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"url": url, "token": token}, handle)
    path.chmod(0o600)
    return path


@dataclass(frozen=True)
class Connection:
    url: str
    token: str


def connect_settings(settings: Settings | None = None) -> Connection:
    """OPTBOX_URL / OPTBOX_TOKEN win; else what `optbox login` stored; the URL defaults to the local facade."""
    settings = settings or Settings()
    stored = stored_credentials()
    url = settings.url if "url" in settings.model_fields_set else stored.get("url", settings.url)
    token = settings.token or stored.get("token")
    if not token:
        raise ClientError("no API key: set OPTBOX_TOKEN (or run `optbox login`)", EXIT_USAGE)
    return Connection(url.rstrip("/"), token)


def server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    return f"{error or response.text.strip()[:300] or response.reason_phrase} ({response.status_code})"


class Api:
    """The public HTTP API, each failure a ClientError."""

    def __init__(self, connection: Connection, timeout: float = 30) -> None:
        self.connection = connection
        self.http = httpx.AsyncClient(base_url=connection.url, timeout=timeout,
                                      headers={"Authorization": f"Bearer {connection.token}"})

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach optbox at {self.connection.url}: {exc or type(exc).__name__} (is it running? OPTBOX_URL)") from exc
        if response.status_code == 401:
            raise ClientError(f"{self.connection.url} refused the key: {server_message(response)}; check OPTBOX_TOKEN", EXIT_USAGE)
        if response.status_code in (502, 503, 504):  # a proxy before a restarting facade: worth another try
            raise Unreachable(f"optbox at {self.connection.url} is not answering: {server_message(response)}")
        if response.status_code >= 500:
            raise ServerError(server_message(response))
        if response.is_error:
            raise ClientError(server_message(response))
        return response

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs)).json()

    async def job(self, job_id: str) -> dict[str, Any]:
        return (await self.json("GET", f"/api/optimization/jobs/{job_id}"))["job"]

    async def lines_after(self, job_id: str, after_seq: int, limit: int = REPLAY_PAGE) -> dict[str, Any]:
        return await self.json("GET", f"/api/optimization/jobs/{job_id}/logs", params={"after_seq": after_seq, "limit": limit})

    async def cancel(self, job_id: str) -> dict[str, Any]:
        return await self.json("POST", f"/api/optimization/jobs/{job_id}/cancel")


def is_terminal(status: str) -> bool:
    return JobStatus(status).is_terminal


class Follower:
    """Prints a job's lines live, exactly once each and in order, until the job ends or the user interrupts.

    Socket.IO handlers only file what arrives and wake the loop; the loop alone prints, replays and asks for
    the job's status, so no two of those interleave. A connection is subscribed to the job's room and leaves
    the lobby (every job's events) first; then the lines after the last printed seq are replayed: a line is
    stored before it is broadcast, so connect-then-replay leaves no hole.
    """

    def __init__(self, api: Api, job_id: str, on_line: Callable[[dict[str, Any]], None],
                 on_status: Callable[[dict[str, Any]], None] | None = None, after_seq: int = 0) -> None:
        self.api = api
        self.job_id = job_id
        self.on_line = on_line
        self.on_status = on_status or (lambda _: None)
        self.last_seq = after_seq
        self.held: dict[int, dict[str, Any]] = {}  # arrived over Socket.IO, not printed yet
        self.wake = asyncio.Event()
        self.interrupted = asyncio.Event()
        self.reconnected = False
        self.ended = False
        # handle_sigint=False: Ctrl-C is ours to handle (cancel the run), not a reason for the library to end every task
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=3, handle_sigint=False)
        self.sio.on("connect", self._connected)
        self.sio.on("optimization:log", self._line)
        self.sio.on("optimization:status", self._status)
        for event in ("optimization:completed", "optimization:failed", "optimization:cancelled"):
            self.sio.on(event, self._ended)

    # --- Socket.IO handlers: file and wake, nothing else --------------------------------------
    async def _connected(self) -> None:
        self.reconnected = True
        self.wake.set()

    async def _line(self, data: dict[str, Any]) -> None:
        if isinstance(data, dict) and data.get("jobId") == self.job_id and isinstance(data.get("seq"), int):
            if data["seq"] > self.last_seq:
                self.held[data["seq"]] = data
                self.wake.set()

    async def _status(self, data: dict[str, Any]) -> None:
        if isinstance(data, dict) and data.get("jobId") == self.job_id:
            self.on_status(data)

    async def _ended(self, data: dict[str, Any]) -> None:
        if isinstance(data, dict) and data.get("jobId") == self.job_id:
            self.ended = True
            self.wake.set()

    # --- the loop -------------------------------------------------------------------------
    async def run(self) -> dict[str, Any] | None:
        """The job's final record; None when interrupted (SIGINT)."""
        await self.api.job(self.job_id)  # a wrong URL, key or job id fails here, at once
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self._interrupt)
        try:
            await self._connect()
            return await self._follow()
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            await self.sio.disconnect()

    def _interrupt(self) -> None:
        self.interrupted.set()
        self.wake.set()

    async def _connect(self) -> None:
        """Live lines over Socket.IO; without them (say, a proxy that refuses WebSockets) the follower polls."""
        try:
            await self.sio.connect(self.api.connection.url, auth={"token": self.api.connection.token},
                                   transports=["websocket"], wait_timeout=10)
        except socketio.exceptions.ConnectionError as exc:
            typer.echo(f"optbox: no live lines over Socket.IO ({exc}); reading them every {POLL_S:g} s", err=True)

    async def _follow(self) -> dict[str, Any] | None:
        next_check = next_poll = 0.0
        unreachable_since: float | None = None
        while not self.interrupted.is_set():
            try:
                if self.reconnected and self.sio.connected:
                    self.reconnected = False
                    await self.sio.call("optimization:subscribe", {"jobId": self.job_id}, timeout=10)
                    await self.sio.call("unsubscribe", "optimization", timeout=10)  # the lobby carries every job's events
                    await self._replay()
                self._print_held()
                if self.held:  # a seq is missing: the store has it
                    await self._replay()
                if not self.sio.connected and time.monotonic() >= next_poll:  # no live lines meanwhile
                    next_poll = time.monotonic() + POLL_S
                    await self._replay()
                if self.ended or time.monotonic() >= next_check:
                    next_check = time.monotonic() + STATUS_CHECK_S
                    job = await self.api.job(self.job_id)
                    if is_terminal(job["status"]):
                        await self._replay()  # a job ends after its lines are stored
                        return job
                    self.ended = False
                unreachable_since = None
            except (Unreachable, ServerError, socketio.exceptions.SocketIOError):  # the facade restarting: wait for it
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since > GIVE_UP_S:
                    raise
                self.reconnected = True  # replay once it answers again
                await asyncio.sleep(0.5)
                continue
            wake_at = next_check if self.sio.connected else min(next_check, next_poll)
            try:
                await asyncio.wait_for(self.wake.wait(), max(0.05, wake_at - time.monotonic()))
            except TimeoutError:
                pass
            self.wake.clear()
        return None

    def _print_held(self) -> None:
        while (line := self.held.pop(self.last_seq + 1, None)) is not None:
            self._print(line)
        for seq in [seq for seq in self.held if seq <= self.last_seq]:
            del self.held[seq]

    def _print(self, line: dict[str, Any]) -> None:
        self.last_seq = line["seq"]
        self.on_line(line)

    async def _replay(self) -> None:
        """Every stored line after the last printed one, in order; then what Socket.IO brought meanwhile."""
        while True:
            page = await self.api.lines_after(self.job_id, self.last_seq)
            for line in page["logs"]:
                if line["seq"] > self.last_seq:
                    self._print(line)
            if not page["hasMore"]:
                break
        for seq in [seq for seq in self.held if seq <= self.last_seq]:
            del self.held[seq]
        self._print_held()
        if self.held:  # lines broadcast after the page was read; they come next time
            self.wake.set()
