"""A flow's lines over one WebSocket: `/api/internal/jobs/{job_id}/logs/stream`.

The protocol (the flow's side is `flows/shipper.py`):
- the flow sends `LogBatch` JSON frames, in seq order, without waiting for answers;
- the facade stores everything that has arrived since its last commit as one batch (`store_then_broadcast`:
  stored, committed, then broadcast) and answers one `LogBatchAck` whose `max_seq` is the last seq of
  that batch: every line through it is stored;
- a refusal closes the socket with code 4000 + the HTTP status it would have had (4401, 4403, 4404,
  4422) and the error as the reason; anything else that ends the socket (a restart, code 1011 for an
  error while storing) is the flow's cue to reconnect and send every unacknowledged line again, which
  is harmless: lines are stored once per (job, seq).

Over HTTP (`POST …/logs`, still served) a batch waited for the previous one's answer; here the next
lines are on their way while the facade stores the last ones, so a line waits for at most one commit.
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from api.auth import Role, authorize
from api.context import Facade
from api.errors import ApiError
from api.runs import require_job, store_then_broadcast
from optbox.protocol import LogBatch, LogBatchAck, LogLine
from storage.models import JobRun

log = logging.getLogger(__name__)

REFUSAL_CODE_BASE = 4000
# Lines stored (and their events built) at once: a flood's frames merged without a bound held the lines of
# eight frames at once per run, and the facade's RSS after bench cases b and g stayed ~60 MB higher.
GROUP_MAX_LINES = 2000
_ENDED = None  # what the reader queues once the flow has hung up


async def serve_line_stream(facade: Facade, websocket: WebSocket, job_id: str) -> None:
    await websocket.accept()
    try:
        await authorize(facade, websocket, Role.worker)
        async with facade.db.session() as session:
            job = await require_job(session, job_id)
            await session.commit()  # ends the read: no snapshot held while the model is quiet
            await _store_as_it_arrives(facade, session, websocket, job)
    except ApiError as exc:
        await _close(websocket, REFUSAL_CODE_BASE + exc.status_code, exc.error)
    except ValidationError as exc:
        await _close(websocket, REFUSAL_CODE_BASE + 422, f"invalid log batch: {exc.errors(include_url=False)[0]['msg']}")
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("line stream of job %s failed; the flow resends what was not acknowledged", job_id)
        await _close(websocket, 1011, "error while storing lines")


async def _store_as_it_arrives(facade: Facade, session: AsyncSession, websocket: WebSocket, job: JobRun) -> None:
    """One session for the stream, the job read again only at its first lines: a batch costs its INSERT and
    commit, not a read of the job first (the only columns written here, last_seq and what reports set, come
    from this flow). A flow opens its stream while it claims the run; the first read is the job as the claim
    left it (its status and attempt are in the progress events lines bring)."""
    arrived: asyncio.Queue[bytes | None] = asyncio.Queue()
    reader = asyncio.create_task(_read_frames(websocket, arrived), name=f"line-stream-{job.job_id}")
    try:
        ended, claimed = False, False
        while not ended:
            lines: list[LogLine] = []
            frame = await arrived.get()
            while True:  # what came in during the last commit goes in this one, up to GROUP_MAX_LINES
                if frame is _ENDED:
                    ended = True
                    break
                lines += LogBatch.model_validate_json(frame).lines
                if len(lines) >= GROUP_MAX_LINES or arrived.empty():
                    break
                frame = arrived.get_nowait()
            if lines:
                if not claimed:
                    await session.refresh(job)
                    claimed = True
                await store_then_broadcast(facade, session, job, lines)
                await websocket.send_bytes(LogBatchAck(stored=len(lines), max_seq=lines[-1].seq).model_dump_json().encode())
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def _read_frames(websocket: WebSocket, arrived: asyncio.Queue[bytes | None]) -> None:
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            arrived.put_nowait(message["bytes"] if message.get("bytes") is not None else message["text"].encode())
    finally:
        arrived.put_nowait(_ENDED)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.CONNECTED and websocket.client_state == WebSocketState.CONNECTED:
        try:
            await websocket.close(code, reason.encode()[:120].decode(errors="ignore"))
        except (RuntimeError, WebSocketDisconnect, OSError):  # the flow hung up meanwhile
            pass
