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

Batched clients: a client that connects with `batch: true` in its auth payload gets, instead of one
`optimization:log` per line, one event per job per window (`batch_window`: 20 ms, longer for hundreds of
viewers; the first lines after a quiet window go at once, lines that arrive within a window wait for its
end; a batch is split at BATCH_MAX_BYTES). A job's pending lines go before any of its job events, so
`completed` follows its last batch:
  optimization:logs       {jobId, modelType, lines: [{seq, level, stream, message, timestamp}, …]}  (seq order)
  optimization:replay     {jobId, modelType, afterSeq}  (it fell behind: fetch GET /jobs/{id}/logs?after_seq=afterSeq)
It sits in the same rooms under the `batch:` prefix, so one emit reaches every batched viewer and
python-socketio encodes its packet once for all of them. A client whose unsent packets pile up past
MAX_BACKLOG (a slow network, a frozen tab) is not sent that job's batches until it has drained to a
quarter of that; it is told once, with `optimization:replay`, where its live lines stopped. Nothing is
skipped silently: every line is stored before it is emitted, and the next batch it gets skips ahead.
Job events (started, status, completed, …) reach batched and per-line clients alike.

Replicas: with OPTBOX_REDIS_URL every emit goes through python-socketio's
AsyncRedisManager (Redis pub/sub), so a client connected to any API replica gets
the events of runs whose lines reached another one. Without it the in-memory
manager serves one process. Live delivery is best effort either way; lines are
stored before they are emitted, so a client that missed some (its replica died,
Redis blinked) replays them with GET /jobs/{id}/logs?after_seq=N.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import engineio
import socketio

from optbox.protocol import JobStatus, LogLine
from optbox.settings import Settings
from storage.models import JobRun

logger = logging.getLogger(__name__)

LOBBY = "optimization"
SESSION_COOKIE = "optbox_session"  # the page's HttpOnly sign-in cookie (set by api/routes/auth.py)
BATCH_PREFIX = "batch:"
NAMESPACE = "/"
# A batch holds at most about this many bytes of lines (a stored group larger than that goes as several)
BATCH_MAX_BYTES = 64 * 1024
LINE_OVERHEAD_BYTES = 100  # seq, level, stream and timestamp of a line in JSON
# Unsent engine.io packets of one client past which it stops getting a job's batches and is told to replay:
# at most MAX_BACKLOG × BATCH_MAX_BYTES (4 MB) held for it, and at 1,000 lines/s about a second behind
MAX_BACKLOG = 64
# A job's batches go at most once per window. A batch costs one websocket write per viewer, so the window
# grows with the viewers it reaches: about BATCH_WRITES_PER_S writes a second for the job whatever their
# number (20 ms for up to 80 viewers, 75 ms for 300), within MIN/MAX.
MIN_BATCH_WINDOW_S = 0.02
MAX_BATCH_WINDOW_S = 0.1
BATCH_WRITES_PER_S = 4000


def job_rooms(job_id: str, model_type: str) -> list[str]:
    return [LOBBY, f"job:{job_id}", f"model:{model_type}"]


def batched(rooms: list[str]) -> list[str]:
    return [BATCH_PREFIX + room for room in rooms]


def _wants_batches(auth: Any) -> bool:
    return isinstance(auth, dict) and auth.get("batch") is True


def _chunks(lines: Sequence[LogLine]) -> list[Sequence[LogLine]]:
    """`lines` in runs of about BATCH_MAX_BYTES: a browser parses a batch at once, and a client's backlog,
    counted in packets, stays a measure of bytes."""
    chunks, start, size = [], 0, 0
    for index, line in enumerate(lines):
        size += len(line.message) + LINE_OVERHEAD_BYTES
        if size > BATCH_MAX_BYTES and index > start:
            chunks.append(lines[start:index])
            start, size = index, len(line.message) + LINE_OVERHEAD_BYTES
    chunks.append(lines[start:])
    return chunks


def batch_window(viewers: int) -> float:
    """Seconds between two batches of a job that reach `viewers` clients."""
    return min(MAX_BATCH_WINDOW_S, max(MIN_BATCH_WINDOW_S, viewers / BATCH_WRITES_PER_S))


