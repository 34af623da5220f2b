"""Socket.IO: rooms, subscriptions, and the one mapping from job changes to events.

Events (payload keys camelCase, as the original dashboard's clients expect):
  optimization:log        {jobId, modelType, seq, level, stream, message, timestamp}
  optimization:started    {jobId, modelType, modelName, modelVersion, attempt, startedAt}
  optimization:status     {jobId, modelType, status, progress, attempt}
  optimization:completed  {jobId, modelType, status, objectiveValue, resultsCount, durationMs}
  optimization:failed     {jobId, modelType, status, error}
  optimization:cancelled  {jobId, modelType, status}
Each goes to rooms `optimization`, `job:<jobId>`, `model:<type>`; a client in
several of them gets it once.

Replicas: with OPTBOX_REDIS_URL every emit goes through python-socketio's
AsyncRedisManager (Redis pub/sub), so a client connected to any API replica gets
the events of runs whose lines reached another one. Without it the in-memory
manager serves one process. Live delivery is best effort either way; lines are
stored before they are emitted, so a client that missed some (its replica died,
Redis blinked) replays them with GET /jobs/{id}/logs?after_seq=N.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from http.cookies import SimpleCookie
from typing import Any

import socketio

from optbox.protocol import JobStatus, LogLine
from optbox.settings import Settings
from storage.models import JobRun

LOBBY = "optimization"
SESSION_COOKIE = "optbox_session"  # the page's HttpOnly sign-in cookie (set by api/routes/auth.py)


def job_rooms(job_id: str, model_type: str) -> list[str]:
    return [LOBBY, f"job:{job_id}", f"model:{model_type}"]


async def _refuse_everyone(_: str | None) -> bool:
    return False


def _handshake_token(environ: dict, auth: Any) -> str | None:
    """The key from the `auth` payload ({token}) or, for the page, the session cookie."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"]
    cookies = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    return cookies[SESSION_COOKIE].value if SESSION_COOKIE in cookies else None


def _subscription_rooms(data: Any) -> list[str]:
    data = data if isinstance(data, dict) else {}
    rooms = []
    if job_id := data.get("jobId"):
        rooms.append(f"job:{job_id}")
    if model_type := data.get("modelType"):
        rooms.append(f"model:{model_type}")
    return rooms


def client_manager_for(settings: Settings) -> socketio.AsyncManager | None:
    """Redis pub/sub between replicas when OPTBOX_REDIS_URL is set; else the in-process default."""
    if not settings.redis_url:
        return None
    return socketio.AsyncRedisManager(settings.redis_url, channel=settings.redis_channel)


class Realtime:
    @classmethod
    def for_settings(cls, settings: Settings) -> Realtime:
        return cls(client_manager=client_manager_for(settings), cors_origins=settings.cors_origins)

    def __init__(self, client_manager: socketio.AsyncManager | None = None, cors_origins: list[str] | None = None) -> None:
        self.allowed_origins = set(cors_origins or [])
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=self._origin_allowed, client_manager=client_manager)
        self.authenticate: Callable[[str | None], Awaitable[bool]] = _refuse_everyone
        self._register_handlers()

    def _origin_allowed(self, origin: str, environ: dict) -> bool:
        """Browsers may connect from this server's own origin or a configured one (OPTBOX_CORS_ORIGINS)."""
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own or origin in self.allowed_origins

    def _register_handlers(self) -> None:
        sio = self.sio

        @sio.event
        async def connect(sid, environ, auth=None):
            if not await self.authenticate(_handshake_token(environ, auth)):
                raise socketio.exceptions.ConnectionRefusedError("unauthorized: pass auth {token} or sign in first")
            await sio.enter_room(sid, LOBBY)
            await sio.emit("connected", {"sid": sid, "rooms": [LOBBY]}, to=sid)

        @sio.on("optimization:subscribe")
        async def optimization_subscribe(sid, data=None):
            rooms = _subscription_rooms(data)
            for room in rooms:
                await sio.enter_room(sid, room)
            return {"ok": True, "rooms": rooms}

        @sio.on("optimization:unsubscribe")
        async def optimization_unsubscribe(sid, data=None):
            rooms = _subscription_rooms(data)
            for room in rooms:
                await sio.leave_room(sid, room)
            return {"ok": True, "rooms": rooms}

        @sio.on("subscribe")
        async def subscribe(sid, room=None):
            if isinstance(room, str) and room:
                await sio.enter_room(sid, room)
                return {"ok": True, "room": room}
            return {"ok": False, "error": "room must be a non-empty string"}

        @sio.on("unsubscribe")
        async def unsubscribe(sid, room=None):
            if isinstance(room, str) and room:
                await sio.leave_room(sid, room)
            return {"ok": True, "room": room}

    async def _emit(self, event: str, payload: dict[str, Any], job_id: str, model_type: str) -> None:
        await self.sio.emit(event, payload, to=job_rooms(job_id, model_type))

    async def lines(self, job_id: str, model_type: str, lines: Sequence[LogLine]) -> None:
        rooms = job_rooms(job_id, model_type)
        for line in lines:
            await self.sio.emit("optimization:log", {
                "jobId": job_id, "modelType": model_type, "seq": line.seq, "level": line.level.value,
                "stream": line.stream.value, "message": line.message, "timestamp": line.timestamp.isoformat(),
            }, to=rooms)

    async def progress(self, job: JobRun) -> None:
        await self._emit("optimization:status", {
            "jobId": job.job_id, "modelType": job.model_type, "status": job.status, "progress": job.progress, "attempt": job.attempt,
        }, job.job_id, job.model_type)

    async def queued(self, job_id: str, model_type: str, position: int) -> None:
        """A run waiting for a slot of its type, and its place in line (1 = starts next)."""
        await self._emit("optimization:status", {
            "jobId": job_id, "modelType": model_type, "status": JobStatus.pending.value, "queued": True, "queuePosition": position,
        }, job_id, model_type)

    async def job_changed(self, job: JobRun) -> None:
        """Announce the status `job` just moved to."""
        status = JobStatus(job.status)
        base = {"jobId": job.job_id, "modelType": job.model_type, "status": job.status, "attempt": job.attempt}
        if status == JobStatus.running:
            await self._emit("optimization:started", {
                **base, "modelName": job.model_name, "modelVersion": job.model_version,
                "flowRunId": job.flow_run_id, "startedAt": job.started_at.isoformat() if job.started_at else None,
            }, job.job_id, job.model_type)
        elif status == JobStatus.success:
            await self._emit("optimization:completed", {
                **base, "objectiveValue": job.objective_value, "resultsCount": job.results_count, "durationMs": job.duration_ms,
            }, job.job_id, job.model_type)
        elif status == JobStatus.failed:
            await self._emit("optimization:failed", {**base, "error": job.error_message}, job.job_id, job.model_type)
        elif status == JobStatus.cancelled:
            await self._emit("optimization:cancelled", base, job.job_id, job.model_type)
        await self.progress(job)