def line_payload(line: LogLine) -> dict[str, Any]:
    return {"seq": line.seq, "level": line.level.value, "stream": line.stream.value, "message": line.message,
            "timestamp": line.timestamp.isoformat()}


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


@dataclass
class PendingBatch:
    """A job's lines stored and not yet sent to batched clients, and the task that sends them."""

    model_type: str
    lines: list[LogLine] = field(default_factory=list)
    sender: asyncio.Task | None = None
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)  # one batch at a time: batches in seq order


class Realtime:
    @classmethod
    def for_settings(cls, settings: Settings) -> Realtime:
        return cls(client_manager=client_manager_for(settings), cors_origins=settings.cors_origins)

    def __init__(self, client_manager: socketio.AsyncManager | None = None, cors_origins: list[str] | None = None) -> None:
        self.allowed_origins = set(cors_origins or [])
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=self._origin_allowed, client_manager=client_manager)
        # in-memory manager: this process has every client, so an emit to rooms nobody here is in can be skipped
        # (python-socketio encodes the packet before it looks for recipients)
        self._local_only = client_manager is None
        self.authenticate: Callable[[str | None], Awaitable[bool]] = _refuse_everyone
        self._batched: set[str] = set()  # sids of clients that asked for batches
        self._told_to_replay: dict[tuple[str, str], int] = {}  # (sid, job id) → the seq it was told to replay after
        self._pending: dict[str, PendingBatch] = {}  # job id → its lines waiting for the batch window
        self._register_handlers()

    def _rooms_of(self, sid: str, rooms: list[str]) -> list[str]:
        """The rooms a client joins when it asks for `rooms`: under the batch prefix for batched clients."""
        return batched(rooms) if sid in self._batched else rooms

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
            if _wants_batches(auth):
                self._batched.add(sid)
            for room in self._rooms_of(sid, [LOBBY]):
                await sio.enter_room(sid, room)
            await sio.emit("connected", {"sid": sid, "rooms": [LOBBY], "batch": sid in self._batched}, to=sid)

        @sio.event
        async def disconnect(sid, *_):
            self._batched.discard(sid)
            for key in [key for key in self._told_to_replay if key[0] == sid]:
                del self._told_to_replay[key]

        @sio.on("optimization:subscribe")
        async def optimization_subscribe(sid, data=None):
            rooms = _subscription_rooms(data)
            for room in self._rooms_of(sid, rooms):
                await sio.enter_room(sid, room)
            return {"ok": True, "rooms": rooms}

        @sio.on("optimization:unsubscribe")
        async def optimization_unsubscribe(sid, data=None):
            rooms = _subscription_rooms(data)
            for room in self._rooms_of(sid, rooms):
                await sio.leave_room(sid, room)
            return {"ok": True, "rooms": rooms}

        @sio.on("subscribe")
        async def subscribe(sid, room=None):
            if isinstance(room, str) and room:
                for joined in self._rooms_of(sid, [room]):
                    await sio.enter_room(sid, joined)
                return {"ok": True, "room": room}
            return {"ok": False, "error": "room must be a non-empty string"}

        @sio.on("unsubscribe")
        async def unsubscribe(sid, room=None):
            if isinstance(room, str) and room:
                for joined in self._rooms_of(sid, [room]):
                    await sio.leave_room(sid, joined)
            return {"ok": True, "room": room}

    async def _emit(self, event: str, payload: dict[str, Any], job_id: str, model_type: str) -> None:
        await self._send_pending(job_id)
        rooms = job_rooms(job_id, model_type)
        await self._broadcast(rooms + batched(rooms), event, payload)

    async def lines(self, job_id: str, model_type: str, lines: Sequence[LogLine]) -> None:
        """Broadcast stored lines (seq order): one event per line to per-line clients now, and to batched clients
        in the job's next batch (at once when its last batch went a window ago)."""
        if not lines:
            return
        rooms = job_rooms(job_id, model_type)
        if self._heard_in(rooms):
            for line in lines:
                await self._broadcast(rooms, "optimization:log", {"jobId": job_id, "modelType": model_type, **line_payload(line)})
        if not self._heard_in(batched(rooms)) and job_id not in self._pending:
            return
        pending = self._pending.setdefault(job_id, PendingBatch(model_type))
        pending.lines.extend(lines)
        if pending.sender is None:
            pending.sender = asyncio.create_task(self._send_batches(job_id), name=f"batches of {job_id}")

    async def _send_batches(self, job_id: str) -> None:
        """Send the job's pending lines, then again once per window while more arrive; end after a quiet window."""
        pending = self._pending[job_id]
        try:
            while pending.lines:
                viewers = await self._send_pending(job_id)
                await asyncio.sleep(batch_window(viewers))
        except Exception:  # live delivery is best effort: the lines are stored, clients replay them by after_seq
            logger.exception("batched lines of job %s were not broadcast", job_id)
        finally:
            if self._pending.get(job_id) is pending:
                del self._pending[job_id]

    async def _send_pending(self, job_id: str) -> int:
        """Send the job's pending lines to its batched clients; how many clients they reached."""
        pending = self._pending.get(job_id)
        if pending is None:
            return 0
        reached = 0
        async with pending.sending:
            lines, pending.lines = pending.lines, []
            model_type = pending.model_type
            batch_rooms = batched(job_rooms(job_id, model_type))
            for chunk in _chunks(lines) if lines else ():
                behind = await self._hold_back_slow_clients(batch_rooms, job_id, model_type, chunk[0].seq)
                reached = await self._broadcast(batch_rooms, "optimization:logs", {
                    "jobId": job_id, "modelType": model_type, "lines": [line_payload(line) for line in chunk]}, skip=behind)
        return reached

    async def _broadcast(self, rooms: list[str], event: str, payload: dict[str, Any], skip: list[str] | None = None) -> int:
        """Send `event` to everyone in `rooms` but `skip`; the clients of this process it reached.

        Without Redis this process has every client: the packet is encoded once and put on each client's queue in
        turn (a put on engine.io's unbounded queue does not wait). python-socketio's `emit` makes a task per
        client per event and waits for them all, which made per-line events cost a loop pass each. With Redis,
        `emit` publishes to the other replicas too."""
        if not self._local_only:
            await self.sio.emit(event, payload, to=rooms, skip_sid=skip or None)
            return 0
        encoded = socketio.packet.Packet(socketio.packet.EVENT, namespace=NAMESPACE, data=[event, payload]).encode()
        message = engineio.packet.Packet(engineio.packet.MESSAGE, encoded)
        skipped = set(skip or ())
        reached = 0
        for sid, eio_sid in self.sio.manager.get_participants(NAMESPACE, rooms):
            if sid not in skipped:
                await self.sio.eio.send_packet(eio_sid, message)
                reached += 1
        return reached

    def _heard_in(self, rooms: list[str]) -> bool:
        """Whether an emit to `rooms` can reach anyone: always through a pub/sub manager (other replicas' clients)."""
        return not self._local_only or next(iter(self.sio.manager.get_participants(NAMESPACE, rooms)), None) is not None

    async def _hold_back_slow_clients(self, rooms: list[str], job_id: str, model_type: str, first_seq: int) -> list[str]:
        """Batched clients of this process that are too far behind to be sent more of `job_id` now; each is told
        once where its live lines stopped, and gets batches again once it has drained."""
        behind = []
        for sid, eio_sid in self.sio.manager.get_participants(NAMESPACE, rooms):
            backlog = self._backlog(eio_sid)
            key = (sid, job_id)
            if key in self._told_to_replay:
                if backlog > MAX_BACKLOG // 4:
                    behind.append(sid)
                else:
                    del self._told_to_replay[key]  # drained: live again, from this batch on
            elif backlog > MAX_BACKLOG:
                self._told_to_replay[key] = first_seq - 1
                behind.append(sid)
                await self.sio.emit("optimization:replay", {"jobId": job_id, "modelType": model_type, "afterSeq": first_seq - 1}, to=sid)
        return behind

    def _backlog(self, eio_sid: str) -> int:
        """Packets queued for a client and not yet written to its connection."""
        socket = self.sio.eio.sockets.get(eio_sid)
        return socket.queue.qsize() if socket is not None else 0

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
